// How a language model samples text (models/torch_transformer.h does it). Torch-free, so the
// trainer's interface and the command line can name it.
#ifndef TAILOR_MODELS_GENERATION_OPTIONS_H_
#define TAILOR_MODELS_GENERATION_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tailor {

// Scores whole texts (a reward model's rewards), one per text.
using TextScorer =
    std::function<absl::StatusOr<std::vector<double>>(const std::vector<std::string>& texts)>;

// The reward of a text that grows one byte at a time: what steers reward-guided decoding.
// A reward model implements it with its own key/value cache of the text so far
// (LocalTrainer::RewardGuide), so scoring k next bytes costs about 2k transformer positions
// instead of k whole texts; WholeTextGuide adapts any TextScorer by rescoring whole texts.
class TextGuide {
 public:
  virtual ~TextGuide() = default;
  // The rewards of the text so far followed by each of `tokens`: a byte (< 256), or any other
  // token for the text as it stands (the end of text).
  virtual absl::StatusOr<std::vector<double>> ScoreNext(const std::vector<int>& tokens) = 0;
  // The text so far grows by `byte` (< 256).
  virtual absl::Status Append(int byte) = 0;
  // Transformer positions the guide has evaluated (its compute), counting each token of each
  // sequence it read once.
  virtual int64_t positions() const = 0;
};

// A TextGuide over a TextScorer: each ScoreNext scores whole texts (the text so far with each
// token), which costs the texts' lengths plus `overhead_per_text` positions each (e.g. 2 for a
// reward model's BOS and EOS, plus a prompt's length).
std::unique_ptr<TextGuide> WholeTextGuide(TextScorer scorer, int64_t overhead_per_text);

struct GenerationOptions {
  // Logits are divided by it; 0 picks the most likely byte (greedy).
  double temperature = 1.0;
  // Sample only among the k most likely tokens; 0: all.
  int top_k = 0;
  // Sample only among the most likely tokens whose probabilities sum to at least top_p
  // (nucleus sampling, Holtzman et al. 2020); 1: all.
  double top_p = 1.0;
  int max_bytes = 200;
  uint64_t seed = 1;
  // Reward-guided decoding in the spirit of ARGS (Khanov et al. 2024), when a TextGuide is
  // given: at each step the guide_top_k most likely next tokens are rescored as
  // logit + guide_weight · reward(the text so far with that token; the end token scores the
  // text as it stands), and the next token is drawn from those scores at the temperature
  // (the best one at 0). Costs one reward evaluation of guide_top_k continuations per byte.
  double guide_weight = 1.0;
  int guide_top_k = 8;
};

}  // namespace tailor

#endif  // TAILOR_MODELS_GENERATION_OPTIONS_H_
