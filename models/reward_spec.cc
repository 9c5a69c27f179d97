#include "models/reward_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "models/transformer_spec.h"

namespace tailor {
namespace {

using Init = ParameterSpec::Init;

absl::StatusOr<ModelSpec> AddRewardHead(absl::StatusOr<ModelSpec> (*body)(const ModelOptions&),
                                        const ModelOptions& options) {
  RewardOptions r = options.reward;
  if (r.head.empty()) r.head = "linear";
  if (r.head != "linear" && r.head != "pal" && r.head != "lore" && r.head != "user") {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.head: unknown head '", r.head, "' (known: linear, pal, lore, user)"));
  }
  const bool mixture = r.head == "pal" || r.head == "lore";
  if (r.prototypes == 0 && mixture) r.prototypes = 4;
  if (r.user_dim == 0 && r.head == "user") r.user_dim = 8;
  if (!mixture && r.prototypes != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.prototypes: only the pal and lore heads have prototypes"));
  }
  if (r.head != "user" && r.user_dim != 0) {
    return absl::InvalidArgumentError("reward.user_dim: only the user head has a user embedding");
  }
  if (r.prototypes < 0 || r.prototypes > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.prototypes: must be in [1, 64], got ", r.prototypes));
  }
  if (r.beta != 0) {
    return absl::InvalidArgumentError("reward.beta: only byte_dpo has a beta (a reward head has none)");
  }
  if (r.pool.empty()) r.pool = "end";
  if (r.pool != "end" && r.pool != "mean") {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.pool: unknown pooling '", r.pool, "' (known: end, mean)"));
  }
  if (r.user_dim < 0 || r.user_dim > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.user_dim: must be in [1, 256], got ", r.user_dim));
  }
  ModelOptions body_options = options;
  body_options.reward = RewardOptions();
  absl::StatusOr<ModelSpec> built = body(body_options);
  if (!built.ok()) return built.status();
  ModelSpec spec = *std::move(built);
  spec.family = "byte_reward";
  spec.task = TaskKind::kPairwisePreference;
  spec.options.reward = r;
  const int64_t d = spec.options.transformer.d_model;
  auto normal = [&spec](const std::string& name, std::vector<int64_t> shape) {
    ParameterSpec p{name, std::move(shape), 1, Init::kNormal};
    p.normal_std = 0.02;
    spec.parameters.push_back(std::move(p));
  };
  if (r.head == "linear") {
    normal("reward.w", {d});
    spec.head_patterns = {"reward.*"};
  } else if (r.head == "pal") {
    normal("reward.prototypes", {r.prototypes, d});
    spec.parameters.push_back({"reward.mix", {r.prototypes}, 1, Init::kZeros});
    spec.head_patterns = {"reward.mix"};
  } else if (r.head == "lore") {
    normal("reward.basis", {r.prototypes, d});
    spec.parameters.push_back({"reward.weights", {r.prototypes}, 1, Init::kOnes});
    spec.head_patterns = {"reward.weights"};
  } else {
    normal("reward.w", {d});
    normal("reward.user_proj", {r.user_dim, d});
    spec.parameters.push_back({"reward.user", {r.user_dim}, 1, Init::kZeros});
    spec.head_patterns = {"reward.user"};
  }
  return spec;
}

}  // namespace

absl::StatusOr<ModelSpec> ByteRewardSpec(const ModelOptions& options) {
  return AddRewardHead(ByteTransformerSpec, options);
}

absl::StatusOr<ModelSpec> TinyByteRewardSpec(const ModelOptions& options) {
  return AddRewardHead(TinyByteTransformerSpec, options);
}

namespace {

absl::StatusOr<ModelSpec> AsDpo(absl::StatusOr<ModelSpec> (*body)(const ModelOptions&),
                                const ModelOptions& options) {
  RewardOptions r = options.reward;
  if (r.beta == 0) r.beta = 0.1;
  if (!(r.beta > 0) || !std::isfinite(r.beta)) {
    return absl::InvalidArgumentError(absl::StrCat("reward.beta: must be > 0, got ", r.beta));
  }
  if (!r.head.empty() || r.prototypes || r.user_dim || !r.pool.empty()) {
    return absl::InvalidArgumentError(
        "reward: byte_dpo's reward is the language model's own (beta · log-ratio): no head, "
        "prototypes, user embedding or pooling");
  }
  ModelOptions body_options = options;
  body_options.reward = RewardOptions();
  // DPO tunes adapters against the frozen base, its reference model: rank 4 when unset.
  if (body_options.lora.rank == 0) body_options.lora.rank = 4;
  absl::StatusOr<ModelSpec> built = body(body_options);
  if (!built.ok()) return built.status();
  ModelSpec spec = *std::move(built);
  spec.family = "byte_dpo";
  spec.task = TaskKind::kPairwisePreference;
  spec.options.reward = r;
  return spec;
}

}  // namespace

absl::StatusOr<ModelSpec> ByteDpoSpec(const ModelOptions& options) {
  return AsDpo(ByteTransformerSpec, options);
}

absl::StatusOr<ModelSpec> TinyByteDpoSpec(const ModelOptions& options) {
  return AsDpo(TinyByteTransformerSpec, options);
}

}  // namespace tailor
