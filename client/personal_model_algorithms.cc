// Methods that keep a whole personal model on the device beside the global one: Ditto (a
// personal model pulled toward the global model) and APFL (a personal model mixed with the
// global one by a learned weight). Both upload the global model's update, all of it shared.
#include <algorithm>

#include "client/algorithm_steps.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr char kPersonalModel[] = "personal/";
constexpr char kMixingWeight[] = "alpha";

// Ditto (Li, Hu, Beirami and Smith, "Ditto: Fair and Robust Federated Learning Through
// Personalization", ICML 2021). Each round the client first trains its personal model v for
// `personal_epochs` on its loss plus (λ/2)·||v − w||², w being the global model it received,
// then trains w as FedAvg does and uploads w's update. v is what the client evaluates; it
// never leaves the device. A client's v starts from the first global model it receives (not
// from the initial model), so clients that join late do not start from scratch.
class DittoAlgorithm : public ClientAlgorithm {
 public:
  DittoAlgorithm(std::string name, PersonalizationPolicy policy, double lambda,
                 int personal_epochs)
      : name_(std::move(name)),
        policy_(std::move(policy)),
        lambda_(lambda),
        personal_epochs_(personal_epochs) {}
  std::string name() const override { return name_; }
  int model_copies_in_state() const override { return 1; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  bool adapts_before_evaluation() const override { return true; }

  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options, uint64_t seed,
                                          ParameterSet* state) const override {
    // A frozen base (Ditto on LoRA adapters) is the same in both models: neither stores it.
    ParameterSet global = trainer.Snapshot();
    if (!policy_.frozen_patterns().empty()) {
      PersonalizationPolicy::Parts parts = policy_.Split(std::move(global));
      global = std::move(parts.shared);
      for (auto& e : parts.personal.entries()) (void)global.Add(e.name, e.tensor);
    }
    ParameterSet personal = GetPrefixed(kPersonalModel, *state);
    if (!personal.CheckSameSchema(global, "Ditto's personal model").ok()) personal = global;
    TAILOR_RETURN_IF_ERROR(trainer.Load(personal));
    TrainOptions personal_options = options;
    personal_options.proximal_mu = lambda_;
    personal_options.proximal = nullptr;
    personal_options.proximal_anchor = &global;
    // The personal model never leaves the device, so it needs no DP-SGD and no upload clip.
    personal_options.dp_sgd_clip_norm = 0;
    TrainStats personal_stats;
    TAILOR_RETURN_IF_ERROR(TrainPart(trainer, data, personal_options, personal_epochs_, nullptr,
                                     DeriveSeed(seed, {1}), &personal_stats));
    TAILOR_RETURN_IF_ERROR(PutPrefixed(kPersonalModel, trainer.Snapshot(), state));
    TAILOR_RETURN_IF_ERROR(trainer.Load(global));
    return trainer.Train(*data.pool, data.train, options, nullptr, DeriveSeed(seed, {2}));
  }

  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData&, const TrainOptions&,
                                 uint64_t, const ParameterSet& state) const override {
    // A client that has not trained yet has no personal model: it is evaluated on the global one.
    const ParameterSet personal = GetPrefixed(kPersonalModel, state);
    return personal.empty() ? absl::OkStatus() : trainer.Load(personal);
  }

 private:
  std::string name_;
  PersonalizationPolicy policy_;
  double lambda_;
  int personal_epochs_;
};

// Copies into `w` the entries of `trained` that have no gradient (buffers: batch-norm running
// statistics the forward pass just updated), so they follow w's training.
void KeepBuffers(const ParameterSet& trained, const ParameterSet& gradients, ParameterSet* w) {
  for (size_t i = 0; i < w->size(); ++i) {
    NamedTensor& e = w->entry(i);
    if (gradients.Find(e.name) != nullptr) continue;
    if (const Tensor* t = trained.Find(e.name); t != nullptr) e.tensor = *t;
  }
}

// dst = a·x + (1 − a)·y over the float32 entries of x (y must hold each of them).
ParameterSet Mix(double a, const ParameterSet& x, const ParameterSet& y) {
  ParameterSet out = x;
  for (size_t i = 0; i < out.size(); ++i) {
    NamedTensor& e = out.entry(i);
    const Tensor* other = y.Find(e.name);
    if (other == nullptr || e.tensor.dtype() != DType::kFloat32) continue;
    absl::Span<float> v = e.tensor.f32();
    absl::Span<const float> w = other->f32();
    for (size_t j = 0; j < v.size(); ++j) {
      v[j] = static_cast<float>(a * v[j] + (1.0 - a) * w[j]);
    }
  }
  return out;
}

