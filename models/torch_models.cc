#include "models/torch_models.h"

#include <cstring>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "models/torch_reward.h"
#include "models/torch_transformer.h"

namespace tailor {
namespace {

namespace F = torch::nn::functional;

// A node of the module tree that only holds tensors: the spec's dotted names become paths.
class Holder : public torch::nn::Module {};

torch::nn::Module& ChildFor(torch::nn::Module& root, const std::vector<std::string>& path) {
  torch::nn::Module* node = &root;
  for (const std::string& part : path) {
    auto children = node->named_children();
    std::shared_ptr<torch::nn::Module>* child = children.find(part);
    node = child != nullptr ? child->get() : node->register_module(part, std::make_shared<Holder>()).get();
  }
  return *node;
}

// One batch-norm layer's tensors; in training mode the running statistics move by the model's
// momentum.
struct Norm {
  Norm(const TorchModel& m, const std::string& layer)
      : weight(m.Find(layer + ".weight")), bias(m.Find(layer + ".bias")),
        mean(m.Find(layer + ".running_mean")), var(m.Find(layer + ".running_var")) {}
  at::Tensor operator()(const TorchModel& m, const at::Tensor& x) const {
    return torch::batch_norm(x, weight, bias, mean, var, m.is_training(), m.norm_momentum(),
                             /*eps=*/1e-5, /*cudnn_enabled=*/false);
  }
  at::Tensor weight, bias, mean, var;
};

// conv(1->32, 5) - ReLU - maxpool 2 - conv(32->64, 5) - ReLU - maxpool 2 - fc1 - ReLU - fc2,
// with batch norm after conv1, conv2 and fc1 when the model has it (FedBN's model).
class CnnProgram : public ForwardProgram {
 public:
  CnnProgram(const TorchModel& m, bool norm)
      : m_(m), conv1_w_(m.Find("conv1.weight")), conv1_b_(m.Find("conv1.bias")),
        conv2_w_(m.Find("conv2.weight")), conv2_b_(m.Find("conv2.bias")),
        fc1_w_(m.Find("fc1.weight")), fc1_b_(m.Find("fc1.bias")), fc2_w_(m.Find("fc2.weight")),
        fc2_b_(m.Find("fc2.bias")) {
    if (norm) norms_ = {Norm(m, "bn1"), Norm(m, "bn2"), Norm(m, "bn3")};
  }
  at::Tensor Forward(const at::Tensor& x) override {
    const bool norm = !norms_.empty();
    at::Tensor h = torch::conv2d(x, conv1_w_, conv1_b_);
    if (norm) h = norms_[0](m_, h);
    h = F::max_pool2d(torch::relu(h), F::MaxPool2dFuncOptions(2));
    h = torch::conv2d(h, conv2_w_, conv2_b_);
    if (norm) h = norms_[1](m_, h);
    h = F::max_pool2d(torch::relu(h), F::MaxPool2dFuncOptions(2));
    h = torch::linear(h.flatten(1), fc1_w_, fc1_b_);
    if (norm) h = norms_[2](m_, h);
    return torch::linear(torch::relu(h), fc2_w_, fc2_b_);
  }

 private:
  const TorchModel& m_;
  at::Tensor conv1_w_, conv1_b_, conv2_w_, conv2_b_, fc1_w_, fc1_b_, fc2_w_, fc2_b_;
  std::vector<Norm> norms_;
};

class MlpProgram : public ForwardProgram {
 public:
  explicit MlpProgram(const TorchModel& m)
      : fc1_w_(m.Find("fc1.weight")), fc1_b_(m.Find("fc1.bias")), fc2_w_(m.Find("fc2.weight")),
        fc2_b_(m.Find("fc2.bias")) {}
  at::Tensor Forward(const at::Tensor& x) override {
    return torch::linear(torch::relu(torch::linear(x.flatten(1), fc1_w_, fc1_b_)), fc2_w_, fc2_b_);
  }

