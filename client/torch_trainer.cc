// The LibTorch implementation of LocalTrainer. c10::Error is caught here, at the torch edge,
// and turned into absl::Status; nothing torch-typed escapes this file.
#include <torch/torch.h>

#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "client/local_trainer.h"
#include "core/random.h"
#include "data/image_dataset.h"
#include "data/preference_dataset.h"
#include "data/text_dataset.h"
#include "models/torch_models.h"
#include "models/torch_reward.h"
#include "models/torch_transformer.h"
#include "models/transformer_spec.h"

namespace tailor {
namespace {

absl::Status FromTorch(const c10::Error& e, absl::string_view where) {
  return absl::InternalError(absl::StrCat(where, ": LibTorch error: ", e.what_without_backtrace()));
}

// The units one call trains on or scores, and how a batch of them becomes tensors: images
// (one unit per image), or text segments (a text is scored from its beginning-of-text token
// through its terminator, in windows of the model's context).
class Batcher {
 public:
  virtual ~Batcher() = default;
  virtual size_t size() const = 0;
  // Inputs and targets for `units` (ids in [0, size())).
  virtual void Fill(absl::Span<const uint32_t> units, at::Tensor* x, at::Tensor* y) const = 0;
  // The mean loss over the batch's scored targets.
  virtual at::Tensor MeanLoss(const at::Tensor& out, const at::Tensor& y) const = 0;
  // Adds the batch's sums (correct, scored count, summed loss in nats).
  virtual void Score(const at::Tensor& out, const at::Tensor& y, EvalStats* stats) const = 0;
};

class ImageBatcher : public Batcher {
 public:
  ImageBatcher(const ImageDataset& pool, absl::Span<const uint32_t> indices)
      : pool_(pool), indices_(indices) {}
  size_t size() const override { return indices_.size(); }

  // A normalized float batch [B, C, H, W] and its labels.
  void Fill(absl::Span<const uint32_t> units, at::Tensor* x, at::Tensor* y) const override {
    const int64_t b = static_cast<int64_t>(units.size());
    const size_t sample = pool_.sample_bytes();
    *x = torch::empty({b, pool_.channels, pool_.rows, pool_.cols}, torch::kFloat32);
    *y = torch::empty({b}, torch::kInt64);
    float* xp = x->data_ptr<float>();
    int64_t* yp = y->data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
      const uint32_t index = indices_[units[i]];
      const uint8_t* src = pool_.pixels.data() + static_cast<size_t>(index) * sample;
      // ToTensor() then Normalize(0.5, 0.5): v / 255 * 2 - 1, as PFLlib's Fashion-MNIST loader.
      for (size_t j = 0; j < sample; ++j) xp[i * sample + j] = src[j] * (2.0f / 255.0f) - 1.0f;
      yp[i] = pool_.labels[index];
    }
  }
  at::Tensor MeanLoss(const at::Tensor& out, const at::Tensor& y) const override {
    return torch::nn::functional::cross_entropy(out, y);
  }
  void Score(const at::Tensor& logits, const at::Tensor& y, EvalStats* stats) const override {
    stats->loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    stats->correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    stats->count += y.size(0);
  }

 private:
  const ImageDataset& pool_;
  absl::Span<const uint32_t> indices_;
};

// A text as tokens: BOS, its bytes, EOS. Texts longer than the context are cut into windows of
// context + 1 tokens that start every context / 2 tokens; each window scores only the targets
// no earlier window scored, so every byte and the terminator is scored exactly once, with at
// least context / 2 tokens before it once the text is long.
class TextBatcher : public Batcher {
 public:
  static constexpr int64_t kIgnore = -100;
  TextBatcher(const TextDataset& pool, absl::Span<const uint32_t> indices, int64_t context)
      : pool_(pool) {
    const int64_t stride = std::max<int64_t>(1, context / 2);
    for (uint32_t index : indices) {
      const int64_t last = static_cast<int64_t>(pool_.texts[index].size()) + 1;  // EOS position
      int64_t scored_through = 0;
      for (int64_t start = 0;; start += stride) {
        const int64_t end = std::min(start + context, last);
        segments_.push_back({index, start, end, scored_through + 1});
        scored_through = end;
        if (end == last) break;
      }
    }
  }
  size_t size() const override { return segments_.size(); }

