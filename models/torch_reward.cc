#include "models/torch_reward.h"

#include <torch/types.h>

#include "models/transformer_spec.h"

namespace tailor {

RewardProgram::RewardProgram(const TorchModel& m)
    : body_(m), head_(m.spec().options.reward.head) {
  if (head_ == "linear") {
    w_ = m.Find("reward.w");
  } else if (head_ == "pal") {
    directions_ = m.Find("reward.prototypes");
    mix_ = m.Find("reward.mix");
  } else if (head_ == "lore") {
    directions_ = m.Find("reward.basis");
    mix_ = m.Find("reward.weights");
  } else {
    TORCH_CHECK(head_ == "user", "unknown reward head '", head_, "'");
    w_ = m.Find("reward.w");
    user_ = m.Find("reward.user");
    user_proj_ = m.Find("reward.user_proj");
  }
}

at::Tensor RewardProgram::Forward(const at::Tensor& ids) {
  const at::Tensor hidden = body_.Hidden(ids);  // [B, T, d]
  // The first end-of-text token of each row: argmax of a 0/1 row is its first 1.
  const at::Tensor is_end = ids.eq(kEosToken);
  TORCH_CHECK(is_end.any(1).all().item<bool>(), "every sequence must hold an end-of-text token");
  const at::Tensor end = is_end.to(torch::kInt32).argmax(1);
  const at::Tensor rows = torch::arange(ids.size(0), torch::kInt64);
  const at::Tensor pooled = hidden.index({rows, end});  // [B, d]
  if (head_ == "linear") return torch::mv(pooled, w_);
  if (head_ == "pal") return torch::mv(torch::mm(pooled, directions_.t()), torch::softmax(mix_, 0));
  if (head_ == "lore") return torch::mv(torch::mm(pooled, directions_.t()), mix_);
  return torch::mv(pooled, w_ + torch::mv(user_proj_.t(), user_));
}

}  // namespace tailor
