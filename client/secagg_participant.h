// SecAggParticipant: a client's side of secure aggregation for its current round, the same in
// a daemon and in a virtual client. After ClientRuntime::Train it turns the upload into a key
// advertisement and keeps the masked-input-to-be (the clipped delta, weight and loss in the
// weighted mean's fixed point, privacy/secagg_input.h); each later request of the coordinator
// (a serialized v1::SecAggRequest) gets one serialized v1::SecAggReply. A new Begin forgets
// the previous round: its secrets are gone, so no later request can reveal them.
#ifndef TAILOR_CLIENT_SECAGG_PARTICIPANT_H_
#define TAILOR_CLIENT_SECAGG_PARTICIPANT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client_runtime.h"
#include "privacy/secagg_protocol.h"
#include "privacy/secure_random.h"

namespace tailor {

class SecAggParticipant {
 public:
  explicit SecAggParticipant(int64_t client_id) : id_(client_id) {}

  // `upload` (from Train under `task`, which carries the secure-aggregation parameters) loses
  // its payload, weight and loss and gains the advertisement. `random` keys this round's secrets
  // (the OS on a device; a seeded stream in a reproducible simulation).
  absl::Status Begin(const TrainTask& task, std::unique_ptr<SecureRandom> random,
                     UpdateUpload* upload);
  // One phase; INVALID_ARGUMENT / FAILED_PRECONDITION for a request out of turn, of another
  // round, or one the protocol refuses (privacy/secagg_protocol.h).
  absl::StatusOr<std::string> Handle(const std::string& request);
  // The phase this client answers next: 1 the roster, 2 its inbox, 3 the unmasking request;
  // 0 when it has none (not begun, or done). A simulation drops clients by it.
  int next_phase() const;

 private:
  enum class Phase { kIdle, kAdvertised, kShared, kMasked, kDone };
  int64_t id_;
  int64_t round_ = -1;
  Phase phase_ = Phase::kIdle;
  std::unique_ptr<SecureRandom> random_;
  std::unique_ptr<SecAggClient> client_;
  std::vector<uint64_t> input_;
  int field_bits_ = 64;
};

}  // namespace tailor

#endif  // TAILOR_CLIENT_SECAGG_PARTICIPANT_H_
