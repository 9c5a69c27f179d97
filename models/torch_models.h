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

// Batch norm without the num_batches_tracked counter (an int64 buffer LibTorch only reads when
// momentum is unset): every buffer is then float32, like every parameter. `momentum` is the
// running statistics' update weight; recalibration sets it per batch for an exact average.
class NormLayer : public torch::nn::Module {
 public:
  explicit NormLayer(int64_t width);
  at::Tensor Forward(const at::Tensor& x);
  // Running mean 0, running variance 1 (a fresh layer's statistics).
  void ResetStatistics();
  double momentum = 0.1;

 private:
  at::Tensor weight_, bias_, running_mean_, running_var_;
};

// Parameter names and order match GetModelSpec(architecture).
absl::StatusOr<std::shared_ptr<TorchClassifier>> CreateTorchClassifier(
    const std::string& architecture);

}  // namespace tailor

#endif  // TAILOR_MODELS_TORCH_MODELS_H_
