// The model registry without LibTorch: names, option checks, the transformer's declaration.
#include "models/model_spec.h"

#include <set>

#include <gtest/gtest.h>

#include "core/personalization_policy.h"
#include "models/transformer_spec.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

ModelOptions Transformer(int rank = 0, std::vector<std::string> targets = {}) {
  ModelOptions o;
  o.architecture = "byte_transformer";
  o.lora.rank = rank;
  o.lora.targets = std::move(targets);
  return o;
}

TEST(ModelRegistry, EveryArchitectureBuildsWithUniqueNamesAndFiniteInit) {
  for (const ArchitectureInfo& a : Architectures()) {
    SCOPED_TRACE(a.name);
    absl::StatusOr<ModelSpec> spec = GetModelSpec(a.name);
    ASSERT_OK(spec);
    EXPECT_EQ(spec->architecture, a.name);
    EXPECT_FALSE(spec->family.empty());
    std::set<std::string> names;
    for (const ParameterSpec& p : spec->parameters) EXPECT_TRUE(names.insert(p.name).second) << p.name;
    if (a.name == "mlp_10m") continue;  // 10M values; the others cover every init kind
    const ParameterSet init = InitialParameters(*spec, 7);
    EXPECT_EQ(init.size(), spec->parameters.size());
    for (const auto& e : init.entries()) {
      for (float v : e.tensor.f32()) ASSERT_TRUE(std::isfinite(v)) << e.name;
    }
  }
}

TEST(ModelRegistry, UnknownArchitectureListsTheKnownOnes) {
  EXPECT_STATUS(GetModelSpec("gpt5"), absl::StatusCode::kNotFound, "byte_transformer");
}

TEST(ModelRegistry, ImageModelsRefuseTransformerOptions) {
  ModelOptions o;
  o.architecture = "fmnist_cnn";
  o.lora.rank = 4;
  EXPECT_STATUS(BuildModelSpec(o), absl::StatusCode::kInvalidArgument, "lora");
}

TEST(ByteTransformer, DefaultIsAboutThreeMillionParameters) {
  const ModelSpec spec = *GetModelSpec("byte_transformer");
  EXPECT_EQ(spec.task, TaskKind::kCausalLanguageModel);
  EXPECT_EQ(spec.num_classes, kByteVocabulary);
  EXPECT_EQ(spec.options.transformer.layers, 4);
  EXPECT_EQ(spec.options.transformer.d_model, 256);
  EXPECT_EQ(spec.options.transformer.context, 256);
  // 4 blocks · 12·d² + embeddings, positions and head ≈ 3.35M.
  EXPECT_GT(spec.ParameterCount(), 3'000'000);
  EXPECT_LT(spec.ParameterCount(), 3'600'000);
  EXPECT_TRUE(spec.lora_patterns.empty());
}

TEST(ByteTransformer, LoraAddsAdaptersOnlyOnItsTargetsWithZeroB) {
  const ModelSpec spec = *BuildModelSpec(Transformer(8));
  EXPECT_EQ(spec.options.lora.targets, (std::vector<std::string>{"q", "v"}));
  EXPECT_EQ(spec.options.lora.alpha, 8);
  const ParameterSet init = InitialParameters(spec, 3);
  int adapters = 0;
  for (const auto& e : init.entries()) {
    const bool lora = GlobMatch("*.lora_?", e.name);
    if (!lora) continue;
    ++adapters;
    EXPECT_TRUE(GlobMatch("blocks.*.attn.q.lora_?", e.name) ||
                GlobMatch("blocks.*.attn.v.lora_?", e.name))
        << e.name;
    if (GlobMatch("*.lora_B", e.name)) {
      for (float v : e.tensor.f32()) ASSERT_EQ(v, 0.0f) << e.name;
      EXPECT_EQ(e.tensor.shape(), (std::vector<int64_t>{256, 8}));
    } else {
      EXPECT_EQ(e.tensor.shape(), (std::vector<int64_t>{8, 256}));
      double abs_sum = 0;
      for (float v : e.tensor.f32()) abs_sum += std::abs(v);
      EXPECT_GT(abs_sum, 0) << e.name;  // A is random, or the adapter could never learn
    }
  }
  EXPECT_EQ(adapters, 4 * 2 * 2);  // layers · targets · {A, B}
  const ModelSpec all = *BuildModelSpec(Transformer(4, {"q", "k", "v", "o", "mlp"}));
  int all_adapters = 0;
  for (const ParameterSpec& p : all.parameters) all_adapters += GlobMatch("*.lora_?", p.name);
  EXPECT_EQ(all_adapters, 4 * 6 * 2);
  PersonalizationPolicy lora(all.lora_patterns);
  EXPECT_TRUE(lora.IsPersonal("blocks.3.mlp.proj.lora_B"));
  EXPECT_FALSE(lora.IsPersonal("blocks.3.mlp.proj.weight"));
  // A second, personal adapter beside each: its own names, which the shared patterns miss.
  ModelOptions dual = Transformer(4, {"q"});
  dual.lora.personal_rank = 2;
  const ModelSpec d = *BuildModelSpec(dual);
  PersonalizationPolicy personal(d.personal_lora_patterns);
  int personal_adapters = 0;
  for (const ParameterSpec& p : d.parameters) {
    if (personal.IsPersonal(p.name)) {
      ++personal_adapters;
      EXPECT_FALSE(PersonalizationPolicy(d.lora_patterns).IsPersonal(p.name)) << p.name;
    }
  }
  EXPECT_EQ(personal_adapters, 4 * 2);
  ModelOptions no_shared = Transformer();
  no_shared.lora.personal_rank = 2;
  EXPECT_STATUS(BuildModelSpec(no_shared), absl::StatusCode::kInvalidArgument, "lora.rank");
}

