// Architecture descriptions without LibTorch: parameter names, shapes and initialization.
// The coordinator builds the initial global model from a spec and a seed without linking
// torch; models/torch_models.h builds the matching trainable module.
#ifndef TAILOR_MODELS_MODEL_SPEC_H_
#define TAILOR_MODELS_MODEL_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"

namespace tailor {

struct ParameterSpec {
  enum class Init { kUniformFanIn, kOnes, kZeros };
  std::string name;
  std::vector<int64_t> shape;
  // Fan-in of the layer the parameter belongs to; kUniformFanIn is U(±1/sqrt(fan_in)),
  // PyTorch's default for Linear and Conv2d weights and biases. Batch norm starts at weight 1,
  // bias 0, running mean 0 and running variance 1, as in PyTorch.
  int64_t fan_in = 1;
  Init init = Init::kUniformFanIn;
  // A buffer (batch-norm running statistics): part of the model, moved and stored like a
  // parameter, but not trained by gradients.
  bool buffer = false;
};

struct ModelSpec {
  std::string architecture;
  // In module registration order (the order of named_parameters()).
  std::vector<ParameterSpec> parameters;
  // Glob patterns selecting the classifier head (FedPer's personal part).
  std::vector<std::string> head_patterns;
  // Glob patterns selecting the normalization layers (FedBN's personal part); empty when the
  // model has none.
  std::vector<std::string> norm_patterns;
  int num_classes = 0;
  // The names of the trained parameters (not buffers), in order.
  std::vector<std::string> TrainableNames() const;
};

// NOT_FOUND for an unknown architecture name.
absl::StatusOr<ModelSpec> GetModelSpec(const std::string& architecture);

// Deterministic initial parameters for `spec` from `seed` (Tailor's own RNG, so coordinator
// and clients agree bit for bit without exchanging the model).
ParameterSet InitialParameters(const ModelSpec& spec, uint64_t seed);

}  // namespace tailor

#endif  // TAILOR_MODELS_MODEL_SPEC_H_
