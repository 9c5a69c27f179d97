// FedAvg's weighted mean Σ wₖ Δₖ / Σ wₖ, exactly independent of arrival order.
//
// Each product wₖ·Δₖ[i] is computed in double (exact for integer weights below 2^29 and
// float32 values), rounded once to a fixed-point integer with 32 fractional bits, and summed in
// int64. Integer addition is associative, so any permutation of the same updates gives
// bit-identical results (the simulation and the network agree bitwise whatever order updates
// arrive in). Precision: each term is rounded to 2^-33 absolute, so the mean's error is at most
// K·2^-33 / Σw — far below float32 resolution for realistic updates. Range: |Σ wₖ Δₖ[i]| must
// stay below 2^31; a larger sum is refused with OUT_OF_RANGE (and the update not counted).
//
// Speed: folding one update into P int64 sums moves 4 + 16 bytes per value (read the update,
// read and write the sum), so a one-at-a-time mean runs at a fifth of memory bandwidth. Updates
// handed over with AddShared instead wait in a buffer (up to `buffer_bytes`) and are folded
// together tile by tile, each tile of sums staying in cache while every buffered update passes
// over it: the sums' traffic is paid once per buffer, not once per update. Each update is
// checked on arrival (one read: its largest magnitude proves every term fits the fast path and
// no sum can overflow; the wire check hands it over so the update is not read twice), so
// acceptance is decided in Add, never later. The first fold writes the sums instead of adding
// to zeros, and the last one (in Finalize) writes the mean of each tile while it is in cache.
// Memory: P int64 sums plus the buffer.
#ifndef TAILOR_AGGREGATION_WEIGHTED_MEAN_H_
#define TAILOR_AGGREGATION_WEIGHTED_MEAN_H_

#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "aggregation/aggregator.h"
#include "core/buffer_pool.h"
#include "core/parameter_schema.h"

namespace tailor {

class WeightedMeanAggregator : public StreamingAggregator {
 public:
  static constexpr int kFractionBits = 32;
  // `buffer_bytes`: how many bytes of shared updates may wait to be folded together; 0 folds
  // each on arrival.
  explicit WeightedMeanAggregator(int64_t buffer_bytes = AggregatorOptions().buffer_bytes)
      : buffer_bytes_(buffer_bytes) {}

  absl::Status Begin(const ParameterSet& schema) override;
  absl::Status Add(const ParameterSet& update, double weight) override;
  absl::Status AddShared(std::shared_ptr<const ParameterSet> update, double weight,
                         const std::vector<double>* max_abs = nullptr) override;
  absl::StatusOr<ParameterSet> Finalize() override;
  int64_t num_updates() const override { return num_updates_; }

 private:
  struct Pending {
    std::shared_ptr<const ParameterSet> update;
    double scale;  // weight · 2^32
  };
  // Checks `update` (with its per-tensor max |value| when the caller has it) and charges the
  // sum bounds with it; true in *fast when its terms fit the fast path and no sum can overflow.
  absl::Status Admit(const ParameterSet& update, double weight, const std::vector<double>* max_abs,
                     bool* fast);
  // Folds one update now: the vector kernel when `fast`, else the exact loop that reports (and
  // undoes) an out-of-range term or an overflowing sum.
  absl::Status FoldNow(const ParameterSet& update, double weight, bool fast);
  // Folds the buffered updates, tile by tile. With `out`, also writes each finished tile's mean
  // into it while the tile is still in cache (the last fold, from Finalize).
  void Flush(ParameterSet* out = nullptr);
  // The sums start undefined each round: the first fold of a tile writes instead of adding, so
  // a round never pays a separate pass to zero P int64 values.
  void EnsureSumsZeroed();
  void Count(double weight);

  const int64_t buffer_bytes_;
  ParameterSchema schema_;
  bool begun_ = false;
  // One fixed-point accumulator per element, all tensors flattened; recycled between rounds.
  std::vector<int64_t, LargeBufferAllocator<int64_t>> sums_;
  std::vector<size_t> offsets_;  // where each tensor starts in sums_
  bool sums_valid_ = false;      // false until the first fold of the round
  // Per tensor: an upper bound of any |sum| in fixed-point units over everything folded or
  // buffered, so an update is proven overflow-free before it is accepted.
  std::vector<double> bound_;
  std::vector<Pending> pending_;
  std::vector<int64_t> scratch_;  // one tile of sums, for a round folded in one pass
  int64_t pending_bytes_ = 0;
  __int128 weight_sum_ = 0;  // fixed point, kFractionBits
  int64_t num_updates_ = 0;
};

// The same arithmetic outside the aggregator, for secure aggregation: a client computes its own
// terms, the coordinator learns only their sums (modulo 2^64, which equals the aggregator's
// int64 sums whenever those do not overflow) and writes the mean from them.
//
// A value's term, round(value · (weight · 2^32)), exactly as the aggregator folds it; false
// when it does not fit in int64 (or is not finite).
bool WeightedFixedPointTerm(double value, double weight, int64_t* term);
// A weight's term in the denominator, round(weight · 2^32).
int64_t WeightFixedPointTerm(double weight);
// The mean Σ terms / Σ weight terms for each element of `schema` (tensors flattened in order),
// bit-identical to what Finalize writes for the same updates. INVALID_ARGUMENT for a length
// that does not match or a weight sum <= 0.
absl::StatusOr<ParameterSet> WeightedMeanFromSums(const ParameterSet& schema,
                                                  absl::Span<const int64_t> sums,
                                                  int64_t weight_sum);

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_WEIGHTED_MEAN_H_
