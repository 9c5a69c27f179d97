#include "aggregation/coordinate_robust.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {

CoordinateRobustAggregator::CoordinateRobustAggregator(Rule rule, double trim_fraction)
    : rule_(rule), trim_fraction_(trim_fraction) {}

absl::Status CoordinateRobustAggregator::Begin(const ParameterSet& schema) {
  TAILOR_RETURN_IF_ERROR(CheckFloatingSchema(schema));
  schema_ = ParameterSchema::Of(schema);
  updates_.clear();
  return absl::OkStatus();
}

absl::Status CoordinateRobustAggregator::Add(const ParameterSet& update, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) {
    return absl::InvalidArgumentError(absl::StrCat("weight ", weight, " must be finite and > 0"));
  }
  TAILOR_RETURN_IF_ERROR(schema_.Check(update, "update"));
  TAILOR_RETURN_IF_ERROR(Annotate(update.CheckFinite(), "update"));
  updates_.push_back(update);
  return absl::OkStatus();
}

double CoordinateRobustAggregator::Combine(std::vector<double>& v) const {
  std::sort(v.begin(), v.end());
  const size_t k = v.size();
  if (rule_ == Rule::kMedian) {
    return k % 2 == 1 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
  }
  const size_t trim = static_cast<size_t>(std::floor(trim_fraction_ * static_cast<double>(k)));
  double sum = 0;
  for (size_t i = trim; i < k - trim; ++i) sum += v[i];
  return sum / static_cast<double>(k - 2 * trim);
}

absl::StatusOr<ParameterSet> CoordinateRobustAggregator::Finalize() {
  if (updates_.empty()) {
    return absl::FailedPreconditionError("no updates to aggregate: the cohort sent none");
  }
  ParameterSet out = schema_.UninitializedSet();  // every value is written below
  std::vector<double> values(updates_.size());
  for (size_t t = 0; t < out.size(); ++t) {
    Tensor& result = out.entry(t).tensor;
    const bool f32 = result.dtype() == DType::kFloat32;
    for (int64_t j = 0; j < result.numel(); ++j) {
      for (size_t u = 0; u < updates_.size(); ++u) {
        const Tensor& x = updates_[u].entry(t).tensor;
        values[u] = f32 ? static_cast<double>(x.f32()[j]) : x.f64()[j];
      }
      const double r = Combine(values);
      if (f32) {
        result.f32()[j] = static_cast<float>(r);
      } else {
        result.f64()[j] = r;
      }
    }
  }
  return out;
}

}  // namespace tailor
