// The coordinator's side of secure aggregation for one round: given the key advertisements the
// cohort uploaded instead of its updates, it runs the protocol's three exchanges through the
// transport (share keys, masked input, unmasking; privacy/secagg_protocol.h), each with a
// deadline, and returns the sum of the surviving clients' inputs. Clients that fail or stay
// silent in a phase are that phase's dropouts; the protocol recovers from them while at least
// `threshold` clients remain and aborts (FAILED_PRECONDITION, nothing learnt) below.
#ifndef TAILOR_SERVER_SECURE_SUM_H_
#define TAILOR_SERVER_SECURE_SUM_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/env.h"
#include "privacy/secagg_protocol.h"
#include "server/transport.h"

namespace tailor {

struct SecureSumOptions {
  SecAggRoundConfig config;
  ClientTransport* transport = nullptr;  // not owned
  Env* env = nullptr;                    // the clock of the deadlines
  absl::Duration phase_timeout = absl::Minutes(10);
};

// What happened, also when the round aborted.
struct SecureSumStats {
  int64_t advertised = 0;      // clients in the roster
  int64_t shared = 0;          // clients whose shares reached every neighbour
  int64_t masked_inputs = 0;   // clients whose input is in the sum
  int64_t helpers = 0;         // clients that answered the unmasking request
  // Clients that shared keys but sent no masked input: their masks were removed from the sum.
  int64_t recovered_dropouts = 0;
  // Protocol bytes after training, in both directions (advertisements are the upload's).
  int64_t bytes_to_clients = 0;
  int64_t bytes_from_clients = 0;
};

struct SecureSum {
  std::vector<uint64_t> words;     // the sum modulo 2^bits
  std::vector<int64_t> survivors;  // whose inputs it holds, ascending
};

// `advertisements`: client id -> serialized v1::SecAggAdvertisement (from the round's uploads).
absl::StatusOr<SecureSum> RunSecureSum(const std::map<int64_t, std::string>& advertisements,
                                       const SecureSumOptions& options, SecureSumStats* stats);

}  // namespace tailor

#endif  // TAILOR_SERVER_SECURE_SUM_H_