  void Fill(absl::Span<const uint32_t> units, at::Tensor* x, at::Tensor* y) const override {
    int64_t width = 1;
    for (uint32_t u : units) width = std::max(width, segments_[u].end - segments_[u].start);
    const int64_t b = static_cast<int64_t>(units.size());
    *x = torch::zeros({b, width}, torch::kInt64);
    *y = torch::full({b, width}, kIgnore, torch::kInt64);
    int64_t* xp = x->data_ptr<int64_t>();
    int64_t* yp = y->data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
      const Segment& s = segments_[units[i]];
      const std::string& text = pool_.texts[s.text];
      auto token = [&text](int64_t position) -> int64_t {
        if (position == 0) return kBosToken;
        if (position == static_cast<int64_t>(text.size()) + 1) return kEosToken;
        return static_cast<unsigned char>(text[static_cast<size_t>(position - 1)]);
      };
      // Input tokens start..end-1 predict targets start+1..end.
      for (int64_t p = s.start; p < s.end; ++p) {
        xp[i * width + (p - s.start)] = token(p);
        if (p + 1 >= s.first_scored) yp[i * width + (p - s.start)] = token(p + 1);
      }
    }
  }
  at::Tensor MeanLoss(const at::Tensor& out, const at::Tensor& y) const override {
    return torch::nn::functional::cross_entropy(
        out.reshape({-1, out.size(-1)}), y.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnore));
  }
  void Score(const at::Tensor& logits, const at::Tensor& y, EvalStats* stats) const override {
    const at::Tensor flat_logits = logits.reshape({-1, logits.size(-1)});
    const at::Tensor flat_y = y.reshape({-1});
    const at::Tensor scored = flat_y.ne(kIgnore);
    stats->loss_sum += torch::nn::functional::cross_entropy(
                           flat_logits, flat_y,
                           torch::nn::functional::CrossEntropyFuncOptions()
                               .reduction(torch::kSum)
                               .ignore_index(kIgnore))
                           .item<double>();
    stats->correct += flat_logits.argmax(1).eq(flat_y).logical_and(scored).sum().item<int64_t>();
    stats->count += scored.sum().item<int64_t>();
  }

 private:
  struct Segment {
    uint32_t text;
    int64_t start, end;    // token positions of the window's inputs: [start, end)
    int64_t first_scored;  // the first target position this window scores
  };
  const TextDataset& pool_;
  std::vector<Segment> segments_;
};

// A candidate as the reward model reads it: BOS, the prompt and a second BOS when there is a
// prompt, the candidate, EOS. A sequence longer than the context keeps its first context - 1
// tokens and ends with EOS.
std::vector<int64_t> RewardTokens(const std::string& prompt, const std::string& candidate,
                                  int64_t context) {
  std::vector<int64_t> t = {kBosToken};
  if (!prompt.empty()) {
    for (unsigned char c : prompt) t.push_back(c);
    t.push_back(kBosToken);
  }
  for (unsigned char c : candidate) t.push_back(c);
  if (static_cast<int64_t>(t.size()) >= context) t.resize(static_cast<size_t>(context - 1));
  t.push_back(kEosToken);
  return t;
}

// Rows of tokens as one [rows, longest] batch padded with EOS (never read: attention is causal
// and the reward is read at the first EOS).
at::Tensor PadWithEos(const std::vector<std::vector<int64_t>>& rows) {
  int64_t width = 1;
  for (const auto& r : rows) width = std::max<int64_t>(width, static_cast<int64_t>(r.size()));
  at::Tensor x = torch::full({static_cast<int64_t>(rows.size()), width}, kEosToken, torch::kInt64);
  int64_t* xp = x.data_ptr<int64_t>();
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy(rows[i].begin(), rows[i].end(), xp + static_cast<int64_t>(i) * width);
  }
  return x;
}

// A preference pair as two sequences (RewardTokens), chosen then rejected. A batch of B pairs
// is 2B rows (the B chosen, then the B rejected); the model returns one reward per row and the
// loss is Bradley-Terry's, -log sigmoid(r(chosen) - r(rejected)).
class PairBatcher : public Batcher {
 public:
  PairBatcher(const PreferenceDataset& pool, absl::Span<const uint32_t> indices, int64_t context)
      : pool_(pool), indices_(indices), context_(context) {}
  size_t size() const override { return indices_.size(); }

