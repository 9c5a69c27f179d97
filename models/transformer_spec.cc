#include "models/transformer_spec.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

using Init = ParameterSpec::Init;

absl::Status Invalid(const std::string& option, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(option, ": ", what));
}

absl::Status CheckRange(const std::string& option, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    return Invalid(option, absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
  }
  return absl::OkStatus();
}

// Fills unset options from `defaults` and checks them.
absl::StatusOr<ModelOptions> Resolve(ModelOptions o, const TransformerOptions& defaults) {
  TransformerOptions& t = o.transformer;
  if (t.layers == 0) t.layers = defaults.layers;
  if (t.d_model == 0) t.d_model = defaults.d_model;
  if (t.heads == 0) t.heads = defaults.heads;
  if (t.context == 0) t.context = defaults.context;
  if (t.mlp_ratio == 0) t.mlp_ratio = defaults.mlp_ratio;
  if (auto s = CheckRange("transformer.layers", t.layers, 1, 64); !s.ok()) return s;
  if (auto s = CheckRange("transformer.d_model", t.d_model, 8, 4096); !s.ok()) return s;
  if (auto s = CheckRange("transformer.heads", t.heads, 1, 64); !s.ok()) return s;
  if (auto s = CheckRange("transformer.context", t.context, 8, 8192); !s.ok()) return s;
  if (auto s = CheckRange("transformer.mlp_ratio", t.mlp_ratio, 1, 16); !s.ok()) return s;
  if (t.d_model % t.heads != 0) {
    return Invalid("transformer.heads", absl::StrCat(t.heads, " heads do not divide d_model ",
                                                     t.d_model));
  }
  if (o.reward.any()) {
    return Invalid("reward", absl::StrCat("architecture '", o.architecture,
                                          "' has no reward head (byte_reward has)"));
  }
  LoraOptions& l = o.lora;
  if (auto s = CheckRange("lora.rank", l.rank, 0, t.d_model); !s.ok()) return s;
  if (!(l.alpha >= 0) || !std::isfinite(l.alpha)) {
    return Invalid("lora.alpha", absl::StrCat("must be finite and >= 0, got ", l.alpha));
  }
  if (l.rank == 0 && (!l.targets.empty() || l.alpha != 0 || l.personal_rank != 0)) {
    return Invalid("lora.rank",
                   "targets, alpha or personal_rank are set but rank is 0 (no adapters)");
  }
  if (auto s = CheckRange("lora.personal_rank", l.personal_rank, 0, t.d_model); !s.ok()) return s;
  if (l.rank > 0) {
    if (l.targets.empty()) l.targets = {"q", "v"};
    if (l.alpha == 0) l.alpha = l.rank;
    std::set<std::string> seen;
    for (const std::string& target : l.targets) {
      if (target != "q" && target != "k" && target != "v" && target != "o" && target != "mlp") {
        return Invalid("lora.targets",
                       absl::StrCat("unknown target '", target, "' (known: q, k, v, o, mlp)"));
      }
      if (!seen.insert(target).second) {
        return Invalid("lora.targets", absl::StrCat("'", target, "' is listed twice"));
      }
    }
  }
  return o;
}

ModelSpec Declare(const ModelOptions& o) {
  const TransformerOptions& t = o.transformer;
  const int64_t d = t.d_model;
  const int64_t hidden = d * t.mlp_ratio;
  const int64_t v = kByteVocabulary;
  const double residual_std = 0.02 / std::sqrt(2.0 * t.layers);
  auto targeted = [&o](const std::string& target) {
    return std::find(o.lora.targets.begin(), o.lora.targets.end(), target) != o.lora.targets.end();
  };
  ModelSpec spec;
  spec.architecture = o.architecture;
  spec.family = "byte_transformer";
  spec.task = TaskKind::kCausalLanguageModel;
  spec.options = o;
  spec.num_classes = kByteVocabulary;
  auto& p = spec.parameters;
  auto normal = [&p](const std::string& name, std::vector<int64_t> shape, double std) {
    ParameterSpec s{name, std::move(shape), 1, Init::kNormal};
    s.normal_std = std;
    p.push_back(std::move(s));
  };
  auto norm = [&p, d](const std::string& name) {
    p.push_back({name + ".weight", {d}, 1, Init::kOnes});
    p.push_back({name + ".bias", {d}, 1, Init::kZeros});
  };
  // A projection [out, in], with a bias when asked, then its adapter when targeted: A gets
  // PyTorch's Linear default (U(±1/sqrt(in))), B starts at zero so a fresh adapter is a no-op.
  auto projection = [&](const std::string& name, int64_t out, int64_t in, double std, bool bias,
                        bool lora) {
    normal(name + ".weight", {out, in}, std);
    if (bias) p.push_back({name + ".bias", {out}, 1, Init::kZeros});
    if (lora && o.lora.rank > 0) {
      p.push_back({name + ".lora_A", {o.lora.rank, in}, in, Init::kUniformFanIn});
      p.push_back({name + ".lora_B", {out, o.lora.rank}, 1, Init::kZeros});
    }
    if (lora && o.lora.personal_rank > 0) {
      p.push_back({name + ".plora_A", {o.lora.personal_rank, in}, in, Init::kUniformFanIn});
      p.push_back({name + ".plora_B", {out, o.lora.personal_rank}, 1, Init::kZeros});
    }
  };
  normal("tok_emb.weight", {v, d}, 0.02);
  normal("pos_emb.weight", {t.context, d}, 0.01);
  for (int i = 0; i < t.layers; ++i) {
    const std::string b = absl::StrCat("blocks.", i, ".");
    norm(b + "ln1");
    projection(b + "attn.q", d, d, 0.02, false, targeted("q"));
    projection(b + "attn.k", d, d, 0.02, false, targeted("k"));
    projection(b + "attn.v", d, d, 0.02, false, targeted("v"));
    projection(b + "attn.o", d, d, residual_std, false, targeted("o"));
    norm(b + "ln2");
    projection(b + "mlp.fc", hidden, d, 0.02, true, targeted("mlp"));
    projection(b + "mlp.proj", d, hidden, residual_std, true, targeted("mlp"));
  }
  norm("ln_f");
  normal("lm_head.weight", {v, d}, 0.02);
  spec.head_patterns = {"lm_head.*"};
  spec.norm_patterns = {"blocks.*.ln?.*", "ln_f.*"};
  if (o.lora.rank > 0) spec.lora_patterns = {"*.lora_A", "*.lora_B"};
  if (o.lora.personal_rank > 0) spec.personal_lora_patterns = {"*.plora_A", "*.plora_B"};
  return spec;
}

absl::StatusOr<ModelSpec> Build(const ModelOptions& options, const TransformerOptions& defaults) {
  absl::StatusOr<ModelOptions> resolved = Resolve(options, defaults);
  if (!resolved.ok()) return resolved.status();
  return Declare(*resolved);
}

}  // namespace

absl::StatusOr<ModelSpec> ByteTransformerSpec(const ModelOptions& options) {
  return Build(options, TransformerOptions{/*layers=*/4, /*d_model=*/256, /*heads=*/4,
                                           /*context=*/256, /*mlp_ratio=*/4});
}

absl::StatusOr<ModelSpec> TinyByteTransformerSpec(const ModelOptions& options) {
  return Build(options, TransformerOptions{/*layers=*/2, /*d_model=*/32, /*heads=*/2,
                                           /*context=*/64, /*mlp_ratio=*/2});
}

}  // namespace tailor
