#include "models/torch_reward.h"

#include <torch/types.h>
#include <torch/utils.h>

#include "models/transformer_spec.h"

namespace tailor {

RewardProgram::RewardProgram(const TorchModel& m)
    : body_(m), head_(m.spec().options.reward.head),
      mean_pool_(m.spec().options.reward.pool == "mean") {
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
  at::Tensor pooled;  // [B, d]
  if (mean_pool_) {
    // Positions through the end token (the padding after it is left out).
    const at::Tensor through_end =
        torch::arange(ids.size(1), torch::kInt64).unsqueeze(0).le(end.to(torch::kInt64).unsqueeze(1));
    const at::Tensor weights = through_end.to(hidden.scalar_type());  // [B, T]
    pooled = (hidden * weights.unsqueeze(2)).sum(1) / weights.sum(1, /*keepdim=*/true);
  } else {
    const at::Tensor rows = torch::arange(ids.size(0), torch::kInt64);
    pooled = hidden.index({rows, end});
  }
  if (head_ == "linear") return torch::mv(pooled, w_);
  if (head_ == "pal") return torch::mv(torch::mm(pooled, directions_.t()), torch::softmax(mix_, 0));
  if (head_ == "lore") return torch::mv(torch::mm(pooled, directions_.t()), mix_);
  return torch::mv(pooled, w_ + torch::mv(user_proj_.t(), user_));
}

DpoProgram::DpoProgram(const TorchModel& m)
    : TransformerProgram(m), beta_(m.spec().options.reward.beta) {}

at::Tensor DpoProgram::CandidateLogLikelihood(const at::Tensor& ids, const at::Tensor& scored) {
  const at::Tensor logits = TransformerProgram::Forward(ids);  // [B, T, vocabulary]
  const int64_t t = ids.size(1);
  // Token i + 1 is predicted from position i.
  const at::Tensor log_probs = torch::log_softmax(logits.narrow(1, 0, t - 1), -1)
                                   .gather(2, ids.narrow(1, 1, t - 1).unsqueeze(2))
                                   .squeeze(2);  // [B, T - 1]
  return (log_probs * scored.to(log_probs.scalar_type())).sum(1);
}

at::Tensor DpoProgram::Forward(const at::Tensor& ids) {
  const at::Tensor is_end = ids.eq(kEosToken);
  TORCH_CHECK(is_end.any(1).all().item<bool>(), "every sequence must hold an end-of-text token");
  const at::Tensor end = is_end.to(torch::kInt32).argmax(1).to(torch::kInt64).unsqueeze(1);
  const at::Tensor positions = torch::arange(ids.size(1), torch::kInt64).unsqueeze(0);
  // The candidate starts after the last BOS before its end (the row's first token, or the one
  // closing the prompt).
  const at::Tensor bos_before_end = ids.eq(kBosToken).logical_and(positions.le(end));
  const at::Tensor start = torch::where(bos_before_end, positions, torch::full_like(positions, -1))
                               .amax(1, /*keepdim=*/true) + 1;
  // Targets 1 .. T - 1 that are the candidate's tokens or its EOS.
  const at::Tensor target = positions.narrow(1, 1, ids.size(1) - 1);
  const at::Tensor scored = target.ge(start).logical_and(target.le(end));
  const at::Tensor policy = CandidateLogLikelihood(ids, scored);
  at::Tensor reference;
  {
    torch::NoGradGuard no_grad;
    set_adapters_enabled(false);
    try {
      reference = CandidateLogLikelihood(ids, scored);
    } catch (...) {
      set_adapters_enabled(true);
      throw;
    }
    set_adapters_enabled(true);
  }
  return (policy - reference) * beta_;
}

}  // namespace tailor
