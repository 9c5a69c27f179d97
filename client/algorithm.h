// ClientAlgorithm: a personalization method's client side. It decides which parameters are
// personal (the policy) and how local training runs (which parameters train, for how long).
// The round logic never sees algorithms: adding FedRep or Ditto means a new subclass here and
// a name in CreateClientAlgorithm, nothing in server/ or sim/.
#ifndef TAILOR_CLIENT_ALGORITHM_H_
#define TAILOR_CLIENT_ALGORITHM_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/local_trainer.h"
#include "core/personalization_policy.h"
#include "models/model_spec.h"

namespace tailor {

struct LocalData {
  const ExamplePool* pool = nullptr;
  absl::Span<const uint32_t> train;
  absl::Span<const uint32_t> test;
  // Held out of training and of the test (text clients have one): fine-tuning before an
  // evaluation chooses how long to train by it, never by the test set. Empty: no choice.
  absl::Span<const uint32_t> val;
  // Named subsets of `test` evaluated and reported on their own too (ClientSplit::test_views).
  std::map<std::string, absl::Span<const uint32_t>> test_views;
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
  // the model is not changed before evaluation (FedAvg + fine-tuning evaluates tuned copies,
  // Ditto its personal model).
  bool has_global_model() const {
    return policy().patterns().empty() && !adapts_before_evaluation();
  }
  // Whether PrepareEvaluation changes the loaded model.
  virtual bool adapts_before_evaluation() const { return false; }
  // How many whole-model copies the algorithm state holds per client (Ditto, APFL and FedALA
  // keep one), to size a population's device state before it runs.
  virtual int model_copies_in_state() const { return 0; }

  // Local training of one round. The trainer holds the client's starting model (the global
  // shared parameters merged with its personal ones); what it holds afterwards is split into
  // the shared update and the new personal part. `state` is what the algorithm keeps on the
  // device besides the model's personal part (Ditto's personal model, APFL's model and mixing
  // weight, FedALA's local model and aggregation weights): empty before the client's first
  // round, stored after it, never uploaded.
  virtual absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                                  const TrainOptions& options, uint64_t seed,
                                                  ParameterSet* state) const;

  // Runs before the client's model is evaluated, on the loaded model; what it changes is
  // evaluated and then discarded (never stored or uploaded). Default: nothing. FedBABU and
  // FedAvg + fine-tuning fine-tune here, Ditto loads its personal model.
  virtual absl::Status PrepareEvaluation(LocalTrainer& trainer, const LocalData& data,
                                         const TrainOptions& options, uint64_t seed,
                                         const ParameterSet& state) const {
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
  // Ditto: the proximal weight λ pulling the personal model toward the global one, and the
  // personal model's epochs per round.
  double ditto_lambda = 0.1;
  int personal_epochs = 1;
  // APFL: the mixing weight α of the personal model before it is learned, in [0, 1]
  // (PFLlib's default 1: see docs/benchmarks.md for 0.5).
  double apfl_alpha = 1.0;
  // FedALA: the learning rate of the aggregation weights, the share of local training data
  // they are learned on (0, 1], and how many of the last parameter tensors they cover (the
  // ones below take the global values).
  double ala_learning_rate = 1.0;
  double ala_data_fraction = 0.8;
  int ala_layers = 2;
  // FedBN: re-estimate the personal normalization statistics under the new shared layers
  // before each evaluation (LocalTrainer::RecalibrateNormalization).
  bool fedbn_recalibrate = false;
};

// Every name CreateClientAlgorithm accepts (the config loader checks against it).
const std::vector<std::string>& AlgorithmNames();

// The registry's check of its options: INVALID_ARGUMENT "<option>: <why>" naming the first
// out of range (the config loader reports it as algorithm.<option>).
absl::Status ValidateAlgorithmOptions(const AlgorithmOptions& options);

// INVALID_ARGUMENT for an unknown name, options out of range (as ValidateAlgorithmOptions), or
// an algorithm the model cannot run (fedbn without normalization layers, a LoRA algorithm
// without adapters).
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
