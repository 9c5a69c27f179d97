// L2 clipping of a client's shared update: the step that bounds one client's influence on the
// sum (its sensitivity) to the clip norm S, on which every privacy guarantee rests.
#ifndef TAILOR_PRIVACY_CLIPPING_H_
#define TAILOR_PRIVACY_CLIPPING_H_

#include "absl/status/statusor.h"
#include "core/parameter_set.h"

namespace tailor {

// Scales `update` in place so that its L2 norm over all tensors is at most `clip_norm` (> 0,
// finite); an update already within the norm is left bit for bit unchanged. Returns the norm
// before clipping. INVALID_ARGUMENT for a non-finite value (naming the tensor), a non-floating
// tensor or a bad clip norm; the update is then unchanged.
absl::StatusOr<double> ClipToNorm(ParameterSet* update, double clip_norm);

}  // namespace tailor

#endif  // TAILOR_PRIVACY_CLIPPING_H_
