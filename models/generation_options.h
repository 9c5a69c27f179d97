// How a language model samples text (models/torch_transformer.h does it). Torch-free, so the
// trainer's interface and the command line can name it.
#ifndef TAILOR_MODELS_GENERATION_OPTIONS_H_
#define TAILOR_MODELS_GENERATION_OPTIONS_H_

#include <cstdint>

namespace tailor {

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
};

}  // namespace tailor

#endif  // TAILOR_MODELS_GENERATION_OPTIONS_H_
