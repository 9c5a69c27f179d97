// FedAvg's weighted mean Σ wₖ Δₖ / Σ wₖ, exactly independent of arrival order.
//
// Each product wₖ·Δₖ[i] is computed in double (exact for integer weights below 2^29 and
// float32 values), rounded once to a fixed-point integer with 32 fractional bits, and summed in
// int64. Integer addition is associative, so any permutation of the same updates gives
// bit-identical results (the simulation and the network agree bitwise whatever order updates
// arrive in). Precision: each term is rounded to 2^-33 absolute, so the mean's error is at most
// K·2^-33 / Σw — far below float32 resolution for realistic updates. Range: |Σ wₖ Δₖ[i]| must
// stay below 2^31; a larger sum is refused with OUT_OF_RANGE (and the update not counted).
#ifndef TAILOR_AGGREGATION_WEIGHTED_MEAN_H_
#define TAILOR_AGGREGATION_WEIGHTED_MEAN_H_

#include <vector>

#include "aggregation/aggregator.h"
#include "core/buffer_pool.h"

namespace tailor {

class WeightedMeanAggregator : public StreamingAggregator {
 public:
  static constexpr int kFractionBits = 32;

  absl::Status Begin(const ParameterSet& schema) override;
  absl::Status Add(const ParameterSet& update, double weight) override;
  absl::StatusOr<ParameterSet> Finalize() override;
  int64_t num_updates() const override { return num_updates_; }

 private:
  ParameterSet schema_;
  bool begun_ = false;
  // One fixed-point accumulator per element, all tensors flattened; recycled between rounds.
  std::vector<int64_t, LargeBufferAllocator<int64_t>> sums_;
  __int128 weight_sum_ = 0;  // fixed point, kFractionBits
  int64_t num_updates_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_WEIGHTED_MEAN_H_
