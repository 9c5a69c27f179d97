#include "aggregation/norm_bounded.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/status_macros.h"

namespace tailor {

NormBoundedAggregator::NormBoundedAggregator(double bound,
                                             std::unique_ptr<StreamingAggregator> inner)
    : bound_(bound), inner_(std::move(inner)) {}

namespace {

// `update` scaled by `factor`, as a new set the inner rule may keep.
std::shared_ptr<const ParameterSet> ScaledCopy(const ParameterSet& update, double factor) {
  auto scaled = std::make_shared<ParameterSet>(update);
  Scale(scaled.get(), factor);
  return scaled;
}

}  // namespace

absl::StatusOr<double> NormBoundedAggregator::NormOf(const ParameterSet& update) const {
  absl::Status finite = update.CheckFinite();
  if (!finite.ok()) return Annotate(finite, "update");
  return L2Norm(update);
}

absl::Status NormBoundedAggregator::AddClipped(const ParameterSet& update, double norm,
                                               double weight) {
  absl::Status added = inner_->AddShared(ScaledCopy(update, bound_ / norm), weight);
  if (added.ok()) ++clipped_;
  return added;
}

absl::Status NormBoundedAggregator::Add(const ParameterSet& update, double weight) {
  TAILOR_ASSIGN_OR_RETURN(const double norm, NormOf(update));
  if (norm <= bound_) return inner_->Add(update, weight);
  return AddClipped(update, norm, weight);
}

absl::Status NormBoundedAggregator::AddShared(std::shared_ptr<const ParameterSet> update,
                                              double weight, const std::vector<double>* max_abs) {
  if (update == nullptr) return absl::InvalidArgumentError("null update");
  TAILOR_ASSIGN_OR_RETURN(const double norm, NormOf(*update));
  if (norm <= bound_) return inner_->AddShared(std::move(update), weight, max_abs);
  return AddClipped(*update, norm, weight);
}

}  // namespace tailor
