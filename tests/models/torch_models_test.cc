// LibTorch modules built from specs: the registered tensors are the spec's, LoRA at
// initialization changes nothing, attention is causal, the key/value cache gives the full
// forward's numbers, and generation is reproducible.
#include "models/torch_models.h"

#include <torch/types.h>
#include <torch/utils.h>
#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include "models/causal_attention.h"
#include "models/torch_transformer.h"
#include "models/transformer_spec.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

ModelSpec Tiny(int rank = 0, std::vector<std::string> targets = {}) {
  ModelOptions o;
  o.architecture = "byte_transformer_tiny";
  o.lora.rank = rank;
  o.lora.targets = std::move(targets);
  return *BuildModelSpec(o);
}

std::shared_ptr<TorchModel> Build(const ModelSpec& spec, uint64_t seed) {
  auto model = *CreateTorchModel(spec);
  torch::NoGradGuard no_grad;
  const ParameterSet init = InitialParameters(spec, seed);
  for (const auto& e : init.entries()) {
    model->Find(e.name).copy_(torch::from_blob(const_cast<uint8_t*>(e.tensor.data()),
                                               e.tensor.shape(), torch::kFloat32));
  }
  model->eval();
  return model;
}

at::Tensor Ids(std::vector<int64_t> ids) { return torch::tensor(ids, torch::kInt64).unsqueeze(0); }

TEST(TorchModels, EveryArchitectureRegistersExactlyItsSpecInOrder) {
  for (const ArchitectureInfo& a : Architectures()) {
    SCOPED_TRACE(a.name);
    const ModelSpec spec = *GetModelSpec(a.name);
    absl::StatusOr<std::shared_ptr<TorchModel>> model = CreateTorchModel(spec);
    ASSERT_OK(model);
    std::vector<std::string> names;
    for (const auto& p : (*model)->named_parameters(true)) names.push_back(p.key());
    for (const auto& b : (*model)->named_buffers(true)) names.push_back(b.key());
    std::vector<std::string> want;
    for (const ParameterSpec& p : spec.parameters) want.push_back(p.name);
    EXPECT_EQ(names, want);
    for (const ParameterSpec& p : spec.parameters) {
      EXPECT_EQ((*model)->Find(p.name).sizes().vec(), p.shape) << p.name;
    }
  }
  // With every LoRA target, adapters sit between a projection's weight/bias and the next one.
  ASSERT_OK(CreateTorchModel(Tiny(2, {"q", "k", "v", "o", "mlp"})));
}

TEST(TorchModels, ADeclarationTorchCannotRegisterInOrderIsRefused) {
  ModelSpec spec = *GetModelSpec("mlp_small");
  std::swap(spec.parameters[1], spec.parameters[2]);  // fc1.weight, fc2.weight, fc1.bias, ...
  EXPECT_STATUS(CreateTorchModel(spec), absl::StatusCode::kInternal, "order");
  spec = *GetModelSpec("mlp_small");
  spec.family = "nonesuch";
  EXPECT_STATUS(CreateTorchModel(spec), absl::StatusCode::kInvalidArgument, "nonesuch");
}

TEST(ByteTransformerModule, LoraAtInitializationLeavesTheOutputsUnchanged) {
  auto base = Build(Tiny(), 5);
  ModelSpec adapted_spec = Tiny(4, {"q", "k", "v", "o", "mlp"});
  {
    ModelOptions o = adapted_spec.options;
    o.lora.personal_rank = 2;  // both adapters start as no-ops
    adapted_spec = *BuildModelSpec(o);
  }
  auto adapted = Build(adapted_spec, 5);
  // The shared names have the same initial values (each parameter has its own seed stream,
  // keyed by position: load the base's values by name to be sure).
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : base->named_parameters(true)) adapted->Find(p.key()).copy_(p.value());
  }
  const at::Tensor ids = Ids({kBosToken, 'h', 'e', 'l', 'l', 'o', ' ', 'w'});
  const at::Tensor a = base->Forward(ids), b = adapted->Forward(ids);
  EXPECT_TRUE(torch::equal(a, b)) << (a - b).abs().max().item<float>();
  // A non-zero B changes them.
  {
    torch::NoGradGuard no_grad;
    adapted->Find("blocks.0.attn.q.lora_B").fill_(0.5);
  }
  EXPECT_GT((adapted->Forward(ids) - a).abs().max().item<float>(), 1e-4);
}

