#include "models/torch_transformer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/types.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "models/causal_attention.h"
#include "models/transformer_spec.h"

namespace tailor {

TransformerProgram::TransformerProgram(const TorchModel& m)
    : d_model_(m.spec().options.transformer.d_model),
      heads_(m.spec().options.transformer.heads),
      context_(m.spec().options.transformer.context),
      lora_scale_(m.spec().options.lora.rank > 0
                      ? m.spec().options.lora.alpha / m.spec().options.lora.rank
                      : 0.0),
      tok_emb_(m.Find("tok_emb.weight")),
      pos_emb_(m.Find("pos_emb.weight")),
      ln_f_w_(m.Find("ln_f.weight")),
      ln_f_b_(m.Find("ln_f.bias")),
      lm_head_(m.Find("lm_head.weight")) {
  for (int i = 0; i < m.spec().options.transformer.layers; ++i) {
    const std::string b = absl::StrCat("blocks.", i, ".");
    Block block;
    block.ln1_w = m.Find(b + "ln1.weight");
    block.ln1_b = m.Find(b + "ln1.bias");
    block.ln2_w = m.Find(b + "ln2.weight");
    block.ln2_b = m.Find(b + "ln2.bias");
    block.q = Find(m, b + "attn.q");
    block.k = Find(m, b + "attn.k");
    block.v = Find(m, b + "attn.v");
    block.o = Find(m, b + "attn.o");
    block.fc = Find(m, b + "mlp.fc");
    block.proj = Find(m, b + "mlp.proj");
    blocks_.push_back(std::move(block));
  }
}

TransformerProgram::Projection TransformerProgram::Find(const TorchModel& m,
                                                        const std::string& name) const {
  Projection p;
  p.weight = m.Find(name + ".weight");
  auto params = m.named_parameters(true);
  if (const at::Tensor* t = params.find(name + ".bias")) p.bias = *t;
  if (const at::Tensor* t = params.find(name + ".lora_A")) p.lora_a = *t;
  if (const at::Tensor* t = params.find(name + ".lora_B")) p.lora_b = *t;
  if (const at::Tensor* t = params.find(name + ".plora_A")) p.plora_a = *t;
  if (const at::Tensor* t = params.find(name + ".plora_B")) p.plora_b = *t;
  return p;
}

at::Tensor TransformerProgram::Apply(const Projection& p, const at::Tensor& x) const {
  at::Tensor y = p.bias.defined() ? torch::linear(x, p.weight, p.bias) : torch::linear(x, p.weight);
  if (!adapters_enabled_) return y;
  if (p.lora_a.defined()) {
    // W x + (alpha / r) · B (A x): the low-rank path costs r·(in + out) per token.
    y = y + torch::linear(torch::linear(x, p.lora_a), p.lora_b) * lora_scale_;
  }
  if (p.plora_a.defined()) {
    y = y + torch::linear(torch::linear(x, p.plora_a), p.plora_b) * lora_scale_;
  }
  return y;
}

at::Tensor TransformerProgram::Forward(const at::Tensor& ids) {
  return torch::linear(Hidden(ids, nullptr), lm_head_);
}

at::Tensor TransformerProgram::Extend(const at::Tensor& ids, Cache* cache) {
  return torch::linear(Hidden(ids, cache), lm_head_);
}

at::Tensor TransformerProgram::Hidden(const at::Tensor& ids, Cache* cache) {
  TORCH_CHECK(ids.dim() == 2, "token ids must be [batch, time], got ", ids.sizes());
  const int64_t batch = ids.size(0), n = ids.size(1);
  const int64_t past = cache == nullptr ? 0 : cache->length;
  TORCH_CHECK(past + n <= context_, "sequence of ", past + n, " tokens exceeds the context of ",
              context_);
  const int64_t head_dim = d_model_ / heads_;
  at::Tensor h = torch::embedding(tok_emb_, ids) +
                 pos_emb_.narrow(0, past, n).unsqueeze(0);
  // With a cache, query i (absolute position past + i) sees keys 0..past + i.
  at::Tensor mask;
  if (cache != nullptr) mask = torch::ones({n, past + n}, torch::kBool).triu(past + 1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  auto split_heads = [&](const at::Tensor& x) {
    return x.view({batch, n, heads_, head_dim}).transpose(1, 2);
  };
  if (cache != nullptr && cache->keys.empty()) {
    cache->keys.resize(blocks_.size());
    cache->values.resize(blocks_.size());
  }
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    at::Tensor a = torch::layer_norm(h, {d_model_}, b.ln1_w, b.ln1_b, 1e-5);
    at::Tensor attended;
    if (cache == nullptr) {
      // The whole sequence at once (training, scoring): the fused causal kernel.
      attended = CausalSelfAttention(Apply(b.q, a), Apply(b.k, a), Apply(b.v, a), heads_);
    } else {
      at::Tensor q = split_heads(Apply(b.q, a));
      at::Tensor k = split_heads(Apply(b.k, a));
      at::Tensor v = split_heads(Apply(b.v, a));
      if (cache->keys[i].defined()) {
        k = torch::cat({cache->keys[i], k}, 2);
        v = torch::cat({cache->values[i], v}, 2);
      }
      cache->keys[i] = k.detach();
      cache->values[i] = v.detach();
      at::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
      scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
      attended = torch::matmul(torch::softmax(scores, -1), v)
                     .transpose(1, 2)
                     .reshape({batch, n, d_model_});
    }
    h = h + Apply(b.o, attended);
    at::Tensor m = torch::layer_norm(h, {d_model_}, b.ln2_w, b.ln2_b, 1e-5);
    h = h + Apply(b.proj, torch::gelu(Apply(b.fc, m)));
  }
  if (cache != nullptr) cache->length = past + n;
  return torch::layer_norm(h, {d_model_}, ln_f_w_, ln_f_b_, 1e-5);
}

namespace {

// Picks the next token from one row of logits with the options' filters.
int SampleToken(const at::Tensor& logits_row, const GenerationOptions& o, Rng& rng) {
  at::Tensor row = logits_row.to(torch::kFloat64).contiguous();
  const double* l = row.data_ptr<double>();
  const int v = static_cast<int>(row.numel());
  if (o.temperature == 0) return static_cast<int>(std::max_element(l, l + v) - l);
  std::vector<int> order(static_cast<size_t>(v));
  std::iota(order.begin(), order.end(), 0);
  // Most likely first; ties by token id so the order is deterministic.
  std::sort(order.begin(), order.end(), [l](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  size_t keep = o.top_k > 0 ? std::min<size_t>(static_cast<size_t>(o.top_k), order.size())
                            : order.size();
  std::vector<double> p(keep);
  const double top = l[order[0]];
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i] = std::exp((l[order[i]] - top) / o.temperature);
  if (o.top_p < 1.0) {
    double mass = 0;
    size_t i = 0;
    while (i < keep && mass < o.top_p * total) mass += p[i++];
    keep = std::max<size_t>(1, i);
    total = mass;
  }
  double u = rng.Uniform() * total;
  for (size_t i = 0; i < keep; ++i) {
    if ((u -= p[i]) < 0) return order[i];
  }
  return order[keep - 1];
}

// Reward-guided choice of the next token (GenerationOptions::guide_weight).
absl::StatusOr<int> GuidedToken(const at::Tensor& logits_row, const GenerationOptions& o,
                                TextGuide& guide, Rng& rng) {
  at::Tensor row = logits_row.to(torch::kFloat64).contiguous();
  const double* l = row.data_ptr<double>();
  const int v = static_cast<int>(row.numel());
  std::vector<int> order(static_cast<size_t>(v));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [l](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  // The candidates: the most likely bytes and the end token (a stray BOS is never one).
  std::vector<int> tokens;
  for (int t : order) {
    if (static_cast<int>(tokens.size()) == o.guide_top_k) break;
    if (t == kBosToken) continue;
    tokens.push_back(t);
  }
  absl::StatusOr<std::vector<double>> rewards = guide.ScoreNext(tokens);
  if (!rewards.ok()) return rewards.status();
  if (rewards->size() != tokens.size()) {
    return absl::InternalError("the guide scored a different number of texts");
  }
  std::vector<double> score(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    score[i] = l[tokens[i]] + o.guide_weight * (*rewards)[i];
  }
  const size_t best = static_cast<size_t>(std::max_element(score.begin(), score.end()) - score.begin());
  if (o.temperature == 0) return tokens[best];
  std::vector<double> p(tokens.size());
  double total = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    total += p[i] = std::exp((score[i] - score[best]) / o.temperature);
  }
  double u = rng.Uniform() * total;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if ((u -= p[i]) < 0) return tokens[i];
  }
  return tokens[best];
}

}  // namespace

namespace {

// The byte transformer of `model`, when `options` and `prompt` suit it.
absl::StatusOr<TransformerProgram*> GenerationProgram(TorchModel& model, const std::string& prompt,
                                                      const GenerationOptions& options) {
  auto* program = dynamic_cast<TransformerProgram*>(model.program());
  if (program == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("architecture '", model.spec().architecture,
                                                   "' is not a language model"));
  }
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature must be >= 0, got ", options.temperature));
  }
  if (options.top_k < 0) return absl::InvalidArgumentError("top_k must be >= 0");
  if (!(options.top_p > 0 && options.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", options.top_p));
  }
  if (options.max_bytes < 0) return absl::InvalidArgumentError("max_bytes must be >= 0");
  if (static_cast<int64_t>(prompt.size()) + 1 > program->context()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt of ", prompt.size(),
                                                   " bytes does not fit the context of ",
                                                   program->context(), " tokens"));
  }
  return program;
}

