// The methods that split the model into a shared part and a personal part and differ in how
// they train or evaluate them: FedRep, FedBABU, FedAvg with fine-tuning before evaluation, and
// FedBN.
#include "client/algorithm_steps.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

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
                                          const TrainOptions& options, uint64_t seed,
                                          ParameterSet* /*state*/) const override {
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
// With nothing personal the same class is FedAvg + local fine-tuning (the baseline of Wang et
// al. 2019 and Yu et al. 2020): everything trains, and each client fine-tunes the global model
// before it is evaluated.
class FineTuneBeforeEvaluationAlgorithm : public ClientAlgorithm {
 public:
  FineTuneBeforeEvaluationAlgorithm(std::string name, PersonalizationPolicy frozen_personal,
                                    int finetune_epochs)
      : name_(std::move(name)),
        policy_(std::move(frozen_personal)),
        finetune_epochs_(finetune_epochs) {}
  std::string name() const override { return name_; }
  bool adapts_before_evaluation() const override { return finetune_epochs_ > 0; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                          const TrainOptions& options, uint64_t seed,
                                          ParameterSet* /*state*/) const override {
    const PersonalizationPolicy& p = policy_;
    return trainer.Train(*data.pool, data.train, options,
                         [&p](const std::string& n) { return !p.IsPersonal(n); }, seed);
  }
  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                 const TrainOptions& options, uint64_t seed,
                                 const ParameterSet& /*state*/) const override {
    return FineTune(trainer, data, options, finetune_epochs_, seed);
  }

 private:
  std::string name_;
  PersonalizationPolicy policy_;
  int finetune_epochs_;
};

// FedBN (Li et al., "FedBN: Federated Learning on Non-IID Features via Local Batch
// Normalization", ICLR 2021): the normalization layers, their running statistics included, stay
// on the device; everything else is averaged. A client's statistics were gathered under its own
// trained layers, which aggregation then replaces, so before evaluation (when `recalibrate`)
// the statistics are re-estimated under the new layers by forward passes over the local
// training data; the stored statistics are not changed.
class FedBnAlgorithm : public ClientAlgorithm {
 public:
  FedBnAlgorithm(PersonalizationPolicy policy, bool recalibrate)
      : policy_(std::move(policy)), recalibrate_(recalibrate) {}
  std::string name() const override { return "fedbn"; }
  const PersonalizationPolicy& policy() const override { return policy_; }
  bool adapts_before_evaluation() const override { return recalibrate_; }
  absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                 const TrainOptions& options, uint64_t /*seed*/,
                                 const ParameterSet& /*state*/) const override {
    if (!recalibrate_) return absl::OkStatus();
    return trainer.RecalibrateNormalization(*data.pool, data.train, options.batch_size);
  }

 private:
  PersonalizationPolicy policy_;
  bool recalibrate_;
};

}  // namespace

std::unique_ptr<ClientAlgorithm> MakeFedBn(PersonalizationPolicy norms, bool recalibrate) {
  return std::make_unique<FedBnAlgorithm>(std::move(norms), recalibrate);
}

std::unique_ptr<ClientAlgorithm> MakeFedRep(PersonalizationPolicy head, int head_epochs) {
  return std::make_unique<FedRepAlgorithm>(std::move(head), head_epochs);
}
std::unique_ptr<ClientAlgorithm> MakeFedBabu(PersonalizationPolicy head, int finetune_epochs) {
  return std::make_unique<FineTuneBeforeEvaluationAlgorithm>("fedbabu", std::move(head),
                                                             finetune_epochs);
}
std::unique_ptr<ClientAlgorithm> MakeFineTunedFedAvg(PersonalizationPolicy policy,
                                                     int finetune_epochs) {
  return std::make_unique<FineTuneBeforeEvaluationAlgorithm>("fedavg_ft", std::move(policy),
                                                             finetune_epochs);
}

}  // namespace tailor
