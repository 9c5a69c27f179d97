// What a client feeds secure aggregation and what the coordinator makes of the sum.
//
// The input is the weighted mean's own fixed-point arithmetic (aggregation/weighted_mean.h):
// one word per shared value, round(Δ[i] · w · 2^32), then round(w · 2^32) for the denominator
// and round(w · loss · 2^16) for the round's mean training loss, all modulo 2^64. Sums modulo
// 2^64 equal the aggregator's int64 sums when those cannot overflow, which SecAggFits proves
// from the cohort, the clip norm and the largest weight; so the mean the coordinator writes is
// bit-identical to the plain weighted mean of the same updates.
#ifndef TAILOR_PRIVACY_SECAGG_INPUT_H_
#define TAILOR_PRIVACY_SECAGG_INPUT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/parameter_set.h"
#include "privacy/dp_sum.h"
#include "privacy/secagg_masking.h"
#include "privacy/secure_random.h"

namespace tailor {

// The field every secure-aggregation round sums in: 64 bits, the weighted mean's 2^-32 grid.
SecAggField SecAggWeightedField();

// Words per input for a shared schema of `values` elements.
size_t SecAggInputLength(int64_t values);

// OK when `cohort` inputs, each a delta of L2 norm <= clip_norm with a weight <= max_weight, sum
// without wrapping (cohort · max_weight · clip_norm < 2^31, and the weights' sum < 2^31);
// INVALID_ARGUMENT naming the numbers and what would fit otherwise.
absl::Status SecAggFits(int64_t cohort, double clip_norm, int64_t max_weight);

// A client's input. INVALID_ARGUMENT for a weight outside (0, max_weight], a loss that is not
// finite, or a value beyond clip_norm (the delta must be clipped first).
absl::StatusOr<std::vector<uint64_t>> EncodeSecAggInput(const ParameterSet& delta, double weight,
                                                        double loss, double clip_norm,
                                                        int64_t max_weight);

// Under central DP (privacy/dp_sum.h): the input is the update in the round's grid units, as
// DpSumAggregator::Add would sum it (clipped to S', divided by g, rounded), then 1 (the client's
// count: DP-FedAvg's mean is unweighted) and its within-clip-norm bit (adaptive clipping), all
// modulo 2^64. The coordinator adds the noise to the unmasked sum. INVALID_ARGUMENT for a value
// that is not finite.
absl::StatusOr<std::vector<uint64_t>> EncodeSecAggDpInput(const ParameterSet& delta,
                                                          bool within_clip_norm,
                                                          const DpSumGrid& grid);

// Distributed DP: adds discrete Gaussian noise of variance `sigma_squared` (grid units) to each
// of the first `values` words (modulo 2^64), drawn from `rng` (the device's CSPRNG).
absl::Status AddSecAggDpNoise(int64_t values, uint64_t sigma_squared, SecureRandom& rng,
                              std::vector<uint64_t>* words);

// The field of a DP round: the grid's, with just enough bits that the sum of `max_clients`
// inputs cannot wrap — each value within S/g + 1 grid steps, plus 12 standard deviations of a
// client's noise share (distributed DP; a larger draw has probability below 1e-32), the count
// and within-clip words at most max_clients — and one bit for the sign. Masked inputs then
// take ceil(bits/8) bytes a value instead of 8 (SecAggWordBytes). 64 bits when more than 62
// would be needed.
SecAggField SecAggDpField(int64_t max_clients, const DpSumGrid& grid,
                          uint64_t noise_sigma_squared);

struct SecAggDpSum {
  std::vector<int64_t> sums;  // grid units, one per shared value
  int64_t count = 0;          // clients summed
  int64_t within_clip = 0;    // of them, within the clip norm
};
// `bits`: the field's (SecAggDpField); residues of 2^(bits-1) or more are negative.
absl::StatusOr<SecAggDpSum> DecodeSecAggDpSum(int64_t values, absl::Span<const uint64_t> sum,
                                              int bits = 64);

struct SecAggMean {
  ParameterSet mean_delta;
  double weight_sum = 0;
  double train_loss = 0;  // weighted mean over the summed clients
};

// The mean from the sum of inputs (`schema`: the shared parameters' names and shapes).
absl::StatusOr<SecAggMean> DecodeSecAggSum(const ParameterSet& schema,
                                           absl::Span<const uint64_t> sum);

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECAGG_INPUT_H_