TEST(ByteTransformerModule, LogitsAtAPositionDependOnlyOnEarlierTokens) {
  auto model = Build(Tiny(), 9);
  const at::Tensor x = Ids({kBosToken, 'a', 'b', 'c', 'd', 'e'});
  at::Tensor y = x.clone();
  y[0][4] = 'z';
  y[0][5] = 'q';
  const at::Tensor lx = model->Forward(x), ly = model->Forward(y);
  EXPECT_TRUE(torch::allclose(lx.narrow(1, 0, 4), ly.narrow(1, 0, 4)));
  EXPECT_FALSE(torch::allclose(lx.narrow(1, 4, 2), ly.narrow(1, 4, 2)));
  EXPECT_EQ(lx.sizes().vec(), (std::vector<int64_t>{1, 6, kByteVocabulary}));
}

TEST(ByteTransformerModule, KeyValueCacheGivesTheFullForwardsLogits) {
  auto model = Build(Tiny(2, {"q", "v", "mlp"}), 11);
  {
    torch::NoGradGuard no_grad;  // non-zero adapters, so the cache path runs them too
    for (auto& p : model->named_parameters(true)) {
      if (p.key().find("lora_B") != std::string::npos) p.value().normal_(0, 0.1);
    }
  }
  auto* program = dynamic_cast<TransformerProgram*>(model->program());
  ASSERT_NE(program, nullptr);
  std::vector<int64_t> tokens = {kBosToken, 'T', 'a', 'i', 'l', 'o', 'r', '!', '\n'};
  torch::InferenceMode guard;
  const at::Tensor full = model->Forward(Ids(tokens));
  TransformerProgram::Cache cache;
  // A prefix of three, then one token at a time.
  std::vector<at::Tensor> parts = {
      program->Extend(Ids({tokens.begin(), tokens.begin() + 3}), &cache)};
  for (size_t i = 3; i < tokens.size(); ++i) parts.push_back(program->Extend(Ids({tokens[i]}), &cache));
  EXPECT_EQ(cache.length, static_cast<int64_t>(tokens.size()));
  const at::Tensor incremental = torch::cat(parts, 1);
  EXPECT_TRUE(torch::allclose(full, incremental, /*rtol=*/1e-4, /*atol=*/1e-5))
      << (full - incremental).abs().max().item<float>();
  // Past the context: refused, not read out of bounds.
  TransformerProgram::Cache long_cache;
  EXPECT_THROW(program->Extend(torch::zeros({1, program->context() + 1}, torch::kInt64), &long_cache),
               c10::Error);
}

