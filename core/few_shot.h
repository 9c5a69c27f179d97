// Few-shot curve points for new clients (eval.new_client_shots): how many of its training
// examples a held-out client may use to fit its personal part, for each point of the curve.
// One check for the config loader and for a client handed the points by a coordinator.
#ifndef TAILOR_CORE_FEW_SHOT_H_
#define TAILOR_CORE_FEW_SHOT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace tailor {

inline constexpr int kMaxFewShotPoints = 8;
inline constexpr int kMaxFewShotExamples = 100000;

// OK when there are at most kMaxFewShotPoints points, increasing, each in
// [1, kMaxFewShotExamples]; else INVALID_ARGUMENT saying which point is wrong.
absl::Status CheckFewShotPoints(absl::Span<const int> shots);

// The view a point is reported under: "shots_<n>".
std::string FewShotViewName(int shots);

}  // namespace tailor

#endif  // TAILOR_CORE_FEW_SHOT_H_
