#include "client/algorithm.h"

#include "absl/strings/str_cat.h"

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

}  // namespace

absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateClientAlgorithm(
    const std::string& name, const ModelSpec& model,
    const std::vector<std::string>& personal_patterns) {
  auto patterns_or = [&](std::vector<std::string> fallback) {
    return PersonalizationPolicy(personal_patterns.empty() ? std::move(fallback)
                                                           : personal_patterns);
  };
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
      "unknown algorithm '", name, "' (known: fedavg, fedprox, fedper, local, constant_delta)"));
}

}  // namespace tailor