TEST(ByteTransformerModule, AMixtureDecodesAsItsWeightsSay) {
  auto a = Build(Tiny(), 13);
  auto b = Build(Tiny(), 14);
  GenerationOptions greedy;
  greedy.temperature = 0;
  greedy.max_bytes = 30;
  const std::string from_a = *Generate(*a, "Hi", greedy);
  const std::string from_b = *Generate(*b, "Hi", greedy);
  ASSERT_NE(from_a, from_b);  // two untrained models of different seeds
  // All weight on one model: that model's text; a model mixed with itself: its own text.
  std::vector<TorchModel*> both = {a.get(), b.get()};
  EXPECT_EQ(*GenerateMixture(both, {1.0, 0.0}, "Hi", greedy), from_a);
  EXPECT_EQ(*GenerateMixture(both, {0.0, 1.0}, "Hi", greedy), from_b);
  std::vector<TorchModel*> twice = {a.get(), a.get()};
  EXPECT_EQ(*GenerateMixture(twice, {0.5, 0.5}, "Hi", greedy), from_a);
  // A real mixture is reproducible by seed.
  GenerationOptions sampled;
  sampled.max_bytes = 30;
  sampled.seed = 5;
  EXPECT_EQ(*GenerateMixture(both, {0.3, 0.7}, "Hi", sampled),
            *GenerateMixture(both, {0.3, 0.7}, "Hi", sampled));
  // Refused: a weight per model, weights >= 0, the same context.
  EXPECT_EQ(GenerateMixture(both, {1.0}, "Hi", greedy).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateMixture(both, {1.0, -0.5}, "Hi", greedy).status().code(),
            absl::StatusCode::kInvalidArgument);
  ModelSpec longer = Tiny();
  longer.options.transformer.context *= 2;
  absl::StatusOr<ModelSpec> rebuilt = BuildModelSpec(longer.options);
  ASSERT_OK(rebuilt);
  auto c = Build(*rebuilt, 15);
  std::vector<TorchModel*> mismatched = {a.get(), c.get()};
  EXPECT_EQ(GenerateMixture(mismatched, {0.5, 0.5}, "Hi", greedy).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ByteTransformerModule, GenerationIsReproducibleAndGreedyIsTopOne) {
  auto model = Build(Tiny(), 13);
  GenerationOptions o;
  o.max_bytes = 40;
  o.seed = 3;
  o.temperature = 1.0;
  const std::string a = *Generate(*model, "Hello", o);
  EXPECT_EQ(a, *Generate(*model, "Hello", o));
  o.seed = 4;
  EXPECT_NE(a, *Generate(*model, "Hello", o));  // 40 bytes from an untrained model: never equal
  GenerationOptions greedy;
  greedy.temperature = 0;
  greedy.max_bytes = 20;
  GenerationOptions top1;
  top1.top_k = 1;
  top1.max_bytes = 20;
  top1.seed = 99;
  EXPECT_EQ(*Generate(*model, "Hi", greedy), *Generate(*model, "Hi", top1));
  GenerationOptions nucleus = top1;
  nucleus.top_k = 0;
  nucleus.top_p = 1e-9;  // only the most likely token is in the nucleus
  EXPECT_EQ(*Generate(*model, "Hi", greedy), *Generate(*model, "Hi", nucleus));
  // Stops at the context: a 63-byte prompt leaves room for one token in a 64-token context.
  GenerationOptions many;
  many.max_bytes = 1000;
  EXPECT_LE(Generate(*model, std::string(62, 'x'), many)->size(), 2u);
}

TEST(ByteTransformerModule, GenerationRefusesBadOptionsAndNonLanguageModels) {
  auto model = Build(Tiny(), 1);
  GenerationOptions o;
  o.temperature = -1;
  EXPECT_STATUS(Generate(*model, "x", o), absl::StatusCode::kInvalidArgument, "temperature");
  o = GenerationOptions();
  o.top_p = 0;
  EXPECT_STATUS(Generate(*model, "x", o), absl::StatusCode::kInvalidArgument, "top_p");
  EXPECT_STATUS(Generate(*model, std::string(64, 'x'), GenerationOptions()),
                absl::StatusCode::kInvalidArgument, "context");
  auto cnn = *CreateTorchModel(*GetModelSpec("mlp_small"));
  EXPECT_STATUS(Generate(*cnn, "x", GenerationOptions()), absl::StatusCode::kInvalidArgument,
                "not a language model");
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

std::shared_ptr<TorchModel> RewardModel(const std::string& head, uint64_t seed,
                                        const std::string& pool = "") {
  ModelOptions o;
  o.architecture = "byte_reward_tiny";
  o.reward.head = head;
  o.reward.pool = pool;
  return Build(*BuildModelSpec(o), seed);
}

// One reward per row, read at the row's first end-of-text token: what follows it (padding)
// cannot change it, what precedes it does.
TEST(RewardModule, OneRewardPerSequenceReadAtItsEnd) {
  auto m = RewardModel("linear", 3);
  const at::Tensor a = Ids({kBosToken, 'h', 'i', kEosToken, kEosToken, kEosToken});
  at::Tensor padded = a.clone();
  padded[0][4] = 'x';  // after the end: never read
  at::Tensor other = a.clone();
  other[0][2] = 'o';
  const at::Tensor r = m->Forward(torch::cat({a, padded, other}));
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{3}));
  EXPECT_NEAR(r[0].item<float>(), r[1].item<float>(), 1e-6);  // (kernel rounding only)
  EXPECT_NE(r[0].item<float>(), r[2].item<float>());
  // A sequence without an end is refused (the trainer always appends one).
  EXPECT_THROW(m->Forward(Ids({kBosToken, 'h', 'i'})), c10::Error);
}

// Mean pooling averages the hidden states through the end token: the padding after it is still
// never read, and it is the mean (a one-token sequence's mean is its end state).
TEST(RewardModule, MeanPoolingAveragesThroughTheEndOnly) {
  auto mean = RewardModel("linear", 3, "mean");
  auto end = RewardModel("linear", 3);
  const at::Tensor a = Ids({kBosToken, 'h', 'i', kEosToken, kEosToken, kEosToken});
  at::Tensor padded = a.clone();
  padded[0][5] = 'x';
  const at::Tensor r = mean->Forward(torch::cat({a, padded}));
  EXPECT_NEAR(r[0].item<float>(), r[1].item<float>(), 1e-6);
  EXPECT_GT(std::abs(r[0].item<float>() - end->Forward(a).item<float>()), 1e-6);
  const at::Tensor only_end = Ids({kEosToken, 'z'});
  EXPECT_NEAR(mean->Forward(only_end).item<float>(), end->Forward(only_end).item<float>(), 1e-6);
}

