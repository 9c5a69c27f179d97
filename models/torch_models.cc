#include "models/torch_models.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"

namespace tailor {

NormLayer::NormLayer(int64_t width)
    : weight_(register_parameter("weight", torch::ones({width}))),
      bias_(register_parameter("bias", torch::zeros({width}))),
      running_mean_(register_buffer("running_mean", torch::zeros({width}))),
      running_var_(register_buffer("running_var", torch::ones({width}))) {}

at::Tensor NormLayer::Forward(const at::Tensor& x) {
  return torch::batch_norm(x, weight_, bias_, running_mean_, running_var_, is_training(),
                           momentum, /*eps=*/1e-5, /*cudnn_enabled=*/false);
}

void NormLayer::ResetStatistics() {
  torch::NoGradGuard no_grad;
  running_mean_.zero_();
  running_var_.fill_(1.0);
}

namespace {

namespace F = torch::nn::functional;

class FmnistCnn : public TorchClassifier {
 public:
  FmnistCnn()
      : conv1_(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 5)))),
        conv2_(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 5)))),
        fc1_(register_module("fc1", torch::nn::Linear(1024, 512))),
        fc2_(register_module("fc2", torch::nn::Linear(512, 10))) {}

  at::Tensor Forward(const at::Tensor& x) override {
    auto h = F::max_pool2d(torch::relu(conv1_(x)), F::MaxPool2dFuncOptions(2));
    h = F::max_pool2d(torch::relu(conv2_(h)), F::MaxPool2dFuncOptions(2));
    h = torch::relu(fc1_(h.flatten(1)));
    return fc2_(h);
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::Conv2d conv2_;
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};

class FmnistCnnBn : public TorchClassifier {
 public:
  FmnistCnnBn()
      : conv1_(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 5)))),
        bn1_(register_module("bn1", std::make_shared<NormLayer>(32))),
        conv2_(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 5)))),
        bn2_(register_module("bn2", std::make_shared<NormLayer>(64))),
        fc1_(register_module("fc1", torch::nn::Linear(1024, 512))),
        bn3_(register_module("bn3", std::make_shared<NormLayer>(512))),
        fc2_(register_module("fc2", torch::nn::Linear(512, 10))) {}

  at::Tensor Forward(const at::Tensor& x) override {
    auto h = F::max_pool2d(torch::relu(bn1_->Forward(conv1_(x))), F::MaxPool2dFuncOptions(2));
    h = F::max_pool2d(torch::relu(bn2_->Forward(conv2_(h))), F::MaxPool2dFuncOptions(2));
    h = torch::relu(bn3_->Forward(fc1_(h.flatten(1))));
    return fc2_(h);
  }

 private:
  torch::nn::Conv2d conv1_;
  std::shared_ptr<NormLayer> bn1_;
  torch::nn::Conv2d conv2_;
  std::shared_ptr<NormLayer> bn2_;
  torch::nn::Linear fc1_;
  std::shared_ptr<NormLayer> bn3_;
  torch::nn::Linear fc2_;
};

class Mlp : public TorchClassifier {
 public:
  Mlp(int64_t in, int64_t hidden, int64_t out)
      : fc1_(register_module("fc1", torch::nn::Linear(in, hidden))),
        fc2_(register_module("fc2", torch::nn::Linear(hidden, out))) {}
  at::Tensor Forward(const at::Tensor& x) override {
    return fc2_(torch::relu(fc1_(x.flatten(1))));
  }

 private:
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<TorchClassifier>> CreateTorchClassifier(
    const std::string& architecture) {
  if (architecture == "fmnist_cnn") return std::make_shared<FmnistCnn>();
  if (architecture == "fmnist_cnn_bn") return std::make_shared<FmnistCnnBn>();
  if (architecture == "mlp_10m") return std::make_shared<Mlp>(784, 12755, 10);
  if (architecture == "mlp_small") return std::make_shared<Mlp>(784, 64, 10);
  return absl::NotFoundError(absl::StrCat("no torch module for architecture '", architecture, "'"));
}

}  // namespace tailor
