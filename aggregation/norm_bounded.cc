#include "aggregation/norm_bounded.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/status_macros.h"

namespace tailor {

NormBoundedAggregator::NormBoundedAggregator(double bound,
                                             std::unique_ptr<StreamingAggregator> inner)
    : bound_(bound), inner_(std::move(inner)) {}

absl::Status NormBoundedAggregator::Add(const ParameterSet& update, double weight) {
  absl::Status finite = update.CheckFinite();
  if (!finite.ok()) return Annotate(finite, "update");
  const double norm = L2Norm(update);
  if (norm <= bound_) return inner_->Add(update, weight);
  ParameterSet scaled = update;
  const double factor = bound_ / norm;
  for (size_t t = 0; t < scaled.size(); ++t) {
    Tensor& x = scaled.entry(t).tensor;
    if (x.dtype() == DType::kFloat32) {
      for (float& v : x.f32()) v = static_cast<float>(v * factor);
    } else if (x.dtype() == DType::kFloat64) {
      for (double& v : x.f64()) v *= factor;
    }
  }
  absl::Status added = inner_->Add(scaled, weight);
  if (added.ok()) ++clipped_;
  return added;
}

}  // namespace tailor