// The heads compute what reward_spec.h says, from the same pooled state.
TEST(RewardModule, HeadsMixTheirDirectionsAsDeclared) {
  const at::Tensor ids = Ids({kBosToken, 'o', 'k', kEosToken});
  auto pal = RewardModel("pal", 4);
  auto lore = RewardModel("lore", 4);
  {
    // The same body and directions in both; PAL's mix at 0 is the mean of the prototypes,
    // LoRe's weights at 1/K are the same mean.
    torch::NoGradGuard no_grad;
    for (const auto& p : pal->named_parameters(true)) {
      if (p.key() != "reward.prototypes" && p.key() != "reward.mix") lore->Find(p.key()).copy_(p.value());
    }
    lore->Find("reward.basis").copy_(pal->Find("reward.prototypes"));
    lore->Find("reward.weights").fill_(0.25);
  }
  EXPECT_NEAR(pal->Forward(ids).item<float>(), lore->Forward(ids).item<float>(), 1e-6);
  // The user head with the generic (zero) user is its shared direction alone.
  auto user = RewardModel("user", 4);
  const float generic = user->Forward(ids).item<float>();
  {
    torch::NoGradGuard no_grad;
    user->Find("reward.user").fill_(1.0);
  }
  EXPECT_NE(user->Forward(ids).item<float>(), generic);
}

// The fused attention against the same attention composed of LibTorch ops, forward and all
// three gradients, across query-block boundaries (blocks of 64) and in both precisions.
void ExpectAttentionMatchesComposed(torch::Dtype dtype, int64_t batch, int64_t time,
                                    int64_t model, int64_t heads, double tolerance) {
  torch::manual_seed(static_cast<uint64_t>(time * 31 + model));
  auto leaf = [&] { return torch::randn({batch, time, model}, dtype).requires_grad_(true); };
  const at::Tensor q = leaf(), k = leaf(), v = leaf();
  const at::Tensor upstream = torch::randn({batch, time, model}, dtype);
  const at::Tensor fused = CausalSelfAttention(q, k, v, heads);
  const auto fused_grads = torch::autograd::grad({fused}, {q, k, v}, {upstream});
  const at::Tensor composed = ComposedCausalSelfAttention(q, k, v, heads);
  const auto composed_grads = torch::autograd::grad({composed}, {q, k, v}, {upstream});
  SCOPED_TRACE(::testing::Message() << "time " << time << ", model " << model << ", heads "
                                  << heads);
  EXPECT_LT((fused - composed).abs().max().item<double>(), tolerance);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT((fused_grads[i] - composed_grads[i]).abs().max().item<double>(), tolerance)
        << "gradient of input " << i;
  }
}

TEST(CausalAttention, MatchesComposedOpsForwardAndBackwardInDouble) {
  for (int64_t time : {1, 2, 63, 64, 65, 130}) {
    ExpectAttentionMatchesComposed(torch::kFloat64, 2, time, 12, 3, 1e-12);
  }
}

TEST(CausalAttention, MatchesComposedOpsInFloatAtTheDefaultModelsShape) {
  ExpectAttentionMatchesComposed(torch::kFloat32, 2, 256, 256, 4, 2e-5);
  ExpectAttentionMatchesComposed(torch::kFloat32, 3, 100, 32, 2, 2e-5);
}

TEST(CausalAttention, AnEarlierOutputIgnoresLaterInputs) {
  torch::manual_seed(3);
  at::Tensor q = torch::randn({1, 70, 8}), k = torch::randn({1, 70, 8}), v = torch::randn({1, 70, 8});
  const at::Tensor before = CausalSelfAttention(q, k, v, 2);
  k.narrow(1, 66, 4).fill_(100.0);
  v.narrow(1, 66, 4).fill_(-100.0);
  const at::Tensor after = CausalSelfAttention(q, k, v, 2);
  EXPECT_TRUE(torch::equal(before.narrow(1, 0, 66), after.narrow(1, 0, 66)));
  EXPECT_FALSE(torch::equal(before.narrow(1, 66, 4), after.narrow(1, 66, 4)));
}

TEST(CausalAttention, RejectsMismatchedShapesAndIndivisibleHeads) {
  const at::Tensor x = torch::randn({1, 4, 6});
  EXPECT_THROW(CausalSelfAttention(x, torch::randn({1, 5, 6}), x, 2), c10::Error);
  EXPECT_THROW(CausalSelfAttention(x, x, x, 4), c10::Error);
  EXPECT_THROW(CausalSelfAttention(torch::randn({4, 6}), torch::randn({4, 6}),
                                   torch::randn({4, 6}), 2),
               c10::Error);
}

}  // namespace
}  // namespace tailor
