#include "models/torch_reward.h"

#include <algorithm>

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
  return Head(pooled);
}

at::Tensor RewardProgram::Head(const at::Tensor& pooled) const {
  if (head_ == "linear") return torch::mv(pooled, w_);
  if (head_ == "pal") return torch::mv(torch::mm(pooled, directions_.t()), torch::softmax(mix_, 0));
  if (head_ == "lore") return torch::mv(torch::mm(pooled, directions_.t()), mix_);
  return torch::mv(pooled, w_ + torch::mv(user_proj_.t(), user_));
}

void RewardProgram::Start(const at::Tensor& prefix, Stream* stream) {
  *stream = Stream{};
  const at::Tensor ids = prefix.narrow(1, 0, std::min<int64_t>(prefix.size(1), body_.context() - 1));
  stream->hidden_sum = body_.Hidden(ids, &stream->cache)[0].sum(0);
  stream->positions += ids.size(1);
}

void RewardProgram::Append(int64_t byte, Stream* stream) {
  TORCH_CHECK(byte >= 0 && byte < 256, "only bytes extend a text, got token ", byte);
  if (stream->cache.length >= body_.context() - 1) return;  // cut, as a long row is
  const at::Tensor one = torch::full({1, 1}, byte, torch::kInt64);
  stream->hidden_sum = stream->hidden_sum + body_.Hidden(one, &stream->cache)[0][0];
  stream->positions += 1;
}

at::Tensor RewardProgram::ScoreAfter(Stream* stream, const at::Tensor& rows) {
  const int64_t k = rows.size(0), n = rows.size(1);
  // The cache holds one sequence; each row reads it (broadcast, not copied) and the stream
  // keeps its own (Hidden replaces a copy's tensors, never the original's).
  TransformerProgram::Cache shared = stream->cache;
  for (size_t i = 0; i < shared.keys.size(); ++i) {
    shared.keys[i] = shared.keys[i].expand({k, -1, -1, -1});
    shared.values[i] = shared.values[i].expand({k, -1, -1, -1});
  }
  const at::Tensor hidden = body_.Hidden(rows, &shared);  // [k, n, d]
  stream->positions += k * n;
  at::Tensor pooled;
  if (mean_pool_) {
    pooled = (stream->hidden_sum.unsqueeze(0) + hidden.sum(1)) /
             static_cast<double>(stream->cache.length + n);
  } else {
    pooled = hidden.select(1, n - 1);
  }
  return Head(pooled);
}

at::Tensor RewardProgram::ScoreNext(Stream* stream, const std::vector<int64_t>& tokens) {
  // A byte that still fits is read as [byte, EOS]; the end token, or any byte once the text is
  // cut, as [EOS] (the text as it stands).
  const bool room = stream->cache.length < body_.context() - 1;
  std::vector<int64_t> grown, as_is;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool is_byte = tokens[i] >= 0 && tokens[i] < 256;
    (is_byte && room ? grown : as_is).push_back(static_cast<int64_t>(i));
  }
  at::Tensor rewards = torch::empty({static_cast<int64_t>(tokens.size())}, torch::kFloat64);
  if (!grown.empty()) {
    std::vector<int64_t> rows;
    for (int64_t i : grown) rows.insert(rows.end(), {tokens[static_cast<size_t>(i)], kEosToken});
    rewards.index_put_({torch::tensor(grown, torch::kInt64)},
                       ScoreAfter(stream, torch::tensor(rows, torch::kInt64).view({-1, 2}))
                           .to(torch::kFloat64));
  }
  if (!as_is.empty()) {
    const at::Tensor end = torch::full({1, 1}, kEosToken, torch::kInt64);
    rewards.index_put_({torch::tensor(as_is, torch::kInt64)},
                       ScoreAfter(stream, end).to(torch::kFloat64).expand({static_cast<int64_t>(as_is.size())}));
  }
  return rewards;
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