 private:
  at::Tensor fc1_w_, fc1_b_, fc2_w_, fc2_b_;
};

std::unique_ptr<ForwardProgram> ProgramFor(const TorchModel& m) {
  const std::string& family = m.spec().family;
  if (family == "fmnist_cnn") return std::make_unique<CnnProgram>(m, false);
  if (family == "fmnist_cnn_bn") return std::make_unique<CnnProgram>(m, true);
  if (family == "mlp") return std::make_unique<MlpProgram>(m);
  if (family == "byte_transformer") return std::make_unique<TransformerProgram>(m);
  if (family == "byte_reward") return std::make_unique<RewardProgram>(m);
  if (family == "byte_dpo") return std::make_unique<DpoProgram>(m);
  return nullptr;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TorchModel::TorchModel(const ModelSpec& spec) : spec_(spec) {
  // Start from the spec's own initialization (seed 0); a trainer loads the real model next.
  const ParameterSet init = InitialParameters(spec_, 0);
  for (const ParameterSpec& p : spec_.parameters) {
    std::vector<std::string> path = absl::StrSplit(p.name, '.');
    const std::string leaf = path.back();
    path.pop_back();
    torch::nn::Module& owner = ChildFor(*this, path);
    at::Tensor t = torch::empty(p.shape, torch::kFloat32);
    const Tensor* value = init.Find(p.name);
    std::memcpy(t.data_ptr<float>(), value->data(), value->byte_size());
    if (p.buffer) {
      owner.register_buffer(leaf, t);
    } else {
      owner.register_parameter(leaf, t);
    }
  }
  program_ = ProgramFor(*this);
}

at::Tensor TorchModel::Find(const std::string& name) const {
  auto params = named_parameters(/*recurse=*/true);
  if (const at::Tensor* t = params.find(name); t != nullptr) return *t;
  auto buffers = named_buffers(/*recurse=*/true);
  if (const at::Tensor* t = buffers.find(name); t != nullptr) return *t;
  TORCH_CHECK(false, "model ", spec_.architecture, " has no tensor '", name, "'");
}

bool TorchModel::HasNormStatistics() const {
  for (const auto& b : named_buffers(true)) {
    if (EndsWith(b.key(), ".running_mean")) return true;
  }
  return false;
}

void TorchModel::ResetNormStatistics() {
  torch::NoGradGuard no_grad;
  for (auto& b : named_buffers(true)) {
    if (EndsWith(b.key(), ".running_mean")) b.value().zero_();
    if (EndsWith(b.key(), ".running_var")) b.value().fill_(1.0);
  }
}

absl::StatusOr<std::shared_ptr<TorchModel>> CreateTorchModel(const ModelSpec& spec) {
  try {
    auto model = std::make_shared<TorchModel>(spec);
    if (model->program() == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("no forward program for model family '",
                                                     spec.family, "' (architecture '",
                                                     spec.architecture, "')"));
    }
    // Registration order is what Snapshot() and the wire see: it must be the spec's.
    std::vector<std::string> params, buffers, want_params = spec.TrainableNames(), want_buffers;
    for (const auto& p : model->named_parameters(true)) params.push_back(p.key());
    for (const auto& b : model->named_buffers(true)) buffers.push_back(b.key());
    for (const ParameterSpec& p : spec.parameters) {
      if (p.buffer) want_buffers.push_back(p.name);
    }
    if (params != want_params || buffers != want_buffers) {
      return absl::InternalError(absl::StrCat(
          "architecture '", spec.architecture, "' declares its tensors in an order LibTorch "
          "cannot register (parents before children, one module's tensors together): got ",
          absl::StrJoin(params, ","), " / ", absl::StrJoin(buffers, ",")));
    }
    return model;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("building architecture '", spec.architecture,
                                            "': ", e.what_without_backtrace()));
  }
}

}  // namespace tailor