// APFL (Deng, Kamani and Mahdavi, "Adaptive Personalized Federated Learning", 2020). The
// client keeps a personal model v and a mixing weight α; what it uses is the mixture
// v̄ = α·v + (1 − α)·w with the global model w. Each mini-batch takes one SGD step on w (which
// is uploaded, as in FedAvg), one on v through the mixture (∂f(v̄)/∂v = α·∇f(v̄)), and one on α
// (∂f(v̄)/∂α = ⟨v − w, ∇f(v̄)⟩), α kept in [0, 1]. All three use train.learning_rate; momentum
// and weight decay are not applied. Buffers (batch-norm statistics) follow w.
class ApflAlgorithm : public ClientAlgorithm {
 public:
  ApflAlgorithm(PersonalizationPolicy policy, double alpha)
      : policy_(std::move(policy)), initial_alpha_(alpha) {}
  std::string name() const override { return "apfl"; }
  int model_copies_in_state() const override { return 1; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  bool adapts_before_evaluation() const override { return true; }

  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options, uint64_t seed,
                                          ParameterSet* state) const override {
    if (options.dp_sgd_clip_norm > 0) {
      return absl::FailedPreconditionError("apfl does not support sample-level DP-SGD");
    }
    ParameterSet w = trainer.Snapshot();
    ParameterSet v = GetPrefixed(kPersonalModel, *state);
    if (!v.CheckSameSchema(w, "APFL's personal model").ok()) v = w;
    double alpha = StoredAlpha(*state);
    const double lr = options.learning_rate;
    Rng rng(seed);
    TrainStats stats;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      for (const std::vector<uint32_t>& batch :
           EpochBatches(data.train, options.batch_size, options.drop_last, rng)) {
        double loss = 0, mixed_loss = 0;
        TAILOR_RETURN_IF_ERROR(trainer.Load(w));
        TAILOR_ASSIGN_OR_RETURN(ParameterSet grad_w, trainer.Gradient(*data.pool, batch, &loss));
        if (grad_w.size() != w.size()) KeepBuffers(trainer.Snapshot(), grad_w, &w);
        TAILOR_RETURN_IF_ERROR(trainer.Load(Mix(alpha, v, w)));
        TAILOR_ASSIGN_OR_RETURN(ParameterSet grad_mix,
                                trainer.Gradient(*data.pool, batch, &mixed_loss));
        double grad_alpha = 0;
        for (const auto& g : grad_mix.entries()) {
          absl::Span<const float> gm = g.tensor.f32();
          absl::Span<const float> gw = grad_w.Find(g.name)->f32();
          absl::Span<float> vs = v.FindMutable(g.name)->f32();
          absl::Span<float> ws = w.FindMutable(g.name)->f32();
          for (size_t j = 0; j < gm.size(); ++j) {
            grad_alpha += (static_cast<double>(vs[j]) - ws[j]) * gm[j];
            vs[j] -= static_cast<float>(lr * alpha * gm[j]);
            ws[j] -= static_cast<float>(lr * gw[j]);
          }
        }
        alpha = std::clamp(alpha - lr * grad_alpha, 0.0, 1.0);
        AddStep(loss, static_cast<int64_t>(batch.size()), &stats);
      }
    }
    TAILOR_RETURN_IF_ERROR(trainer.Load(w));
    TAILOR_RETURN_IF_ERROR(PutPrefixed(kPersonalModel, v, state));
    Tensor* stored = state->FindMutable(kMixingWeight);
    if (stored == nullptr) {
      TAILOR_RETURN_IF_ERROR(state->Add(kMixingWeight, Tensor(DType::kFloat64, {1})));
      stored = state->FindMutable(kMixingWeight);
    } else if (stored->dtype() != DType::kFloat64 || stored->numel() != 1) {
      *stored = Tensor(DType::kFloat64, {1});
    }
    stored->f64()[0] = alpha;
    return stats;
  }

  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData&, const TrainOptions&,
                                 uint64_t, const ParameterSet& state) const override {
    const ParameterSet v = GetPrefixed(kPersonalModel, state);
    if (v.empty()) return absl::OkStatus();  // not trained yet: the global model
    return trainer.Load(Mix(StoredAlpha(state), v, trainer.Snapshot()));
  }

 private:
  double StoredAlpha(const ParameterSet& state) const {
    const Tensor* a = state.Find(kMixingWeight);
    if (a == nullptr || a->dtype() != DType::kFloat64 || a->numel() != 1) return initial_alpha_;
    return a->f64()[0];
  }

  PersonalizationPolicy policy_;
  double initial_alpha_;
};

}  // namespace

std::unique_ptr<ClientAlgorithm> MakeDitto(PersonalizationPolicy policy, double lambda,
                                           int personal_epochs) {
  return std::make_unique<DittoAlgorithm>(policy.frozen_patterns().empty() ? "ditto" : "ditto_lora",
                                          std::move(policy), lambda, personal_epochs);
}
std::unique_ptr<ClientAlgorithm> MakeApfl(PersonalizationPolicy policy, double alpha) {
  return std::make_unique<ApflAlgorithm>(std::move(policy), alpha);
}

}  // namespace tailor
