// ClientAlgorithm: a personalization method's client side. It decides which parameters are
// personal (the policy) and how local training runs (which parameters train, for how long).
// The round logic never sees algorithms: adding FedRep or Ditto means a new subclass here and
// a name in CreateClientAlgorithm, nothing in server/ or sim/.
#ifndef TAILOR_CLIENT_ALGORITHM_H_
#define TAILOR_CLIENT_ALGORITHM_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/local_trainer.h"
#include "core/personalization_policy.h"
#include "models/model_spec.h"

namespace tailor {

struct LocalData {
  const ImageDataset* pool = nullptr;
  absl::Span<const uint32_t> train;
  absl::Span<const uint32_t> test;
};

class ClientAlgorithm {
 public:
  virtual ~ClientAlgorithm() = default;

  virtual std::string name() const = 0;
  // Which parameters stay on the client.
  virtual const PersonalizationPolicy& policy() const = 0;
  // False for local-only training: nothing is uploaded and the global model is never used.
  virtual bool federated() const { return true; }
  // Whether what a client evaluates is the global model itself: nothing is personal and
  // nothing is fine-tuned before evaluation (FedAvg + fine-tuning evaluates tuned copies).
  bool has_global_model() const {
    return policy().patterns().empty() && !fine_tunes_before_evaluation();
  }
  virtual bool fine_tunes_before_evaluation() const { return false; }

  // Local training of one round. The trainer holds the client's starting model (the global
  // shared parameters merged with its personal ones).
  virtual absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                                  const TrainOptions& options,
                                                  uint64_t seed) const;

  // Runs before the client's model is evaluated, on the loaded model; what it changes is
  // evaluated and then discarded (never stored or uploaded). Default: nothing. FedBABU and
  // FedAvg + fine-tuning fine-tune here.
  virtual absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                         const TrainOptions& options, uint64_t seed) const {
    return absl::OkStatus();
  }
};

struct AlgorithmOptions {
  // Overrides the algorithm's default personal part when non-empty.
  std::vector<std::string> personal_patterns;
  // FedRep: epochs on the head (body frozen) before the body's epochs (head frozen).
  int head_epochs = 1;
  // FedBABU, FedAvg + fine-tuning: epochs of fine-tuning on local training data before each
  // evaluation.
  int finetune_epochs = 1;
};

// Known names: "fedavg", "fedprox", "fedavg_ft", "fedper", "fedrep", "lg_fedavg", "fedbabu",
// "local", "constant_delta".
absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateClientAlgorithm(
    const std::string& name, const ModelSpec& model, const AlgorithmOptions& options);
inline absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateClientAlgorithm(
    const std::string& name, const ModelSpec& model,
    const std::vector<std::string>& personal_patterns) {
  AlgorithmOptions options;
  options.personal_patterns = personal_patterns;
  return CreateClientAlgorithm(name, model, options);
}

}  // namespace tailor

#endif  // TAILOR_CLIENT_ALGORITHM_H_
