// The LibTorch module of any architecture, built from its ModelSpec (models/model_spec.h): it
// registers exactly the spec's tensors, in the spec's order, nested by their dotted names, and
// runs the spec family's forward program over them. Include only from training code
// (client/torch_*.cc, models/*.cc): this header pulls in <torch/nn/module.h>.
#ifndef TAILOR_MODELS_TORCH_MODELS_H_
#define TAILOR_MODELS_TORCH_MODELS_H_

#include <memory>
#include <string>

#include <torch/nn/module.h>

#include "absl/status/statusor.h"
#include "models/model_spec.h"

namespace tailor {

class TorchModel;

// A family's computation over the tensors of a TorchModel. Built once per model: it looks its
// tensors up by name when built, so a name the spec lacks fails at construction, not mid-run.
class ForwardProgram {
 public:
  virtual ~ForwardProgram() = default;
  // Image classifiers: [B, C, H, W] float → [B, classes] logits. Language models: [B, T]
  // int64 token ids → [B, T, vocabulary] next-token logits.
  virtual at::Tensor Forward(const at::Tensor& input) = 0;
};

class TorchModel : public torch::nn::Module {
 public:
  explicit TorchModel(const ModelSpec& spec);
  at::Tensor Forward(const at::Tensor& input) { return program_->Forward(input); }
  const ModelSpec& spec() const { return spec_; }
  ForwardProgram* program() const { return program_.get(); }

  // The registered parameter or buffer `name`; throws c10::Error when there is none.
  at::Tensor Find(const std::string& name) const;

  // Batch norm's running statistics (buffers *.running_mean, *.running_var): FedBN re-estimates
  // them for a new set of shared layers. `norm_momentum` is the running statistics' update
  // weight (0.1 as in PyTorch); recalibration sets it per batch for an exact average.
  bool HasNormStatistics() const;
  void ResetNormStatistics();
  double norm_momentum() const { return norm_momentum_; }
  void set_norm_momentum(double m) { norm_momentum_ = m; }

 private:
  ModelSpec spec_;
  std::unique_ptr<ForwardProgram> program_;
  double norm_momentum_ = 0.1;
};

// INVALID_ARGUMENT when the spec's family has no forward program; INTERNAL when the spec's
// names would not register in its own order (a malformed declaration).
absl::StatusOr<std::shared_ptr<TorchModel>> CreateTorchModel(const ModelSpec& spec);

}  // namespace tailor

#endif  // TAILOR_MODELS_TORCH_MODELS_H_
