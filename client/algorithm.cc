#include "client/algorithm.h"

#include <cmath>

#include "client/algorithm_steps.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/random.h"
#include "core/status_macros.h"

namespace tailor {

absl::StatusOr<TrainStats> ClientAlgorithm::TrainLocally(LocalTrainer& trainer,
                                                         const LocalData& data,
                                                         const TrainOptions& options,
                                                         uint64_t seed,
                                                         ParameterSet* /*state*/) const {
  // Default: plain local SGD on every parameter.
  return trainer.Train(*data.pool, data.train, options, /*trainable=*/nullptr, seed);
}

namespace {

// One class serves the methods that differ only in their split: FedAvg (McMahan et al. 2017,
// nothing personal), FedPer (Arivazhagan et al. 2019, personal head, body and head trained
// together), LG-FedAvg (below) and Local-only (everything personal, no federation).
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
                                          const TrainOptions& options, uint64_t seed,
                                          ParameterSet* /*state*/) const override {
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

// Every parameter of `model` that `head` does not call personal: the body, as exact names.
std::vector<std::string> BodyNames(const ModelSpec& model, const PersonalizationPolicy& head) {
  std::vector<std::string> body;
  for (const auto& p : model.parameters) {
    if (!head.IsPersonal(p.name)) body.push_back(p.name);
  }
  return body;
}

// The LoRA algorithms: the model's base weights are frozen (the same on every device, never
// trained, uploaded or re-sent); they differ in which adapter matrices are shared.
absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateLoraAlgorithm(
    const std::string& name, const ModelSpec& model, const AlgorithmOptions& options) {
  if (model.lora_patterns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " trains LoRA adapters and model ", model.architecture,
        " has none: set model.lora.rank (and a byte_transformer architecture)"));
  }
  if (!options.personal_patterns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " decides which adapters are personal; remove personal_patterns"));
  }
  std::vector<std::string> adapter_patterns = model.lora_patterns;
  if (name == "dual_lora") {
    if (model.personal_lora_patterns.empty()) {
      return absl::InvalidArgumentError(
          "dual_lora keeps a second, personal adapter beside the shared one: set "
          "model.lora.personal_rank");
    }
    adapter_patterns.insert(adapter_patterns.end(), model.personal_lora_patterns.begin(),
                            model.personal_lora_patterns.end());
  }
  const PersonalizationPolicy adapters(adapter_patterns);
  std::vector<std::string> base;
  for (const ParameterSpec& p : model.parameters) {
    if (!adapters.IsPersonal(p.name)) base.push_back(p.name);
  }
  if (name == "dual_lora") {
    // Shared and personal adapters side by side on the frozen base (as FedDPA, Yang et al.,
    // "Dual-Personalizing Adapter for Federated Foundation Models", NeurIPS 2024): the shared
    // one learns what the federation has in common, the personal one what is the client's
    // own; both train every round.
    return std::make_unique<SplitOnlyAlgorithm>(
        name, PersonalizationPolicy(model.personal_lora_patterns, base), true);
  }
  if (name == "fedit") {
    // FedIT (Zhang et al., "Towards Building the Federated GPT: Federated Instruction Tuning",
    // ICASSP 2024): FedAvg of the LoRA adapters on a frozen base.
    return std::make_unique<SplitOnlyAlgorithm>(name, PersonalizationPolicy({}, base), true);
  }
  if (name == "ffa_lora") {
    // FFA-LoRA (Sun et al., "Improving LoRA in Privacy-preserving Federated Learning", ICLR
    // 2024): A stays at its random initialization on every device, only B trains and is
    // averaged, so the average of the products is the product of the averages.
    base.push_back("*.lora_A");
    return std::make_unique<SplitOnlyAlgorithm>(name, PersonalizationPolicy({}, base), true);
  }
  if (name == "fedsa_lora") {
    // FedSA-LoRA (Guo et al., "Selective Aggregation for Low-Rank Adaptation in Federated
    // Learning", ICLR 2025): A learns what is common and is shared, B what is the client's own
    // and stays personal.
    return std::make_unique<SplitOnlyAlgorithm>(name, PersonalizationPolicy({"*.lora_B"}, base),
                                                true);
  }
  if (name == "oppu") {
    // OPPU (Tan et al., "Democratizing Large Language Models via Personalized Parameter-
    // Efficient Fine-tuning", EMNLP 2024): a personal LoRA on the frozen base; nothing is
    // uploaded.
    return std::make_unique<SplitOnlyAlgorithm>(name, PersonalizationPolicy({"*"}, base), false);
  }
  // Ditto (client/personal_model_algorithms.cc) over the adapters: a shared global adapter and
  // a personal one pulled toward it.
  return MakeDitto(PersonalizationPolicy({}, base), options.ditto_lambda, options.personal_epochs);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateClientAlgorithm(
    const std::string& name, const ModelSpec& model, const AlgorithmOptions& options) {
  const std::vector<std::string>& personal_patterns = options.personal_patterns;
  auto patterns_or = [&](std::vector<std::string> fallback) {
    return PersonalizationPolicy(personal_patterns.empty() ? std::move(fallback)
                                                           : personal_patterns);
  };
  TAILOR_RETURN_IF_ERROR(ValidateAlgorithmOptions(options));
  if (name == "fedrep") return MakeFedRep(patterns_or(model.head_patterns), options.head_epochs);
  if (name == "lg_fedavg") {
    // LG-FedAvg (Liang et al., "Think Locally, Act Globally", 2020): local representations
    // (the body) stay on the device, the global head is shared; everything trains.
    return std::make_unique<SplitOnlyAlgorithm>(
        name, patterns_or(BodyNames(model, PersonalizationPolicy(model.head_patterns))), true);
  }
  if (name == "fedbabu") {
    return MakeFedBabu(patterns_or(model.head_patterns), options.finetune_epochs);
  }
  if (name == "fedavg_ft") return MakeFineTunedFedAvg(patterns_or({}), options.finetune_epochs);
  if (name == "ditto") {
    return MakeDitto(patterns_or({}), options.ditto_lambda, options.personal_epochs);
  }
  if (name == "apfl") return MakeApfl(patterns_or({}), options.apfl_alpha);
  if (name == "fedala") return MakeFedAla(model.TrainableNames(), options);
  if (name == "fedbn") {
    // FedBN (client/representation_algorithms.cc).
    if (model.norm_patterns.empty() && personal_patterns.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fedbn keeps the normalization layers personal, and model ", model.architecture,
          " has none (use fmnist_cnn_bn)"));
    }
    return MakeFedBn(patterns_or(model.norm_patterns), options.fedbn_recalibrate);
  }
  if (name == "fedavg" || name == "fedprox") {
    // FedProx differs from FedAvg only in its local objective: train.proximal_mu, applied by the
    // trainer to the shared parameters.
    return std::make_unique<SplitOnlyAlgorithm>(name, patterns_or({}), true);
  }
  if (name == "fedper") {
    return std::make_unique<SplitOnlyAlgorithm>(name, patterns_or(model.head_patterns), true);
  }
  if (name == "fedit" || name == "ffa_lora" || name == "fedsa_lora" || name == "oppu" ||
      name == "ditto_lora" || name == "dual_lora") {
    return CreateLoraAlgorithm(name, model, options);
  }
  if (name == "constant_delta") return std::make_unique<ConstantDeltaAlgorithm>();
  if (name == "local") {
    return std::make_unique<SplitOnlyAlgorithm>(name, PersonalizationPolicy::AllPersonal(), false);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", name, "' (known: ",
                                                 absl::StrJoin(AlgorithmNames(), ", "), ")"));
}

