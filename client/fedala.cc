// FedALA (Zhang et al., "FedALA: Adaptive Local Aggregation for Personalized Federated
// Learning", AAAI 2023). Instead of overwriting its local model with the global one, a client
// aggregates the two element-wise: the lower layers take the global values, the top
// `ala_layers` parameter tensors take θ_local + (θ_global − θ_local) ⊙ W with learned weights
// W ∈ [0, 1]. W is trained by SGD on the training loss over a random `ala_data_fraction` of the
// local data (∂f/∂W = ∇θ f ⊙ (θ_global − θ_local)): the first time until the loss settles, then
// one pass per round. The aggregated model is then trained and uploaded whole, as in FedAvg.
// Device state: the local model after training ("local/…") and W ("weight/…").
#include <algorithm>
#include <cmath>

#include "client/algorithm_steps.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr char kLocalModel[] = "local/";
constexpr char kWeights[] = "weight/";
// The first adaptation trains W until the standard deviation of the last kSettleEpochs epoch
// losses is below kSettleStd (FedALA's defaults), or for kMaxStartEpochs epochs at most.
constexpr int kSettleEpochs = 10;
constexpr double kSettleStd = 0.1;
constexpr int kMaxStartEpochs = 20;

double StdOfLast(const std::vector<double>& v, size_t n) {
  const size_t first = v.size() - n;
  double mean = 0;
  for (size_t i = first; i < v.size(); ++i) mean += v[i] / static_cast<double>(n);
  double var = 0;
  for (size_t i = first; i < v.size(); ++i) var += (v[i] - mean) * (v[i] - mean);
  return std::sqrt(var / static_cast<double>(n));
}

class FedAlaAlgorithm : public ClientAlgorithm {
 public:
  FedAlaAlgorithm(std::vector<std::string> top, const AlgorithmOptions& options)
      : top_(std::move(top)),
        learning_rate_(options.ala_learning_rate),
        data_fraction_(options.ala_data_fraction) {}
  std::string name() const override { return "fedala"; }
  int model_copies_in_state() const override { return 1; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  bool adapts_before_evaluation() const override { return true; }

  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options, uint64_t seed,
                                          ParameterSet* state) const override {
    TAILOR_RETURN_IF_ERROR(Adapt(trainer, data, options.batch_size, DeriveSeed(seed, {1}),
                                 /*may_settle=*/true, state));
    TAILOR_ASSIGN_OR_RETURN(
        TrainStats stats,
        trainer.Train(*data.pool, data.train, options, nullptr, DeriveSeed(seed, {2})));
    TAILOR_RETURN_IF_ERROR(PutPrefixed(kLocalModel, trainer.Snapshot(), state));
    return stats;
  }

