// Norm bounding (Sun et al., "Can You Really Backdoor Federated Learning?", 2019): each update
// whose L2 norm exceeds the bound M is scaled down to norm M before it enters the inner rule
// (the weighted mean). A malicious client can then move the aggregate by at most its weight
// share times M, however large its update. Memory: the inner rule's O(P), plus one scaled copy
// of an oversized update while it is being added.
#ifndef TAILOR_AGGREGATION_NORM_BOUNDED_H_
#define TAILOR_AGGREGATION_NORM_BOUNDED_H_

#include <memory>

#include "aggregation/aggregator.h"

namespace tailor {

class NormBoundedAggregator : public StreamingAggregator {
 public:
  // `bound` > 0 and finite.
  NormBoundedAggregator(double bound, std::unique_ptr<StreamingAggregator> inner);

  absl::Status Begin(const ParameterSet& schema) override { return inner_->Begin(schema); }
  absl::Status Add(const ParameterSet& update, double weight) override;
  absl::Status AddShared(std::shared_ptr<const ParameterSet> update, double weight,
                         const std::vector<double>* max_abs = nullptr) override;
  absl::StatusOr<ParameterSet> Finalize() override { return inner_->Finalize(); }
  int64_t num_updates() const override { return inner_->num_updates(); }
  // How many of the added updates were scaled down.
  int64_t num_clipped() const { return clipped_; }

 private:
  absl::StatusOr<double> NormOf(const ParameterSet& update) const;
  absl::Status AddClipped(const ParameterSet& update, double norm, double weight);
  const double bound_;
  std::unique_ptr<StreamingAggregator> inner_;
  int64_t clipped_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_NORM_BOUNDED_H_