TEST(ByteTransformer, OptionErrorsNameTheOption) {
  ModelOptions o = Transformer();
  o.transformer.heads = 3;
  EXPECT_STATUS(BuildModelSpec(o), absl::StatusCode::kInvalidArgument, "transformer.heads");
  o = Transformer();
  o.transformer.context = 100000;
  EXPECT_STATUS(BuildModelSpec(o), absl::StatusCode::kInvalidArgument, "transformer.context");
  EXPECT_STATUS(BuildModelSpec(Transformer(4, {"q", "x"})), absl::StatusCode::kInvalidArgument,
                "lora.targets: unknown target 'x'");
  EXPECT_STATUS(BuildModelSpec(Transformer(4, {"q", "q"})), absl::StatusCode::kInvalidArgument,
                "listed twice");
  EXPECT_STATUS(BuildModelSpec(Transformer(0, {"q"})), absl::StatusCode::kInvalidArgument,
                "lora.rank");
  EXPECT_STATUS(BuildModelSpec(Transformer(-1)), absl::StatusCode::kInvalidArgument, "lora.rank");
  o = Transformer(4);
  o.lora.alpha = std::nan("");
  EXPECT_STATUS(BuildModelSpec(o), absl::StatusCode::kInvalidArgument, "lora.alpha");
}

