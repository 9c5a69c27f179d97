// Simulated Byzantine clients: a fixed, seeded subset of the virtual clients replaces its honest
// update with a malicious one before upload, so the aggregation rules can be measured against
// an attack (the robust-aggregation benchmark of docs/benchmarks.md). Simulation only: the
// deployed client has no such path.
//
// Attacks (on the shared update Δ the client computed honestly):
//   sign_flip   -scale · Δ      (the classic "reverse the gradient, amplified" attack)
//   gaussian    N(0, scale²) in every coordinate, independent of Δ
#ifndef TAILOR_SIM_BYZANTINE_H_
#define TAILOR_SIM_BYZANTINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client_runtime.h"

namespace tailor {

struct AttackOptions {
  // Share of the clients that attack, in [0, 0.5). floor(fraction · clients) of them.
  double byzantine_fraction = 0;
  // "sign_flip" or "gaussian".
  std::string kind = "sign_flip";
  // > 0: the amplification (sign_flip) or the noise's standard deviation (gaussian).
  double scale = 100;
  uint64_t seed = 0;
};

class ByzantineClients {
 public:
  // INVALID_ARGUMENT for an unknown kind or an out-of-range fraction or scale.
  static absl::StatusOr<ByzantineClients> Create(int64_t num_clients, const AttackOptions& options);

  bool IsByzantine(int64_t client_id) const;
  int64_t count() const { return count_; }
  const AttackOptions& options() const { return options_; }

  // Replaces `upload`'s payload by the attack's update (same schema); the weight is kept, so the
  // attacker claims its real sample count. Deterministic in (seed, client, round).
  absl::Status Corrupt(UpdateUpload* upload) const;

 private:
  ByzantineClients(AttackOptions options, std::vector<bool> byzantine, int64_t count)
      : options_(std::move(options)), byzantine_(std::move(byzantine)), count_(count) {}

  AttackOptions options_;
  std::vector<bool> byzantine_;
  int64_t count_;
};

}  // namespace tailor

#endif  // TAILOR_SIM_BYZANTINE_H_
