#include "client/algorithm.h"

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/status_macros.h"

namespace tailor {

absl::StatusOr<TrainStats> ClientAlgorithm::TrainLocally(LocalTrainer& trainer,
                                                         const LocalData& data,
                                                         const TrainOptions& options,
                                                         uint64_t seed) const {
  // Default: plain local SGD on every parameter.
  return trainer.Train(*data.pool, data.train, options, /*trainable=*/nullptr, seed);
}

namespace {

// One class serves the methods that differ only in their split: FedAvg (McMahan et al. 2017,
// nothing personal), FedPer (Arivazhagan et al. 2019, personal head, body and head trained
// together) and Local-only (everything personal, no federation).
class SplitOnlyAlgorithm : public ClientAlgorithm {
 public:
  SplitOnlyAlgorithm(std::string name, PersonalizationPolicy policy, bool federated)
      : name_(std::move(name)), policy_(std::move(policy)), federated_(federated) {}
  std::string name() const override { return name_; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  bool federated() const override { return federated_; }

 private:
  std::string name_;
  PersonalizationPolicy policy_;
  bool federated_;
};

// For transport benchmarks only: no training, every parameter moves by +1e-3, so a round's
// cost is the transport's and the aggregation's alone (the peer frameworks' benchmark clients
// do the same).
class ConstantDeltaAlgorithm : public ClientAlgorithm {
 public:
  std::string name() const override { return "constant_delta"; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options,
                                          uint64_t seed) const override {
    ParameterSet params = trainer.Snapshot();
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor& t = params.entry(i).tensor;
      if (t.dtype() == DType::kFloat32) {
        for (float& v : t.f32()) v += 1e-3f;
      }
    }
    absl::Status loaded = trainer.Load(params);
    if (!loaded.ok()) return loaded;
    return TrainStats();
  }

 private:
  PersonalizationPolicy policy_;
};

// Trains `epochs` epochs with only the parameters `trainable` accepts; adds to `total`.
absl::Status TrainPart(LocalTrainer& trainer, const LocalData& data, TrainOptions options,
                       int epochs, TrainableFilter trainable, uint64_t seed, TrainStats* total) {
  options.epochs = epochs;
  TAILOR_ASSIGN_OR_RETURN(TrainStats part,
                          trainer.Train(*data.pool, data.train, options, trainable, seed));
  const double steps = static_cast<double>(total->steps + part.steps);
  if (steps > 0) {
    total->mean_loss = (total->mean_loss * static_cast<double>(total->steps) +
                        part.mean_loss * static_cast<double>(part.steps)) /
                       steps;
  }
  total->steps += part.steps;
  total->samples += part.samples;
  return absl::OkStatus();
}

// FedRep (Collins et al., "Exploiting Shared Representations for Personalized Federated
// Learning", ICML 2021): the personal head is trained first with the body frozen, then the
// shared body with the head frozen; only the body is uploaded.
class FedRepAlgorithm : public ClientAlgorithm {
 public:
  FedRepAlgorithm(PersonalizationPolicy policy, int head_epochs)
      : policy_(std::move(policy)), head_epochs_(head_epochs) {}
  std::string name() const override { return "fedrep"; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options,
                                          uint64_t seed) const override {
    const PersonalizationPolicy& p = policy_;
    TrainStats stats;
    TAILOR_RETURN_IF_ERROR(TrainPart(
        trainer, data, options, head_epochs_,
        [&p](const std::string& n) { return p.IsPersonal(n); }, DeriveSeed(seed, {1}), &stats));
    TAILOR_RETURN_IF_ERROR(TrainPart(
        trainer, data, options, options.epochs,
        [&p](const std::string& n) { return !p.IsPersonal(n); }, DeriveSeed(seed, {2}), &stats));
    return stats;
  }

 private:
  PersonalizationPolicy policy_;
  int head_epochs_;
};

// FedBABU (Oh, Kim and Yun, "FedBABU: Towards Enhanced Representation for Federated Image
// Classification", ICLR 2022): during federation only the body trains; the head stays at its
// (common) initialization. Before each evaluation the client fine-tunes the whole model on its
// training data. The head is kept on the device (it never changes, so uploading it would only
// cost bytes).
class FedBabuAlgorithm : public ClientAlgorithm {
 public:
  FedBabuAlgorithm(PersonalizationPolicy policy, int finetune_epochs)
      : policy_(std::move(policy)), finetune_epochs_(finetune_epochs) {}
  std::string name() const override { return "fedbabu"; }
  bool fine_tunes_before_evaluation() const override { return finetune_epochs_ > 0; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options,
                                          uint64_t seed) const override {
    const PersonalizationPolicy& p = policy_;
    return trainer.Train(*data.pool, data.train, options,
                         [&p](const std::string& n) { return !p.IsPersonal(n); }, seed);
  }
  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                 const TrainOptions& options, uint64_t seed) const override {
    return FineTune(trainer, data, options, finetune_epochs_, seed);
  }