at::Tensor PromptIds(const std::string& prompt) {
  std::vector<int64_t> ids = {kBosToken};
  for (unsigned char c : prompt) ids.push_back(c);
  return torch::tensor(ids, torch::kInt64).unsqueeze(0);
}

at::Tensor OneToken(int token) {
  return torch::tensor({static_cast<int64_t>(token)}, torch::kInt64).unsqueeze(0);
}

}  // namespace

absl::StatusOr<std::string> Generate(TorchModel& model, const std::string& prompt,
                                     const GenerationOptions& options, TextGuide* guide) {
  absl::StatusOr<TransformerProgram*> found = GenerationProgram(model, prompt, options);
  if (!found.ok()) return found.status();
  TransformerProgram* program = *found;
  if (guide != nullptr && (options.guide_top_k < 1 || !std::isfinite(options.guide_weight))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "guided decoding needs guide_top_k >= 1 and a finite guide_weight, got ",
        options.guide_top_k, " and ", options.guide_weight));
  }
  try {
    torch::InferenceMode guard;
    model.eval();
    TransformerProgram::Cache cache;
    at::Tensor logits = program->Extend(PromptIds(prompt), &cache);
    Rng rng(options.seed);
    std::string out;
    while (static_cast<int>(out.size()) < options.max_bytes) {
      int token;
      if (guide != nullptr) {
        absl::StatusOr<int> guided = GuidedToken(logits[0][logits.size(1) - 1], options, *guide, rng);
        if (!guided.ok()) return guided.status();
        token = *guided;
        if (token < 256) {
          absl::Status grown = guide->Append(token);
          if (!grown.ok()) return grown;
        }
      } else {
        token = SampleToken(logits[0][logits.size(1) - 1], options, rng);
      }
      if (token >= 256) break;  // end of text (or a stray BOS)
      out.push_back(static_cast<char>(token));
      if (cache.length >= program->context()) break;
      logits = program->Extend(OneToken(token), &cache);
    }
    return out;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("generation: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::string> GenerateMixture(absl::Span<TorchModel* const> models,
                                            absl::Span<const double> weights,
                                            const std::string& prompt,
                                            const GenerationOptions& options) {
  if (models.empty() || models.size() != weights.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a mixture needs one weight per model, got ",
                                                   models.size(), " models and ",
                                                   weights.size(), " weights"));
  }
  std::vector<TransformerProgram*> programs;
  for (size_t k = 0; k < models.size(); ++k) {
    if (!(weights[k] >= 0) || !std::isfinite(weights[k])) {
      return absl::InvalidArgumentError(
          absl::StrCat("mixture weight ", k, " must be finite and >= 0, got ", weights[k]));
    }
    absl::StatusOr<TransformerProgram*> found = GenerationProgram(*models[k], prompt, options);
    if (!found.ok()) return found.status();
    if (k > 0 && (*found)->context() != programs[0]->context()) {
      return absl::InvalidArgumentError("the mixture's models have different contexts");
    }
    programs.push_back(*found);
  }
  try {
    torch::InferenceMode guard;
    std::vector<TransformerProgram::Cache> caches(programs.size());
    auto mixed_next = [&](const at::Tensor& input) {
      at::Tensor mixed;
      for (size_t k = 0; k < programs.size(); ++k) {
        at::Tensor logits = programs[k]->Extend(input, &caches[k]);
        at::Tensor log_p = torch::log_softmax(logits[0][logits.size(1) - 1], -1) * weights[k];
        mixed = mixed.defined() ? mixed + log_p : log_p;
      }
      return mixed;
    };
    for (TorchModel* m : models) m->eval();
    at::Tensor row = mixed_next(PromptIds(prompt));
    Rng rng(options.seed);
    std::string out;
    while (static_cast<int>(out.size()) < options.max_bytes) {
      const int token = SampleToken(row, options, rng);
      if (token >= 256) break;  // end of text (or a stray BOS)
      out.push_back(static_cast<char>(token));
      if (caches[0].length >= programs[0]->context()) break;
      row = mixed_next(OneToken(token));
    }
    return out;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("mixture generation: ", e.what_without_backtrace()));
  }
}

}  // namespace tailor
