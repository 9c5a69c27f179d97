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
  std::string name;
  std::vector<int64_t> shape;
  // Fan-in of the layer the parameter belongs to; init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // which is PyTorch's default for Linear and Conv2d weights and biases.
  int64_t fan_in = 1;
};

struct ModelSpec {
  std::string architecture;
  // In module registration order (the order of named_parameters()).
  std::vector<ParameterSpec> parameters;
  // Glob patterns selecting the classifier head (FedPer's personal part).
  std::vector<std::string> head_patterns;
  int num_classes = 0;
};

// NOT_FOUND for an unknown architecture name.
absl::StatusOr<ModelSpec> GetModelSpec(const std::string& architecture);

// Deterministic initial parameters for `spec` from `seed` (Tailor's own RNG, so coordinator
// and clients agree bit for bit without exchanging the model).
ParameterSet InitialParameters(const ModelSpec& spec, uint64_t seed);

}  // namespace tailor

#endif  // TAILOR_MODELS_MODEL_SPEC_H_
