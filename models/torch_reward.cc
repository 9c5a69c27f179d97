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
  const auto row = std::find(stream->scored_bytes.begin(), stream->scored_bytes.end(), byte);
  if (row != stream->scored_bytes.end()) {
    // The byte was just read as the first token of a scored row: keep that row's state.
    const int64_t r = row - stream->scored_bytes.begin();
    const int64_t length = stream->cache.length + 1;
    for (size_t i = 0; i < stream->cache.keys.size(); ++i) {
      stream->cache.keys[i] = stream->scored.keys[i].narrow(0, r, 1).narrow(2, 0, length);
      stream->cache.values[i] = stream->scored.values[i].narrow(0, r, 1).narrow(2, 0, length);
    }
    stream->cache.length = length;
    stream->hidden_sum = stream->hidden_sum + stream->scored_hidden[r][0];
  } else {
    const at::Tensor one = torch::full({1, 1}, byte, torch::kInt64);
    stream->hidden_sum = stream->hidden_sum + body_.Hidden(one, &stream->cache)[0][0];
    stream->positions += 1;
  }
  stream->scored_bytes.clear();
  stream->scored = TransformerProgram::Cache();
  stream->scored_hidden = at::Tensor();
}

at::Tensor RewardProgram::ScoreAfter(Stream* stream, const at::Tensor& rows,
                                     const at::Tensor& read_at) {
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
  stream->scored = std::move(shared);
  stream->scored_hidden = hidden;
  const at::Tensor row = torch::arange(k, torch::kInt64);
  at::Tensor pooled;
  if (mean_pool_) {
    // Through each row's end token only (what follows it is padding).
    const at::Tensor through = torch::cumsum(hidden, 1).index({row, read_at});
    pooled = (stream->hidden_sum.unsqueeze(0) + through) /
             (read_at + (stream->cache.length + 1)).to(hidden.scalar_type()).unsqueeze(1);
  } else {
    pooled = hidden.index({row, read_at});
  }
  return Head(pooled);
}

at::Tensor RewardProgram::ScoreNext(Stream* stream, const std::vector<int64_t>& tokens) {
  // One batch a step: a byte that still fits is read as [byte, EOS] (reward at position 1);
  // the end token, or any byte once the text is cut, as [EOS, padding] (reward at 0: the text
  // as it stands). A full cache leaves room for the end token only.
  const bool room = stream->cache.length < body_.context() - 1;
  const int64_t k = static_cast<int64_t>(tokens.size());
  std::vector<int64_t> rows, read_at;
  stream->scored_bytes.clear();
  for (int64_t t : tokens) {
    const bool grows = room && t >= 0 && t < 256;
    rows.push_back(grows ? t : kEosToken);
    if (room) rows.push_back(kEosToken);
    read_at.push_back(grows ? 1 : 0);
    stream->scored_bytes.push_back(grows ? t : -1);
  }
  return ScoreAfter(stream, torch::tensor(rows, torch::kInt64).view({k, room ? 2 : 1}),
                    torch::tensor(read_at, torch::kInt64))
      .to(torch::kFloat64);
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