absl::Status ValidateAlgorithmOptions(const AlgorithmOptions& o) {
  auto fail = [](absl::string_view option, absl::string_view rule, auto value) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": must be ", rule, ", got ", value));
  };
  if (o.head_epochs < 1) return fail("head_epochs", ">= 1", o.head_epochs);
  if (o.finetune_epochs < 0) return fail("finetune_epochs", ">= 0", o.finetune_epochs);
  if (!(o.ditto_lambda >= 0) || !std::isfinite(o.ditto_lambda)) {
    return fail("ditto_lambda", ">= 0", o.ditto_lambda);
  }
  if (o.personal_epochs < 1) return fail("personal_epochs", ">= 1", o.personal_epochs);
  if (!(o.apfl_alpha >= 0 && o.apfl_alpha <= 1)) return fail("apfl_alpha", "in [0, 1]", o.apfl_alpha);
  if (!(o.ala_learning_rate > 0) || !std::isfinite(o.ala_learning_rate)) {
    return fail("ala_learning_rate", "> 0", o.ala_learning_rate);
  }
  if (!(o.ala_data_fraction > 0 && o.ala_data_fraction <= 1)) {
    return fail("ala_data_fraction", "in (0, 1]", o.ala_data_fraction);
  }
  if (o.ala_layers < 1) return fail("ala_layers", ">= 1", o.ala_layers);
  for (const std::string& p : o.personal_patterns) {
    if (p.empty()) return absl::InvalidArgumentError("personal_patterns: empty pattern");
  }
  return absl::OkStatus();
}

const std::vector<std::string>& AlgorithmNames() {
  static const auto* names = new std::vector<std::string>{
      "fedavg", "fedprox", "fedavg_ft", "fedper", "fedrep", "lg_fedavg", "fedbabu",
      "ditto",  "apfl",    "fedbn",     "fedala", "local",  "constant_delta",
      "fedit",  "ffa_lora", "fedsa_lora", "oppu", "ditto_lora", "dual_lora"};
  return *names;
}

}  // namespace tailor