  // Shared with FedAvg + fine-tuning: every parameter, plain SGD (DP-SGD is for what leaves
  // the device; a fine-tuned model is only evaluated on it).
  static absl::Status FineTune(LocalTrainer& trainer, const LocalData& data,
                               TrainOptions options, int epochs, uint64_t seed) {
    TrainStats ignored;
    options.dp_sgd_clip_norm = 0;
    options.proximal_mu = 0;
    return TrainPart(trainer, data, options, epochs, nullptr, seed, &ignored);
  }

 private:
  PersonalizationPolicy policy_;
  int finetune_epochs_;
};

// FedAvg + local fine-tuning (the baseline of Wang et al. 2019 and Yu et al. 2020): plain
// FedAvg, and each client fine-tunes the global model before it is evaluated.
class FineTunedFedAvgAlgorithm : public ClientAlgorithm {
 public:
  FineTunedFedAvgAlgorithm(PersonalizationPolicy policy, int finetune_epochs)
      : policy_(std::move(policy)), finetune_epochs_(finetune_epochs) {}
  std::string name() const override { return "fedavg_ft"; }
  bool fine_tunes_before_evaluation() const override { return finetune_epochs_ > 0; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                 const TrainOptions& options, uint64_t seed) const override {
    return FedBabuAlgorithm::FineTune(trainer, data, options, finetune_epochs_, seed);
  }

 private:
  PersonalizationPolicy policy_;
  int finetune_epochs_;
};

// Every parameter of `model` that `head` does not call personal: the body, as exact names.
std::vector<std::string> BodyNames(const ModelSpec& model, const PersonalizationPolicy& head) {
  std::vector<std::string> body;
  for (const auto& p : model.parameters) {
    if (!head.IsPersonal(p.name)) body.push_back(p.name);
  }
  return body;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateClientAlgorithm(
    const std::string& name, const ModelSpec& model, const AlgorithmOptions& options) {
  const std::vector<std::string>& personal_patterns = options.personal_patterns;
  auto patterns_or = [&](std::vector<std::string> fallback) {
    return PersonalizationPolicy(personal_patterns.empty() ? std::move(fallback)
                                                           : personal_patterns);
  };
  if (options.head_epochs < 1 || options.finetune_epochs < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "head_epochs must be >= 1 and finetune_epochs >= 0, got ", options.head_epochs, " and ",
        options.finetune_epochs));
  }
  if (name == "fedrep") {
    return std::make_unique<FedRepAlgorithm>(patterns_or(model.head_patterns),
                                             options.head_epochs);
  }
  if (name == "lg_fedavg") {
    // LG-FedAvg (Liang et al., "Think Locally, Act Globally", 2020): local representations
    // (the body) stay on the device, the global head is shared; everything trains.
    return std::make_unique<SplitOnlyAlgorithm>(
        name, patterns_or(BodyNames(model, PersonalizationPolicy(model.head_patterns))), true);
  }
  if (name == "fedbabu") {
    return std::make_unique<FedBabuAlgorithm>(patterns_or(model.head_patterns),
                                              options.finetune_epochs);
  }
  if (name == "fedavg_ft") {
    return std::make_unique<FineTunedFedAvgAlgorithm>(patterns_or({}), options.finetune_epochs);
  }
  if (name == "fedavg" || name == "fedprox") {
    // FedProx differs from FedAvg only in its local objective: train.proximal_mu, applied by the
    // trainer to the shared parameters.
    return std::make_unique<SplitOnlyAlgorithm>(name, patterns_or({}), true);
  }
  if (name == "fedper") {
    return std::make_unique<SplitOnlyAlgorithm>(name, patterns_or(model.head_patterns), true);
  }
  if (name == "constant_delta") return std::make_unique<ConstantDeltaAlgorithm>();
  if (name == "local") {
    return std::make_unique<SplitOnlyAlgorithm>(name, PersonalizationPolicy::AllPersonal(), false);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown algorithm '", name,
      "' (known: fedavg, fedprox, fedavg_ft, fedper, fedrep, lg_fedavg, fedbabu, local, "
      "constant_delta)"));
}

}  // namespace tailor
