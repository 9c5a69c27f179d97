// The LibTorch implementation of LocalTrainer. c10::Error is caught here, at the torch edge,
// and turned into absl::Status; nothing torch-typed escapes this file.
#include <torch/torch.h>

#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "client/local_trainer.h"
#include "core/random.h"
#include "models/torch_models.h"

namespace tailor {
namespace {

absl::Status FromTorch(const c10::Error& e, absl::string_view where) {
  return absl::InternalError(absl::StrCat(where, ": LibTorch error: ", e.what_without_backtrace()));
}

// Builds a normalized float batch [B, C, H, W] and label tensor from sample indices.
void FillBatch(const ImageDataset& pool, absl::Span<const uint32_t> idx, at::Tensor* x,
               at::Tensor* y) {
  const int64_t b = static_cast<int64_t>(idx.size());
  const size_t sample = pool.sample_bytes();
  *x = torch::empty({b, pool.channels, pool.rows, pool.cols}, torch::kFloat32);
  *y = torch::empty({b}, torch::kInt64);
  float* xp = x->data_ptr<float>();
  int64_t* yp = y->data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const uint8_t* src = pool.pixels.data() + static_cast<size_t>(idx[i]) * sample;
    // ToTensor() then Normalize(0.5, 0.5): v / 255 * 2 - 1, as PFLlib's Fashion-MNIST loader.
    for (size_t j = 0; j < sample; ++j) xp[i * sample + j] = src[j] * (2.0f / 255.0f) - 1.0f;
    yp[i] = pool.labels[idx[i]];
  }
}

class TorchTrainer : public LocalTrainer {
 public:
  explicit TorchTrainer(std::shared_ptr<TorchModel> model) : model_(std::move(model)) {}