  void Fill(absl::Span<const uint32_t> units, at::Tensor* x, at::Tensor* y) const override {
    const int64_t b = static_cast<int64_t>(units.size());
    std::vector<std::vector<int64_t>> rows;
    for (bool chosen : {true, false}) {
      for (uint32_t u : units) {
        const PreferencePair& p = pool_.pairs[indices_[u]];
        rows.push_back(RewardTokens(pool_.texts[p.prompt],
                                    pool_.texts[chosen ? p.chosen : p.rejected], context_));
      }
    }
    *x = PadWithEos(rows);
    *y = torch::zeros({b}, torch::kInt64);  // the chosen row is always the first of the two
  }
  at::Tensor MeanLoss(const at::Tensor& rewards, const at::Tensor& y) const override {
    return torch::softplus(-Margins(rewards, y)).mean();
  }
  void Score(const at::Tensor& rewards, const at::Tensor& y, EvalStats* stats) const override {
    const at::Tensor margin = Margins(rewards, y);
    stats->loss_sum += torch::softplus(-margin).sum().item<double>();
    stats->correct += margin.gt(0).sum().item<int64_t>();
    stats->count += margin.size(0);
  }

 private:
  static at::Tensor Margins(const at::Tensor& rewards, const at::Tensor& y) {
    const int64_t b = y.size(0);
    return rewards.narrow(0, 0, b) - rewards.narrow(0, b, b);
  }
  const PreferenceDataset& pool_;
  absl::Span<const uint32_t> indices_;
  int64_t context_;
};

// The batcher for `pool` under `spec`'s task; INVALID_ARGUMENT when they do not match.
absl::StatusOr<std::unique_ptr<Batcher>> BatcherFor(const ModelSpec& spec, const ExamplePool& pool,
                                                    absl::Span<const uint32_t> indices) {
  if (pool.task() != spec.task) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", spec.architecture, " is for ", MetricOf(spec.task).task_name,
        " but the data are for ", MetricOf(pool.task()).task_name));
  }
  for (uint32_t i : indices) {
    if (i >= pool.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("example index ", i, " is outside the pool of ", pool.size()));
    }
  }
  if (spec.task == TaskKind::kCausalLanguageModel) {
    return std::unique_ptr<Batcher>(new TextBatcher(static_cast<const TextDataset&>(pool), indices,
                                                    spec.options.transformer.context));
  }
  if (spec.task == TaskKind::kPairwisePreference) {
    return std::unique_ptr<Batcher>(new PairBatcher(static_cast<const PreferenceDataset&>(pool),
                                                    indices, spec.options.transformer.context));
  }
  return std::unique_ptr<Batcher>(
      new ImageBatcher(static_cast<const ImageDataset&>(pool), indices));
}

std::vector<uint32_t> Iota(size_t n) {
  std::vector<uint32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(i);
  return out;
}

// A reward model's TextGuide (LocalTrainer::RewardGuide): one RewardProgram stream.
class CachedRewardGuide : public TextGuide {
 public:
  explicit CachedRewardGuide(RewardProgram& program) : program_(program) {}

  absl::StatusOr<std::vector<double>> ScoreNext(const std::vector<int>& tokens) override {
    try {
      torch::InferenceMode guard;
      const at::Tensor r =
          program_.ScoreNext(&stream, std::vector<int64_t>(tokens.begin(), tokens.end())).contiguous();
      return std::vector<double>(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
    } catch (const c10::Error& e) {
      return FromTorch(e, "RewardGuide::ScoreNext");
    }
  }

  absl::Status Append(int byte) override {
    if (byte < 0 || byte >= 256) {
      return absl::InvalidArgumentError(absl::StrCat("only bytes extend a text, got token ", byte));
    }
    try {
      torch::InferenceMode guard;
      program_.Append(byte, &stream);
      return absl::OkStatus();
    } catch (const c10::Error& e) {
      return FromTorch(e, "RewardGuide::Append");
    }
  }

  int64_t positions() const override { return stream.positions; }

  RewardProgram::Stream stream;

 private:
  RewardProgram& program_;
};

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

