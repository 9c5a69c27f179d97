// How a language model samples text (models/torch_transformer.h does it). Torch-free, so the
// trainer's interface and the command line can name it.
#ifndef TAILOR_MODELS_GENERATION_OPTIONS_H_
#define TAILOR_MODELS_GENERATION_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tailor {

// Scores whole texts (a reward model's rewards), one per text, for reward-guided decoding.
using TextScorer =
    std::function<absl::StatusOr<std::vector<double>>(const std::vector<std::string>& texts)>;

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
  // Reward-guided decoding in the spirit of ARGS (Khanov et al. 2024), when a TextScorer is
  // given: at each step the guide_top_k most likely next tokens are rescored as
  // logit + guide_weight · reward(the text so far with that token; the end token scores the
  // text as it stands), and the next token is drawn from those scores at the temperature
  // (the best one at 0). Costs one reward evaluation of guide_top_k texts per byte.
  double guide_weight = 1.0;
  int guide_top_k = 8;
};

}  // namespace tailor

#endif  // TAILOR_MODELS_GENERATION_OPTIONS_H_
