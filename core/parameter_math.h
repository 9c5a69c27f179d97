// Element-wise arithmetic over parameter sets with identical schemas (float32/float64 only).
#ifndef TAILOR_CORE_PARAMETER_MATH_H_
#define TAILOR_CORE_PARAMETER_MATH_H_

#include "absl/status/statusor.h"
#include "core/parameter_set.h"

namespace tailor {

// after - before, tensor by tensor, computed in `after`'s buffers (pass it with std::move to
// avoid a copy). INVALID_ARGUMENT when the schemas differ or a tensor is not floating point.
absl::StatusOr<ParameterSet> Difference(ParameterSet after, const ParameterSet& before);

// dst += scale * delta. Same schema required.
absl::Status AddScaled(ParameterSet* dst, const ParameterSet& delta, double scale);

// Merges two disjoint sets in the order of `order_like` (every name of the result must be in
// `order_like`). Used to rebuild a full model from shared + personal parts.
absl::StatusOr<ParameterSet> MergeInOrder(const ParameterSet& a, const ParameterSet& b,
                                          const std::vector<std::string>& order_like);

// Euclidean norm over all floating tensors.
double L2Norm(const ParameterSet& set);

// Multiplies every float32/float64 value by `factor` in place (float32 products rounded once).
void Scale(ParameterSet* set, double factor);

}  // namespace tailor

#endif  // TAILOR_CORE_PARAMETER_MATH_H_
