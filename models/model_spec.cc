#include "models/model_spec.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/random.h"

namespace tailor {
namespace {

// The reference CNN of DESIGN.md (PFLlib's FedAvgCNN for 28x28 grey images):
// conv(1->32, 5) - ReLU - maxpool 2 - conv(32->64, 5) - ReLU - maxpool 2 - fc(1024->512) - ReLU
// - fc(512->10). The head is fc2.
ModelSpec FmnistCnn() {
  ModelSpec spec;
  spec.architecture = "fmnist_cnn";
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
  spec.num_classes = 10;
  spec.parameters = {
      {"fc1.weight", {64, 784}, 784}, {"fc1.bias", {64}, 784},
      {"fc2.weight", {10, 64}, 64}, {"fc2.bias", {10}, 64},
  };
  spec.head_patterns = {"fc2.*"};
  return spec;
}

}  // namespace

absl::StatusOr<ModelSpec> GetModelSpec(const std::string& architecture) {
  if (architecture == "fmnist_cnn") return FmnistCnn();
  if (architecture == "fmnist_cnn_bn") return FmnistCnnBn();
  if (architecture == "mlp_10m") return Mlp10M();
  if (architecture == "mlp_small") return MlpSmall();
  return absl::NotFoundError(absl::StrCat("unknown model architecture '", architecture,
                                          "' (known: fmnist_cnn, fmnist_cnn_bn, mlp_10m, mlp_small)"));
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
    if (p.init != ParameterSpec::Init::kUniformFanIn) {
      if (p.init == ParameterSpec::Init::kOnes) std::fill(t.f32().begin(), t.f32().end(), 1.0f);
      (void)out.Add(p.name, std::move(t));
      continue;
    }
    Rng rng(DeriveSeed(seed, {0x696e6974ULL /*"init"*/, i}));
    const double bound = 1.0 / std::sqrt(static_cast<double>(p.fan_in));
    for (float& v : t.f32()) v = static_cast<float>((2.0 * rng.Uniform() - 1.0) * bound);
    (void)out.Add(p.name, std::move(t));
  }
  return out;
}

}  // namespace tailor