  absl::StatusOr<TrainStats> Train(const ExamplePool& pool, absl::Span<const uint32_t> indices,
                                   const TrainOptions& options, const TrainableFilter& trainable,
                                   uint64_t seed) override {
    try {
      absl::StatusOr<std::unique_ptr<Batcher>> batcher = BatcherFor(model_->spec(), pool, indices);
      if (!batcher.ok()) return batcher.status();
      const Batcher& units = **batcher;
      std::vector<at::Tensor> params;
      const auto trains = [&](const std::string& name) {
        return (!trainable || trainable(name)) && !(options.frozen && options.frozen(name));
      };
      for (auto& p : model_->named_parameters(true)) {
        const bool train = trains(p.key());
        p.value().set_requires_grad(train);
        if (train) params.push_back(p.value());
      }
      TrainStats stats;
      if (params.empty() || units.size() == 0) return stats;
      torch::optim::SGD sgd(params, torch::optim::SGDOptions(options.learning_rate)
                                        .momentum(options.momentum)
                                        .weight_decay(options.weight_decay));
      // FedProx: the gradient of (mu/2)·||w - w_start||² is mu·(w - w_start).
      std::vector<std::pair<at::Tensor, at::Tensor>> anchored;
      if (options.proximal_mu > 0) {
        for (auto& p : model_->named_parameters(true)) {
          if (!trains(p.key()) || (options.proximal && !options.proximal(p.key()))) continue;
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
        if (model_->spec().task != TaskKind::kImageClassification) {
          // A text longer than the context is several windows: one record, several units.
          return absl::UnimplementedError("sample-level DP-SGD is for image models only");
        }
        TrainStats dp = TrainDpSgd(units, options, params, anchored, sgd);
        for (auto& p : model_->parameters(true)) p.set_requires_grad(true);
        if (!std::isfinite(dp.mean_loss)) {
          return absl::FailedPreconditionError(
              "local training diverged (non-finite loss); lower train.learning_rate");
        }
        return dp;
      }
      Rng rng(seed);
      // Shuffling unit ids permutes exactly as shuffling the indices themselves would.
      std::vector<uint32_t> order = Iota(units.size());
      const size_t bs = static_cast<size_t>(options.batch_size);
      double loss_sum = 0;
      at::Tensor x, y;
      for (int epoch = 0; epoch < options.epochs; ++epoch) {
        rng.Shuffle(&order);
        for (size_t begin = 0; begin < order.size(); begin += bs) {
          const size_t end = std::min(order.size(), begin + bs);
          if (end - begin < bs && options.drop_last) break;
          units.Fill(absl::MakeConstSpan(order).subspan(begin, end - begin), &x, &y);
          sgd.zero_grad();
          at::Tensor loss = units.MeanLoss(model_->Forward(x), y);
          loss.backward();
          if (!anchored.empty()) {
            torch::NoGradGuard no_grad;
            for (auto& [w, start] : anchored) {
              // (A tensor the forward never read, a reward model's lm_head, has no gradient.)
              if (w.grad().defined()) w.mutable_grad().add_(w.detach() - start, options.proximal_mu);
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

  absl::StatusOr<ParameterSet> Gradient(const ExamplePool& pool,
                                        absl::Span<const uint32_t> batch, double* loss) override {
    if (batch.empty()) return absl::InvalidArgumentError("Gradient needs a non-empty batch");
    try {
      absl::StatusOr<std::unique_ptr<Batcher>> units = BatcherFor(model_->spec(), pool, batch);
      if (!units.ok()) return units.status();
      model_->train();
      model_->zero_grad();
      at::Tensor x, y;
      (*units)->Fill(Iota((*units)->size()), &x, &y);
      at::Tensor mean_loss = (*units)->MeanLoss(model_->Forward(x), y);
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

  absl::Status RecalibrateNormalization(const ExamplePool& pool,
                                        absl::Span<const uint32_t> indices,
                                        int batch_size) override {
    try {
      if (!model_->HasNormStatistics() || indices.empty()) return absl::OkStatus();
      absl::StatusOr<std::unique_ptr<Batcher>> units = BatcherFor(model_->spec(), pool, indices);
      if (!units.ok()) return units.status();
      const std::vector<uint32_t> all = Iota((*units)->size());
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
        (*units)->Fill(absl::MakeConstSpan(all).subspan(begin, end - begin), &x, &y);
        model_->Forward(x);
        ++batches;
      }
      model_->set_norm_momentum(0.1);
      return absl::OkStatus();
    } catch (const c10::Error& e) {
      return FromTorch(e, "RecalibrateNormalization");
    }
  }

  absl::StatusOr<std::string> Generate(const std::string& prompt,
                                       const GenerationOptions& options) override {
    return tailor::Generate(*model_, prompt, options);
  }

  absl::StatusOr<std::string> GenerateGuided(const std::string& prompt,
                                             const GenerationOptions& options,
                                             TextGuide& guide) override {
    return tailor::Generate(*model_, prompt, options, &guide);
  }

  absl::StatusOr<std::unique_ptr<TextGuide>> RewardGuide(const std::string& prompt) override {
    auto* program = dynamic_cast<RewardProgram*>(model_->program());
    if (program == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("model ", model_->spec().architecture,
                                                     " is not a reward model that can guide"));
    }
    try {
      torch::InferenceMode guard;
      model_->eval();
      // The tokens before the text, as RewardTokens lays them out.
      std::vector<int64_t> prefix = RewardTokens(prompt, "", model_->spec().options.transformer.context);
      prefix.pop_back();  // its EOS
      auto guide = std::make_unique<CachedRewardGuide>(*program);
      program->Start(torch::tensor(prefix, torch::kInt64).unsqueeze(0), &guide->stream);
      return std::unique_ptr<TextGuide>(std::move(guide));
    } catch (const c10::Error& e) {
      return FromTorch(e, "RewardGuide");
    }
  }

  TorchModel& torch_model() { return *model_; }

  absl::StatusOr<std::vector<double>> Reward(const std::string& prompt,
                                             const std::vector<std::string>& texts) override {
    const ModelSpec& spec = model_->spec();
    if (spec.task != TaskKind::kPairwisePreference) {
      return absl::InvalidArgumentError(absl::StrCat("model ", spec.architecture,
                                                     " is not a reward model"));
    }
    try {
      torch::InferenceMode guard;
      model_->eval();
      std::vector<double> rewards;
      rewards.reserve(texts.size());
      constexpr size_t kBatch = 32;
      for (size_t begin = 0; begin < texts.size(); begin += kBatch) {
        std::vector<std::vector<int64_t>> rows;
        for (size_t i = begin; i < std::min(texts.size(), begin + kBatch); ++i) {
          rows.push_back(RewardTokens(prompt, texts[i], spec.options.transformer.context));
        }
        const at::Tensor r = model_->Forward(PadWithEos(rows)).to(torch::kFloat64).contiguous();
        rewards.insert(rewards.end(), r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
      }
      return rewards;
    } catch (const c10::Error& e) {
      return FromTorch(e, "Reward");
    }
  }

  absl::StatusOr<EvalStats> Evaluate(const ExamplePool& pool,
                                     absl::Span<const uint32_t> indices) override {
    try {
      absl::StatusOr<std::unique_ptr<Batcher>> batcher = BatcherFor(model_->spec(), pool, indices);
      if (!batcher.ok()) return batcher.status();
      const Batcher& units = **batcher;
      const std::vector<uint32_t> all = Iota(units.size());
      torch::InferenceMode guard;
      model_->eval();
      EvalStats stats;
      // Images per batch; text windows are up to a context long, so fewer of them.
      const size_t batch = model_->spec().task == TaskKind::kImageClassification ? 256 : 32;
      at::Tensor x, y;
      for (size_t begin = 0; begin < all.size(); begin += batch) {
        const size_t end = std::min(all.size(), begin + batch);
        units.Fill(absl::MakeConstSpan(all).subspan(begin, end - begin), &x, &y);
        units.Score(model_->Forward(x), y, &stats);
      }
      return stats;
    } catch (const c10::Error& e) {
      return FromTorch(e, "Evaluate");
    }
  }

 private:
  // Sample-level DP-SGD (see TrainOptions): Poisson-sampled steps, per-example clipping by one
  // backward pass per example, Gaussian noise from the private coins on the clipped sum.
  TrainStats TrainDpSgd(const Batcher& units, const TrainOptions& options, std::vector<at::Tensor>& params,
                        std::vector<std::pair<at::Tensor, at::Tensor>>& anchored,
                        torch::optim::SGD& sgd) {
    PrivateCoins& coins = *options.dp_sgd_coins;
    const double n = static_cast<double>(units.size());
    const double rate = DpSgdSamplingRate(options.batch_size, units.size());
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
        for (uint32_t unit = 0; unit < units.size(); ++unit) {
          if (!coins.Bernoulli(rate)) continue;
          units.Fill(absl::MakeConstSpan(&unit, 1), &x, &y);
          sgd.zero_grad();
          at::Tensor loss = units.MeanLoss(model_->Forward(x), y);
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
          if (w.grad().defined()) w.mutable_grad().add_(w.detach() - start, options.proximal_mu);
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

absl::StatusOr<std::string> GenerateMixture(absl::Span<LocalTrainer* const> models,
                                            absl::Span<const double> weights,
                                            const std::string& prompt,
                                            const GenerationOptions& options) {
  std::vector<TorchModel*> torch_models;
  for (LocalTrainer* m : models) {
    auto* trainer = dynamic_cast<TorchTrainer*>(m);
    if (trainer == nullptr) {
      return absl::InvalidArgumentError("a mixture is decoded from LibTorch trainers only");
    }
    torch_models.push_back(&trainer->torch_model());
  }
  return tailor::GenerateMixture(torch_models, weights, prompt, options);
}

void SetTorchThreads(int intra_op_threads) {
  torch::set_num_threads(intra_op_threads < 1 ? 1 : intra_op_threads);
}

}  // namespace tailor
