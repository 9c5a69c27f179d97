// Streaming aggregation of client updates. Updates are added as they arrive; the cohort's
// result is produced at the round's end. Implementations hold O(parameters) state when the rule
// allows it, never every update.
//
// Pure computation: no I/O, no torch, no transport. Not thread-safe; the round serializes calls.
#ifndef TAILOR_AGGREGATION_AGGREGATOR_H_
#define TAILOR_AGGREGATION_AGGREGATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"

namespace tailor {

class StreamingAggregator {
 public:
  virtual ~StreamingAggregator() = default;

  // Starts a new round over updates with the schema of `schema` (values ignored).
  virtual absl::Status Begin(const ParameterSet& schema) = 0;
  // Adds one update with aggregation weight `weight` (> 0, finite). On error the aggregate is
  // unchanged, as if the update had never been offered.
  virtual absl::Status Add(const ParameterSet& update, double weight) = 0;
  // The same, for a caller that hands the update over: a rule may keep it past the call (the
  // weighted mean buffers updates to fold several in one pass). Acceptance is still decided
  // here. Default: Add.
  // `max_abs` (optional): each tensor's largest |value|, when the caller already computed it
  // (the wire check does); a rule that needs it then does not read the update again.
  virtual absl::Status AddShared(std::shared_ptr<const ParameterSet> update, double weight,
                                 const std::vector<double>* max_abs = nullptr) {
    if (update == nullptr) return absl::InvalidArgumentError("null update");
    return Add(*update, weight);
  }
  // The aggregate. FAILED_PRECONDITION when no update was added.
  virtual absl::StatusOr<ParameterSet> Finalize() = 0;
  virtual int64_t num_updates() const = 0;
};

struct AggregatorOptions {
  // "weighted_mean" (FedAvg; O(P) memory), "median" or "trimmed_mean" (coordinate-wise robust
  // rules; K × P memory, aggregation/coordinate_robust.h), "krum" or "multi_krum"
  // (aggregation/krum.h; K × P + K² memory).
  std::string name = "weighted_mean";
  // trimmed_mean: share of updates dropped at each end per coordinate, in [0, 0.5).
  double trim_fraction = 0.1;
  // weighted_mean: when > 0, each update is first scaled down to at most this L2 norm
  // (aggregation/norm_bounded.h). 0: no bound.
  double norm_bound = 0;
  // krum / multi_krum: f, the Byzantine clients tolerated (-1: a fifth of the updates received).
  int byzantine_clients = -1;
  // multi_krum: how many best-scored updates are averaged (0: updates received - f).
  int multi_krum_selected = 0;
  // weighted_mean: bytes of updates that may wait to be folded in one pass over the sums
  // (aggregation/weighted_mean.h); 0 folds each update on arrival.
  int64_t buffer_bytes = int64_t{4} << 30;
};

// INVALID_ARGUMENT naming the first tensor of `schema` that is not float32/float64: every rule
// checks this in Begin.
absl::Status CheckFloatingSchema(const ParameterSet& schema);

// INVALID_ARGUMENT for an unknown name or an invalid hyperparameter.
absl::StatusOr<std::unique_ptr<StreamingAggregator>> CreateAggregator(
    const AggregatorOptions& options);
inline absl::StatusOr<std::unique_ptr<StreamingAggregator>> CreateAggregator(
    const std::string& name) {
  AggregatorOptions options;
  options.name = name;
  return CreateAggregator(options);
}

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_AGGREGATOR_H_
