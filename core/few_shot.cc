#include "core/few_shot.h"

#include "absl/strings/str_cat.h"

namespace tailor {

absl::Status CheckFewShotPoints(absl::Span<const int> shots) {
  if (shots.size() > static_cast<size_t>(kMaxFewShotPoints)) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxFewShotPoints,
                                                   " few-shot points, got ", shots.size()));
  }
  for (size_t i = 0; i < shots.size(); ++i) {
    if (shots[i] < 1 || shots[i] > kMaxFewShotExamples) {
      return absl::InvalidArgumentError(absl::StrCat("few-shot point ", i, " is ", shots[i],
                                                     ": must be in [1, ", kMaxFewShotExamples,
                                                     "] examples"));
    }
    if (i > 0 && shots[i] <= shots[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("few-shot points must increase: ",
                                                     shots[i - 1], " then ", shots[i]));
    }
  }
  return absl::OkStatus();
}

std::string FewShotViewName(int shots) { return absl::StrCat("shots_", shots); }

}  // namespace tailor
