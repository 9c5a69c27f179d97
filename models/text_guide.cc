// WholeTextGuide (models/generation_options.h): incremental guidance over a whole-text scorer.
#include <utility>

#include "absl/strings/str_cat.h"
#include "models/generation_options.h"

namespace tailor {
namespace {

class WholeTexts : public TextGuide {
 public:
  WholeTexts(TextScorer scorer, int64_t overhead) : scorer_(std::move(scorer)), overhead_(overhead) {}

  absl::StatusOr<std::vector<double>> ScoreNext(const std::vector<int>& tokens) override {
    std::vector<std::string> texts;
    texts.reserve(tokens.size());
    for (int t : tokens) {
      texts.push_back(t >= 0 && t < 256 ? text_ + static_cast<char>(t) : text_);
      positions_ += static_cast<int64_t>(texts.back().size()) + overhead_;
    }
    return scorer_(texts);  // the decoder checks the count
  }

  absl::Status Append(int byte) override {
    if (byte < 0 || byte >= 256) {
      return absl::InvalidArgumentError(absl::StrCat("only bytes extend a text, got token ", byte));
    }
    text_.push_back(static_cast<char>(byte));
    return absl::OkStatus();
  }

  int64_t positions() const override { return positions_; }

 private:
  TextScorer scorer_;
  int64_t overhead_;
  std::string text_;
  int64_t positions_ = 0;
};

}  // namespace

std::unique_ptr<TextGuide> WholeTextGuide(TextScorer scorer, int64_t overhead_per_text) {
  return std::make_unique<WholeTexts>(std::move(scorer), overhead_per_text);
}

}  // namespace tailor