  // Evaluation sees the model the next round would train: the same aggregation, with one pass
  // of weight learning (never the long first one: its result would be discarded anyway).
  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                 const TrainOptions& options, uint64_t seed,
                                 const ParameterSet& state) const override {
    ParameterSet scratch = state;
    return Adapt(trainer, data, options.batch_size, DeriveSeed(seed, {1}), /*may_settle=*/false,
                 &scratch);
  }

 private:
  // Replaces the loaded global model's top layers by the adaptive aggregation with the stored
  // local model; updates W in `state`. Nothing to do before the client's first round.
  absl::Status Adapt(LocalTrainer& trainer, const LocalData& data, int batch_size,
                     uint64_t seed, bool may_settle, ParameterSet* state) const {
    const ParameterSet local_full = GetPrefixed(kLocalModel, *state);
    if (local_full.empty() || data.train.empty()) return absl::OkStatus();
    const ParameterSet global_full = trainer.Snapshot();
    if (!local_full.CheckSameSchema(global_full, "FedALA's local model").ok()) {
      return absl::OkStatus();  // another model's state: start over from the global one
    }
    ParameterSet global, local;
    for (const std::string& name : top_) {
      TAILOR_RETURN_IF_ERROR(global.Add(name, *global_full.Find(name)));
      TAILOR_RETURN_IF_ERROR(local.Add(name, *local_full.Find(name)));
    }
    ParameterSet weights = GetPrefixed(kWeights, *state);
    const bool first = !weights.CheckSameSchema(global, "FedALA's weights").ok();
    if (first) {
      weights = global;
      for (size_t i = 0; i < weights.size(); ++i) {
        for (float& x : weights.entry(i).tensor.f32()) x = 1.0f;
      }
    }
    Rng rng(seed);
    std::vector<uint32_t> sample(data.train.begin(), data.train.end());
    rng.Shuffle(&sample);
    sample.resize(std::max<size_t>(
        1, static_cast<size_t>(std::ceil(data_fraction_ * static_cast<double>(sample.size())))));
    const bool settle = first && may_settle;
    std::vector<double> epoch_losses;
    for (int epoch = 0; epoch < (settle ? kMaxStartEpochs : 1); ++epoch) {
      TrainStats epoch_stats;
      for (const std::vector<uint32_t>& batch :
           EpochBatches(sample, batch_size, /*drop_last=*/false, rng)) {
        TAILOR_RETURN_IF_ERROR(trainer.Load(Aggregate(local, global, weights)));
        double loss = 0;
        TAILOR_ASSIGN_OR_RETURN(ParameterSet grad, trainer.Gradient(*data.pool, batch, &loss));
        for (size_t i = 0; i < weights.size(); ++i) {
          const std::string& name = weights.entry(i).name;
          absl::Span<float> w = weights.entry(i).tensor.f32();
          absl::Span<const float> g = grad.Find(name)->f32();
          absl::Span<const float> gl = global.entry(i).tensor.f32();
          absl::Span<const float> lo = local.entry(i).tensor.f32();
          for (size_t j = 0; j < w.size(); ++j) {
            const double step = learning_rate_ * g[j] * (static_cast<double>(gl[j]) - lo[j]);
            w[j] = static_cast<float>(std::clamp(w[j] - step, 0.0, 1.0));
          }
        }
        AddStep(loss, static_cast<int64_t>(batch.size()), &epoch_stats);
      }
      epoch_losses.push_back(epoch_stats.mean_loss);
      if (epoch_losses.size() > static_cast<size_t>(kSettleEpochs) &&
          StdOfLast(epoch_losses, kSettleEpochs) < kSettleStd) {
        break;
      }
    }
    TAILOR_RETURN_IF_ERROR(trainer.Load(Aggregate(local, global, weights)));
    return PutPrefixed(kWeights, weights, state);
  }

  // θ_local + (θ_global − θ_local) ⊙ W, tensor by tensor.
  static ParameterSet Aggregate(const ParameterSet& local, const ParameterSet& global,
                                const ParameterSet& weights) {
    ParameterSet out = local;
    for (size_t i = 0; i < out.size(); ++i) {
      absl::Span<float> o = out.entry(i).tensor.f32();
      absl::Span<const float> g = global.entry(i).tensor.f32();
      absl::Span<const float> w = weights.entry(i).tensor.f32();
      for (size_t j = 0; j < o.size(); ++j) o[j] += (g[j] - o[j]) * w[j];
    }
    return out;
  }

  PersonalizationPolicy policy_;  // nothing personal: the whole model is uploaded
  std::vector<std::string> top_;
  double learning_rate_;
  double data_fraction_;
};

}  // namespace

std::unique_ptr<ClientAlgorithm> MakeFedAla(std::vector<std::string> parameter_names,
                                            const AlgorithmOptions& options) {
  const size_t k = std::min(parameter_names.size(), static_cast<size_t>(options.ala_layers));
  std::vector<std::string> top(parameter_names.end() - static_cast<std::ptrdiff_t>(k),
                               parameter_names.end());
  return std::make_unique<FedAlaAlgorithm>(std::move(top), options);
}

}  // namespace tailor
