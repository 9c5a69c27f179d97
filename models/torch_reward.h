// The reward model's forward program (models/reward_spec.h declares its tensors): the byte
// transformer's body, the hidden state at each sequence's first end-of-text token, and the
// reward head. Training code only: pulls in LibTorch.
#ifndef TAILOR_MODELS_TORCH_REWARD_H_
#define TAILOR_MODELS_TORCH_REWARD_H_

#include <string>

#include "models/torch_transformer.h"

namespace tailor {

class RewardProgram : public ForwardProgram {
 public:
  explicit RewardProgram(const TorchModel& m);
  // [B, T] token ids, each row holding an end-of-text token (padding after it is never read:
  // attention is causal) → [B] rewards.
  at::Tensor Forward(const at::Tensor& ids) override;

 private:
  TransformerProgram body_;
  std::string head_;
  at::Tensor w_, directions_, mix_, user_, user_proj_;
};

}  // namespace tailor

#endif  // TAILOR_MODELS_TORCH_REWARD_H_
