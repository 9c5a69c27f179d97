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
  bool mean_pool_;
  at::Tensor w_, directions_, mix_, user_, user_proj_;
};

// DPO's implicit reward (models/reward_spec.h, "byte_dpo"): beta times the candidate's
// log-likelihood under the model with its adapters minus under the base without them. Still a
// TransformerProgram, so the tuned model generates.
class DpoProgram : public TransformerProgram {
 public:
  explicit DpoProgram(const TorchModel& m);
  // [B, T] rows as the preference batcher builds them (BOS, [prompt, BOS,] candidate, EOS,
  // padding) → [B] rewards; the candidate's tokens through its EOS are scored, the prompt
  // conditions them and is not scored.
  at::Tensor Forward(const at::Tensor& ids) override;

 private:
  // Per row, the summed log-probability of the candidate's tokens under the program as it is.
  at::Tensor CandidateLogLikelihood(const at::Tensor& ids, const at::Tensor& scored);
  double beta_;
};

}  // namespace tailor

#endif  // TAILOR_MODELS_TORCH_REWARD_H_