TEST(ByteTransformer, HeadAndNormPatternsSelectWhatTheySay) {
  const ModelSpec spec = *GetModelSpec("byte_transformer_tiny");
  PersonalizationPolicy head(spec.head_patterns), norm(spec.norm_patterns);
  EXPECT_TRUE(head.IsPersonal("lm_head.weight"));
  EXPECT_FALSE(head.IsPersonal("tok_emb.weight"));
  EXPECT_TRUE(norm.IsPersonal("blocks.1.ln2.bias"));
  EXPECT_TRUE(norm.IsPersonal("ln_f.weight"));
  EXPECT_FALSE(norm.IsPersonal("blocks.1.attn.q.weight"));
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

ModelOptions Reward(const std::string& head, int prototypes = 0, int user_dim = 0) {
  ModelOptions o;
  o.architecture = "byte_reward_tiny";
  o.reward.head = head;
  o.reward.prototypes = prototypes;
  o.reward.user_dim = user_dim;
  return o;
}

// The reward model is the transformer's body by the same names (a pretrained language model
// loads into it) plus the head; each head's personal part is what its method keeps per user.
TEST(ByteReward, HeadsDeclareTheirTensorsAndTheirPersonalPart) {
  const ModelSpec lm = *GetModelSpec("byte_transformer_tiny");
  struct Case {
    std::string head;
    std::vector<std::string> tensors;
    std::string personal;
  } cases[] = {{"linear", {"reward.w"}, "reward.w"},
               {"pal", {"reward.prototypes", "reward.mix"}, "reward.mix"},
               {"lore", {"reward.basis", "reward.weights"}, "reward.weights"},
               {"user", {"reward.w", "reward.user_proj", "reward.user"}, "reward.user"}};
  for (const Case& c : cases) {
    absl::StatusOr<ModelSpec> spec = BuildModelSpec(Reward(c.head));
    ASSERT_OK(spec);
    EXPECT_EQ(spec->task, TaskKind::kPairwisePreference);
    ASSERT_EQ(spec->parameters.size(), lm.parameters.size() + c.tensors.size()) << c.head;
    for (size_t i = 0; i < lm.parameters.size(); ++i) {
      EXPECT_EQ(spec->parameters[i].name, lm.parameters[i].name);
      EXPECT_EQ(spec->parameters[i].shape, lm.parameters[i].shape);
    }
    for (size_t i = 0; i < c.tensors.size(); ++i) {
      EXPECT_EQ(spec->parameters[lm.parameters.size() + i].name, c.tensors[i]);
    }
    PersonalizationPolicy personal(spec->head_patterns);
    EXPECT_EQ(personal.RoleOf(c.personal), PersonalizationPolicy::Role::kPersonal) << c.head;
    EXPECT_EQ(personal.RoleOf("blocks.0.attn.q.weight"), PersonalizationPolicy::Role::kShared);
  }
  EXPECT_EQ(BuildModelSpec(Reward("pal"))->parameters.back().shape, std::vector<int64_t>{4});
  EXPECT_EQ(BuildModelSpec(Reward("user", 0, 3))->parameters.back().shape,
            std::vector<int64_t>{3});
}

TEST(ByteReward, OptionErrorsNameTheOption) {
  EXPECT_STATUS(BuildModelSpec(Reward("softmax")), absl::StatusCode::kInvalidArgument,
                "reward.head: unknown head 'softmax'");
  EXPECT_STATUS(BuildModelSpec(Reward("linear", 4)), absl::StatusCode::kInvalidArgument,
                "reward.prototypes");
  EXPECT_STATUS(BuildModelSpec(Reward("pal", 65)), absl::StatusCode::kInvalidArgument,
                "reward.prototypes");
  EXPECT_STATUS(BuildModelSpec(Reward("pal", 0, 4)), absl::StatusCode::kInvalidArgument,
                "reward.user_dim");
  ModelOptions pooled = Reward("linear");
  pooled.reward.pool = "max";
  EXPECT_STATUS(BuildModelSpec(pooled), absl::StatusCode::kInvalidArgument,
                "reward.pool: unknown pooling 'max' (known: end, mean)");
  pooled.reward.pool = "mean";
  EXPECT_OK(BuildModelSpec(pooled));
  // DPO: LoRA by default (rank 4), a beta > 0, no reward head; a reward head has no beta.
  ModelOptions dpo;
  dpo.architecture = "byte_dpo_tiny";
  absl::StatusOr<ModelSpec> dpo_spec = BuildModelSpec(dpo);
  ASSERT_OK(dpo_spec);
  EXPECT_EQ(dpo_spec->options.lora.rank, 4);
  EXPECT_EQ(dpo_spec->options.reward.beta, 0.1);
  EXPECT_EQ(dpo_spec->task, TaskKind::kPairwisePreference);
  dpo.reward.beta = -1;
  EXPECT_STATUS(BuildModelSpec(dpo), absl::StatusCode::kInvalidArgument, "reward.beta");
  dpo.reward.beta = 0.5;
  dpo.reward.head = "pal";
  EXPECT_STATUS(BuildModelSpec(dpo), absl::StatusCode::kInvalidArgument, "no head");
  ModelOptions headed = Reward("linear");
  headed.reward.beta = 1;
  EXPECT_STATUS(BuildModelSpec(headed), absl::StatusCode::kInvalidArgument,
                "reward.beta: only byte_dpo");
  // Only a reward model pools.
  pooled.architecture = "byte_transformer_tiny";
  pooled.reward.head.clear();
  EXPECT_STATUS(BuildModelSpec(pooled), absl::StatusCode::kInvalidArgument, "reward");
  // A language model or an image model has no reward head.
  ModelOptions o = Reward("pal");
  o.architecture = "byte_transformer_tiny";
  EXPECT_STATUS(BuildModelSpec(o), absl::StatusCode::kInvalidArgument, "reward");
  o.architecture = "fmnist_cnn";
  EXPECT_STATUS(BuildModelSpec(o), absl::StatusCode::kInvalidArgument, "reward");
}

}  // namespace
}  // namespace tailor
