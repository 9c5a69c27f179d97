#include "models/model_spec.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "models/reward_spec.h"
#include "models/transformer_spec.h"
#include "core/random.h"

namespace tailor {
namespace {

// The reference CNN of DESIGN.md (PFLlib's FedAvgCNN for 28x28 grey images):
// conv(1->32, 5) - ReLU - maxpool 2 - conv(32->64, 5) - ReLU - maxpool 2 - fc(1024->512) - ReLU
// - fc(512->10). The head is fc2.
ModelSpec FmnistCnn() {
  ModelSpec spec;
  spec.architecture = "fmnist_cnn";
  spec.family = "fmnist_cnn";
  spec.num_classes = 10;
  spec.parameters = {
      {"conv1.weight", {32, 1, 5, 5}, 1 * 5 * 5},   {"conv1.bias", {32}, 1 * 5 * 5},
      {"conv2.weight", {64, 32, 5, 5}, 32 * 5 * 5}, {"conv2.bias", {64}, 32 * 5 * 5},
      {"fc1.weight", {512, 1024}, 1024},            {"fc1.bias", {512}, 1024},
      {"fc2.weight", {10, 512}, 512},               {"fc2.bias", {10}, 512},
  };
  spec.head_patterns = {"fc2.*"};
  return spec;
}

// The reference CNN with batch norm after each hidden layer (FedBN's model; Li et al. add
// batch norm to the same kind of CNN): conv1 - bn1 - ReLU - pool - conv2 - bn2 - ReLU - pool -
// fc1 - bn3 - ReLU - fc2. Buffers (running statistics) come after all parameters, in the
// order LibTorch lists them.
ModelSpec FmnistCnnBn() {
  using Init = ParameterSpec::Init;
  ModelSpec spec;
  spec.architecture = "fmnist_cnn_bn";
  spec.family = "fmnist_cnn_bn";
  spec.num_classes = 10;
  auto norm = [&spec](const std::string& layer, int64_t width) {
    spec.parameters.push_back({layer + ".weight", {width}, 1, Init::kOnes});
    spec.parameters.push_back({layer + ".bias", {width}, 1, Init::kZeros});
  };
  spec.parameters = {{"conv1.weight", {32, 1, 5, 5}, 1 * 5 * 5}, {"conv1.bias", {32}, 1 * 5 * 5}};
  norm("bn1", 32);
  spec.parameters.push_back({"conv2.weight", {64, 32, 5, 5}, 32 * 5 * 5});
  spec.parameters.push_back({"conv2.bias", {64}, 32 * 5 * 5});
  norm("bn2", 64);
  spec.parameters.push_back({"fc1.weight", {512, 1024}, 1024});
  spec.parameters.push_back({"fc1.bias", {512}, 1024});
  norm("bn3", 512);
  spec.parameters.push_back({"fc2.weight", {10, 512}, 512});
  spec.parameters.push_back({"fc2.bias", {10}, 512});
  for (const auto& [layer, width] : {std::pair<std::string, int64_t>{"bn1", 32}, {"bn2", 64},
                                     {"bn3", 512}}) {
    spec.parameters.push_back({layer + ".running_mean", {width}, 1, Init::kZeros, true});
    spec.parameters.push_back({layer + ".running_var", {width}, 1, Init::kOnes, true});
  }
  spec.head_patterns = {"fc2.*"};
  spec.norm_patterns = {"bn*"};
  return spec;
}

// A 10M-parameter MLP (784 -> 12755 -> 10) for transport benchmarks: big enough that moving
// the model dominates a round.
ModelSpec Mlp10M() {
  ModelSpec spec;
  spec.architecture = "mlp_10m";
  spec.family = "mlp";
  spec.num_classes = 10;
  spec.parameters = {
      {"fc1.weight", {12755, 784}, 784}, {"fc1.bias", {12755}, 784},
      {"fc2.weight", {10, 12755}, 12755}, {"fc2.bias", {10}, 12755},
  };
  spec.head_patterns = {"fc2.*"};
  return spec;
}

// A small MLP (51k parameters, 200 KB) for protocol-scale runs: many clients, where the
// coordinator's per-client handling rather than the model dominates.
ModelSpec MlpSmall() {
  ModelSpec spec;
  spec.architecture = "mlp_small";
  spec.family = "mlp";
  spec.num_classes = 10;
  spec.parameters = {
      {"fc1.weight", {64, 784}, 784}, {"fc1.bias", {64}, 784},
      {"fc2.weight", {10, 64}, 64}, {"fc2.bias", {10}, 64},
  };
  spec.head_patterns = {"fc2.*"};
  return spec;
}

}  // namespace

namespace {

struct Entry {
  ArchitectureInfo info;
  absl::StatusOr<ModelSpec> (*build)(const ModelOptions&);
};

// Image models take no options.
template <ModelSpec (*Make)()>
absl::StatusOr<ModelSpec> Fixed(const ModelOptions& options) {
  if (options.transformer.layers || options.transformer.d_model || options.transformer.heads ||
      options.transformer.context || options.transformer.mlp_ratio) {
    return absl::InvalidArgumentError(
        absl::StrCat("transformer: architecture '", options.architecture, "' takes no transformer options"));
  }
  if (options.lora.rank != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lora: architecture '", options.architecture, "' has no LoRA adapters"));
  }
  if (options.reward.any()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward: architecture '", options.architecture, "' has no reward head"));
  }
  ModelSpec spec = Make();
  spec.options = options;
  return spec;
}

const std::vector<Entry>& Registry() {
  static const auto* entries = new std::vector<Entry>{
      {{"fmnist_cnn", "the reference CNN of DESIGN.md (PFLlib's FedAvgCNN), 28x28 grey images"},
       Fixed<FmnistCnn>},
      {{"fmnist_cnn_bn", "the reference CNN with batch norm (FedBN's model)"}, Fixed<FmnistCnnBn>},
      {{"mlp_10m", "a 10M-parameter MLP for transport benchmarks"}, Fixed<Mlp10M>},
      {{"mlp_small", "a 51k-parameter MLP for protocol-scale runs"}, Fixed<MlpSmall>},
      {{"byte_transformer",
        "a byte-level decoder-only transformer (default 4 layers, d_model 256, context 256)"},
       ByteTransformerSpec},
      {{"byte_transformer_tiny", "the byte transformer at test size (2 layers, d_model 32)"},
       TinyByteTransformerSpec},
      {{"byte_reward",
        "a reward model: the byte transformer's body and a reward head (model.reward) scoring "
        "pairwise preferences"},
       ByteRewardSpec},
      {{"byte_reward_tiny", "the reward model on the test-size transformer"}, TinyByteRewardSpec},
      {{"byte_dpo",
        "the byte transformer tuned by DPO: LoRA adapters against the frozen base, scoring "
        "pairwise preferences by beta times the log-likelihood ratio (model.reward.beta)"},
       ByteDpoSpec},
      {{"byte_dpo_tiny", "DPO on the test-size transformer"}, TinyByteDpoSpec},
  };
  return *entries;
}

}  // namespace

const std::vector<ArchitectureInfo>& Architectures() {
  static const auto* infos = [] {
    auto* out = new std::vector<ArchitectureInfo>;
    for (const Entry& e : Registry()) out->push_back(e.info);
    return out;
  }();
  return *infos;
}

absl::StatusOr<ModelSpec> BuildModelSpec(const ModelOptions& options) {
  std::vector<std::string> names;
  for (const Entry& e : Registry()) {
    if (e.info.name == options.architecture) return e.build(options);
    names.push_back(e.info.name);
  }
  return absl::NotFoundError(absl::StrCat("unknown model architecture '", options.architecture,
                                          "' (known: ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<ModelSpec> GetModelSpec(const std::string& architecture) {
  ModelOptions options;
  options.architecture = architecture;
  return BuildModelSpec(options);
}

int64_t ModelSpec::ParameterCount() const {
  int64_t n = 0;
  for (const ParameterSpec& p : parameters) {
    if (p.buffer) continue;
    int64_t size = 1;
    for (int64_t d : p.shape) size *= d;
    n += size;
  }
  return n;
}

std::vector<std::string> ModelSpec::TrainableNames() const {
  std::vector<std::string> names;
  for (const ParameterSpec& p : parameters) {
    if (!p.buffer) names.push_back(p.name);
  }
  return names;
}

ParameterSet InitialParameters(const ModelSpec& spec, uint64_t seed) {
  ParameterSet out;
  for (size_t i = 0; i < spec.parameters.size(); ++i) {
    const ParameterSpec& p = spec.parameters[i];
    Tensor t(DType::kFloat32, p.shape);
    if (p.init == ParameterSpec::Init::kOnes || p.init == ParameterSpec::Init::kZeros) {
      if (p.init == ParameterSpec::Init::kOnes) std::fill(t.f32().begin(), t.f32().end(), 1.0f);
      (void)out.Add(p.name, std::move(t));
      continue;
    }
    Rng rng(DeriveSeed(seed, {0x696e6974ULL /*"init"*/, i}));
    if (p.init == ParameterSpec::Init::kNormal) {
      for (float& v : t.f32()) v = static_cast<float>(rng.Normal() * p.normal_std);
      (void)out.Add(p.name, std::move(t));
      continue;
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(p.fan_in));
    for (float& v : t.f32()) v = static_cast<float>((2.0 * rng.Uniform() - 1.0) * bound);
    (void)out.Add(p.name, std::move(t));
  }
  return out;
}

}  // namespace tailor
