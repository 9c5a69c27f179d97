#include "privacy/clipping.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/status_macros.h"

namespace tailor {
absl::StatusOr<double> ClipToNorm(ParameterSet* update, double clip_norm) {
  if (!(clip_norm > 0) || !std::isfinite(clip_norm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip norm ", clip_norm, " must be finite and > 0"));
  }
  for (const auto& e : update->entries()) {
    if (e.tensor.dtype() != DType::kFloat32 && e.tensor.dtype() != DType::kFloat64) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot clip '", e.name, "': it is not float32/float64"));
    }
  }
  TAILOR_RETURN_IF_ERROR(Annotate(update->CheckFinite(), "clipping"));
  const double norm = L2Norm(*update);
  if (norm <= clip_norm) return norm;
  // Rounding each product to float32 can leave the norm a few ulps above S; shrink the factor
  // a little more until it is not, so the bound holds exactly as computed.
  Scale(update, clip_norm / norm);
  while (L2Norm(*update) > clip_norm) Scale(update, 1 - 1e-7);
  return norm;
}

}  // namespace tailor
