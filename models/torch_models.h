// LibTorch modules for the architectures of model_spec.h. Include only from training code
// (client/torch_*.cc, models/*.cc): this header pulls in <torch/nn/module.h>.
#ifndef TAILOR_MODELS_TORCH_MODELS_H_
#define TAILOR_MODELS_TORCH_MODELS_H_

#include <memory>
#include <string>

#include <torch/nn/module.h>

#include "absl/status/statusor.h"

namespace tailor {

// A classifier: forward maps a [B, C, H, W] float batch to [B, classes] logits.
class TorchClassifier : public torch::nn::Module {
 public:
  virtual at::Tensor Forward(const at::Tensor& input) = 0;
};

// Parameter names and order match GetModelSpec(architecture).
absl::StatusOr<std::shared_ptr<TorchClassifier>> CreateTorchClassifier(
    const std::string& architecture);

}  // namespace tailor

#endif  // TAILOR_MODELS_TORCH_MODELS_H_