  absl::Status Load(const ParameterSet& params) override {
    try {
      torch::NoGradGuard no_grad;
      auto named = model_->named_parameters(/*recurse=*/true);
      auto buffers = model_->named_buffers(/*recurse=*/true);
      for (const auto& e : params.entries()) {
        at::Tensor* dst = named.find(e.name);
        if (dst == nullptr) dst = buffers.find(e.name);
        if (dst == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("model has no parameter '", e.name, "'"));
        }
        if (e.tensor.dtype() != DType::kFloat32 || dst->sizes().vec() != e.tensor.shape()) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter '", e.name, "' is ", e.tensor.Describe(),
                           ", model expects float32", c10::str(dst->sizes())));
        }
        std::memcpy(dst->data_ptr<float>(), e.tensor.data(), e.tensor.byte_size());
      }
      return absl::OkStatus();
    } catch (const c10::Error& e) {
      return FromTorch(e, "Load");
    }
  }

  ParameterSet Snapshot() const override {
    ParameterSet out;
    auto copy = [&out](const std::string& name, const at::Tensor& t) {
      at::Tensor c = t.detach().contiguous().to(torch::kFloat32);
      Tensor dst(DType::kFloat32, c.sizes().vec());
      std::memcpy(dst.data(), c.data_ptr<float>(), dst.byte_size());
      (void)out.Add(name, std::move(dst));
    };
    for (const auto& p : model_->named_parameters(true)) copy(p.key(), p.value());
    for (const auto& b : model_->named_buffers(true)) copy(b.key(), b.value());
    return out;
  }

  absl::StatusOr<TrainStats> Train(const ImageDataset& pool, absl::Span<const uint32_t> indices,
                                   const TrainOptions& options, const TrainableFilter& trainable,
                                   uint64_t seed) override {
    try {
      std::vector<at::Tensor> params;
      for (auto& p : model_->named_parameters(true)) {
        const bool train = !trainable || trainable(p.key());
        p.value().set_requires_grad(train);
        if (train) params.push_back(p.value());
      }
      TrainStats stats;
      if (params.empty() || indices.empty()) return stats;
      torch::optim::SGD sgd(params, torch::optim::SGDOptions(options.learning_rate)
                                        .momentum(options.momentum)
                                        .weight_decay(options.weight_decay));
      // FedProx: the gradient of (mu/2)·||w - w_start||² is mu·(w - w_start).
      std::vector<std::pair<at::Tensor, at::Tensor>> anchored;
      if (options.proximal_mu > 0) {
        for (auto& p : model_->named_parameters(true)) {
          const bool train = !trainable || trainable(p.key());
          if (!train || (options.proximal && !options.proximal(p.key()))) continue;
          const Tensor* anchor = options.proximal_anchor == nullptr
                                     ? nullptr
                                     : options.proximal_anchor->Find(p.key());
          if (anchor == nullptr) {
            anchored.emplace_back(p.value(), p.value().detach().clone());
            continue;
          }
          if (anchor->dtype() != DType::kFloat32 || p.value().sizes().vec() != anchor->shape()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "proximal anchor '", p.key(), "' is ", anchor->Describe(),
                ", model expects float32", c10::str(p.value().sizes())));
          }
          anchored.emplace_back(p.value(), torch::from_blob(const_cast<uint8_t*>(anchor->data()),
                                                            p.value().sizes(), torch::kFloat32)
                                               .clone());
        }
      }
      model_->train();
      if (options.dp_sgd_clip_norm > 0) {
        if (options.dp_sgd_coins == nullptr) {
          return absl::InvalidArgumentError("DP-SGD needs the device's private coins");
        }
        TrainStats dp = TrainDpSgd(pool, indices, options, params, anchored, sgd);
        for (auto& p : model_->parameters(true)) p.set_requires_grad(true);
        if (!std::isfinite(dp.mean_loss)) {
          return absl::FailedPreconditionError(
              "local training diverged (non-finite loss); lower train.learning_rate");
        }
        return dp;
      }
      Rng rng(seed);
      std::vector<uint32_t> order(indices.begin(), indices.end());
      const size_t bs = static_cast<size_t>(options.batch_size);
      double loss_sum = 0;
      at::Tensor x, y;
      for (int epoch = 0; epoch < options.epochs; ++epoch) {
        rng.Shuffle(&order);
        for (size_t begin = 0; begin < order.size(); begin += bs) {
          const size_t end = std::min(order.size(), begin + bs);
          if (end - begin < bs && options.drop_last) break;
          FillBatch(pool, absl::MakeConstSpan(order).subspan(begin, end - begin), &x, &y);
          sgd.zero_grad();
          at::Tensor loss = torch::nn::functional::cross_entropy(model_->Forward(x), y);
          loss.backward();
          if (!anchored.empty()) {
            torch::NoGradGuard no_grad;
            for (auto& [w, start] : anchored) {
              w.mutable_grad().add_(w.detach() - start, options.proximal_mu);
            }
          }
          sgd.step();
          loss_sum += loss.item<double>();
          ++stats.steps;
          stats.samples += static_cast<int64_t>(end - begin);
        }
      }
      for (auto& p : model_->parameters(true)) p.set_requires_grad(true);
      stats.mean_loss = stats.steps > 0 ? loss_sum / stats.steps : 0.0;
      if (!std::isfinite(stats.mean_loss)) {
        return absl::FailedPreconditionError(
            "local training diverged (non-finite loss); lower train.learning_rate");
      }
      return stats;
    } catch (const c10::Error& e) {
      return FromTorch(e, "Train");
    }
  }

  absl::StatusOr<ParameterSet> Gradient(const ImageDataset& pool,
                                        absl::Span<const uint32_t> batch, double* loss) override {
    if (batch.empty()) return absl::InvalidArgumentError("Gradient needs a non-empty batch");
    try {
      model_->train();
      model_->zero_grad();
      at::Tensor x, y;
      FillBatch(pool, batch, &x, &y);
      at::Tensor mean_loss = torch::nn::functional::cross_entropy(model_->Forward(x), y);
      mean_loss.backward();
      *loss = mean_loss.item<double>();
      if (!std::isfinite(*loss)) {
        return absl::FailedPreconditionError(
            "local training diverged (non-finite loss); lower train.learning_rate");
      }
      ParameterSet out;
      for (const auto& p : model_->named_parameters(true)) {
        Tensor g(DType::kFloat32, p.value().sizes().vec());
        const at::Tensor& grad = p.value().grad();
        if (grad.defined()) {
          at::Tensor c = grad.contiguous();
          std::memcpy(g.data(), c.data_ptr<float>(), g.byte_size());
        } else {
          std::fill(g.f32().begin(), g.f32().end(), 0.0f);
        }
        (void)out.Add(p.key(), std::move(g));
      }
      return out;
    } catch (const c10::Error& e) {
      return FromTorch(e, "Gradient");
    }
  }

  absl::Status RecalibrateNormalization(const ImageDataset& pool,
                                        absl::Span<const uint32_t> indices,
                                        int batch_size) override {
    try {
      if (!model_->HasNormStatistics() || indices.empty()) return absl::OkStatus();
      model_->ResetNormStatistics();
      torch::NoGradGuard no_grad;
      model_->train();
      const size_t bs = static_cast<size_t>(std::max(1, batch_size));
      at::Tensor x, y;
      int64_t batches = 0;
      for (size_t begin = 0; begin < indices.size(); begin += bs) {
        const size_t end = std::min(indices.size(), begin + bs);
        if (end - begin < 2) break;  // one sample has no variance
        // Momentum 1/(k+1) at the k-th batch makes the running statistics the plain average.
        model_->set_norm_momentum(1.0 / static_cast<double>(batches + 1));
        FillBatch(pool, indices.subspan(begin, end - begin), &x, &y);
        model_->Forward(x);
        ++batches;
      }
      model_->set_norm_momentum(0.1);
      return absl::OkStatus();
    } catch (const c10::Error& e) {
      return FromTorch(e, "RecalibrateNormalization");
    }
  }

  absl::StatusOr<EvalStats> Evaluate(const ImageDataset& pool,
                                     absl::Span<const uint32_t> indices) override {
    try {
      torch::InferenceMode guard;
      model_->eval();
      EvalStats stats;
      constexpr size_t kEvalBatch = 256;
      at::Tensor x, y;
      for (size_t begin = 0; begin < indices.size(); begin += kEvalBatch) {
        const size_t end = std::min(indices.size(), begin + kEvalBatch);
        FillBatch(pool, indices.subspan(begin, end - begin), &x, &y);
        at::Tensor logits = model_->Forward(x);
        stats.loss_sum +=
            torch::nn::functional::cross_entropy(
                logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .item<double>();
        stats.correct += logits.argmax(1).eq(y).sum().item<int64_t>();
        stats.count += static_cast<int64_t>(end - begin);
      }
      return stats;
    } catch (const c10::Error& e) {
      return FromTorch(e, "Evaluate");
    }
  }

 private:
  // Sample-level DP-SGD (see TrainOptions): Poisson-sampled steps, per-example clipping by one
  // backward pass per example, Gaussian noise from the private coins on the clipped sum.
  TrainStats TrainDpSgd(const ImageDataset& pool, absl::Span<const uint32_t> indices,
                        const TrainOptions& options, std::vector<at::Tensor>& params,
                        std::vector<std::pair<at::Tensor, at::Tensor>>& anchored,
                        torch::optim::SGD& sgd) {
    PrivateCoins& coins = *options.dp_sgd_coins;
    const double n = static_cast<double>(indices.size());
    const double rate = DpSgdSamplingRate(options.batch_size, indices.size());
    const double expected_batch = rate * n;
    const int64_t steps_per_epoch = std::max<int64_t>(1, std::llround(n / expected_batch));
    const double clip = options.dp_sgd_clip_norm;
    const double noise_std = options.dp_sgd_noise_multiplier * clip;
    std::vector<at::Tensor> sums;
    for (const at::Tensor& p : params) sums.push_back(torch::zeros_like(p));
    std::vector<float> noise;
    TrainStats stats;
    double loss_sum = 0;
    int64_t loss_steps = 0;
    at::Tensor x, y;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      for (int64_t step = 0; step < steps_per_epoch; ++step) {
        for (at::Tensor& s : sums) s.zero_();
        double step_loss = 0;
        int64_t sampled = 0;
        for (uint32_t index : indices) {
          if (!coins.Bernoulli(rate)) continue;
          FillBatch(pool, absl::MakeConstSpan(&index, 1), &x, &y);
          sgd.zero_grad();
          at::Tensor loss = torch::nn::functional::cross_entropy(model_->Forward(x), y);
          loss.backward();
          torch::NoGradGuard no_grad;
          double squared = 0;
          for (const at::Tensor& p : params) squared += p.grad().pow(2).sum().item<double>();
          const double norm = std::sqrt(squared);
          const double factor = norm > clip ? clip / norm : 1.0;
          for (size_t i = 0; i < params.size(); ++i) sums[i].add_(params[i].grad(), factor);
          step_loss += loss.item<double>();
          ++sampled;
        }
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < params.size(); ++i) {
          noise.resize(static_cast<size_t>(sums[i].numel()));
          coins.FillStandardNormal(noise.data(), noise.size());
          at::Tensor noisy =
              sums[i] + torch::from_blob(noise.data(), sums[i].sizes(), torch::kFloat32) * noise_std;
          params[i].mutable_grad() = noisy.div_(expected_batch);
        }
        for (auto& [w, start] : anchored) {
          w.mutable_grad().add_(w.detach() - start, options.proximal_mu);
        }
        sgd.step();
        if (sampled > 0) {
          loss_sum += step_loss / static_cast<double>(sampled);
          ++loss_steps;
        }
        ++stats.steps;  // an empty Poisson sample is still a (noise-only) step
        stats.samples += sampled;
      }
    }
    stats.mean_loss = loss_steps > 0 ? loss_sum / static_cast<double>(loss_steps) : 0.0;
    return stats;
  }

  std::shared_ptr<TorchModel> model_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LocalTrainer>> LocalTrainer::Create(const ModelSpec& spec) {
  if (spec.task != TaskKind::kImageClassification) {
    return absl::UnimplementedError(absl::StrCat("architecture '", spec.architecture,
                                                 "' is a language model; the image trainer cannot train it"));
  }
  auto model = CreateTorchModel(spec);
  if (!model.ok()) return model.status();
  return std::unique_ptr<LocalTrainer>(new TorchTrainer(*std::move(model)));
}

absl::StatusOr<std::unique_ptr<LocalTrainer>> LocalTrainer::Create(
    const std::string& architecture) {
  absl::StatusOr<ModelSpec> spec = GetModelSpec(architecture);
  if (!spec.ok()) return spec.status();
  return Create(*spec);
}

void SetTorchThreads(int intra_op_threads) {
  torch::set_num_threads(intra_op_threads < 1 ? 1 : intra_op_threads);
}

}  // namespace tailor
