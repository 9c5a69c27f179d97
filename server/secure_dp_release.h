// What a differentially private round releases under secure aggregation, from the unmasked sum
// of the clients' grid-unit inputs (privacy/secagg_input.h): the DP layer on top of the secure
// sum. Central DP: the coordinator's DP sum adds the discrete Gaussian noise, exactly as it
// would to the same updates in the clear. Distributed DP: the survivors' noise shares are in
// the sum already; nothing is added, and the release is accounted at the noise they carried.
#ifndef TAILOR_SERVER_SECURE_DP_RELEASE_H_
#define TAILOR_SERVER_SECURE_DP_RELEASE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"
#include "privacy/dp_sum.h"
#include "server/secure_sum.h"

namespace tailor {

struct SecureDpReleaseOptions {
  int field_bits = 64;              // the round's field (SecAggDpField)
  uint64_t noise_share = 0;         // each client's noise variance, grid units; 0: central DP
  double noise_multiplier = 0;      // the configured z
  double clip_norm = 0;             // S
};

struct SecureDpRelease {
  ParameterSet mean_delta;
  int64_t count = 0;                 // clients in the sum
  int64_t within_clip = 0;           // of them, within the clip norm
  double carried_noise_multiplier = 0;  // distributed DP: >= z; central: z
};

// `dp_sum`: the round's aggregator, begun, with nothing added. FAILED_PRECONDITION when the sum
// counts other than one per input summed (a client that counted itself more than once): then
// nothing of it may be released.
absl::StatusOr<SecureDpRelease> ReleaseSecureDpSum(const SecureSum& sum, int64_t values,
                                                   const SecureDpReleaseOptions& options,
                                                   DpSumAggregator& dp_sum);

// The release of a round with nothing to unmask: the noise alone (as a Poisson round with
// nobody sampled releases), accounted at the configured z.
absl::StatusOr<SecureDpRelease> ReleaseNoiseAlone(const SecureDpReleaseOptions& options,
                                                  DpSumAggregator& dp_sum);

}  // namespace tailor

#endif  // TAILOR_SERVER_SECURE_DP_RELEASE_H_
