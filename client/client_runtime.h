// ClientRuntime: one client's side of a round — the same code in a deployed daemon and in a
// virtual client of the simulation. Given the global shared parameters it rebuilds the
// client's model (shared + personal), trains it with the algorithm's hooks, keeps the new
// personal part in the PersonalStore, and encodes only the shared delta for upload.
#ifndef TAILOR_CLIENT_CLIENT_RUNTIME_H_
#define TAILOR_CLIENT_CLIENT_RUNTIME_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/algorithm.h"
#include "client/local_trainer.h"
#include "client/personal_store.h"

namespace tailor {

// Secure aggregation's parameters for one round (client/secagg_participant.h): the client
// uploads its key advertisement instead of its update and then takes part in the protocol.
struct SecureAggregationTask {
  int threshold = 0;
  int neighbours = 0;  // SecAgg+'s k; 0: everyone
  double clip_norm = 0;
  int64_t max_weight = 0;
  // Under central DP: the round's grid (privacy/dp_sum.h). The input is then the update in grid
  // units, unweighted, with the within-clip bit (EncodeSecAggDpInput); 0: no DP.
  double dp_grid = 0;
  double dp_effective_clip = 0;
  // Distributed DP: the variance (grid units) of the discrete Gaussian noise this client adds
  // to each value before masking; 0: the coordinator adds the noise.
  uint64_t dp_noise_sigma_squared = 0;
  // Under DP: the field's bits (SecAggDpField); 0: the weighted mean's 64-bit field.
  int field_bits = 0;
};

// What the coordinator hands a client for one round.
struct TrainTask {
  int64_t round = 0;
  // Global shared parameters of this round's model version. Shared, read-only.
  std::shared_ptr<const ParameterSet> global_shared;
  TrainOptions options;
  // Per-round seed; the client mixes in its id for its own shuffling.
  uint64_t seed = 0;
  std::optional<SecureAggregationTask> secure_aggregation;
};

// What a client sends back.
struct UpdateUpload {
  int64_t client_id = 0;
  int64_t round = 0;
  // EncodeSharedUpdate(Δ shared): never contains a personal tensor.
  std::string payload;
  // Set instead of `payload` by a transport that decoded the bytes while they streamed in (the
  // gRPC service): the decoded set, or why decoding failed. The Round checks it against the
  // schema exactly as it checks a payload it decodes itself, and consumes (moves) it.
  std::shared_ptr<absl::StatusOr<ParameterSet>> decoded;
  // Aggregation weight: the number of local training samples.
  double weight = 0;
  // Bytes the update took on the wire (the payload's size, or what the stream carried); the
  // round reports their sum so the upload codecs' savings are measured, not assumed.
  int64_t wire_bytes = 0;
  TrainStats stats;
  // Under DP (TrainOptions::clip_norm > 0): the update's norm was within the clip norm before
  // clipping. Adaptive clipping counts these bits, with noise, to move the norm.
  bool within_clip_norm = false;
  // Under sample-level DP-SGD: the record-level ε this device has spent over all its rounds
  // (at TrainOptions::dp_sgd_delta); -1 without DP-SGD.
  double record_epsilon = -1;
  // Under secure aggregation: the serialized v1::SecAggAdvertisement sent instead of the update
  // (payload empty, weight and stats hidden in the masked input), and the bytes the update
  // would have taken in the clear.
  std::string secagg_advertisement;
  int64_t plain_bytes = 0;
};

struct EvalTask {
  int64_t round = 0;
  std::shared_ptr<const ParameterSet> global_shared;
  // For algorithms that fine-tune before evaluating (FedBABU, FedAvg + fine-tuning): the
  // experiment's local training options. The fine-tuned model is evaluated, never stored.
  TrainOptions options;
  uint64_t seed = 0;
  // > 0: the client is new (held out of training). It starts from the global model and a
  // fresh personal part, runs its algorithm's local training for this many epochs, is
  // evaluated, and keeps nothing. 0: a training client evaluates its own model.
  int new_client_epochs = 0;
  // New clients only: few-shot curve points. For each n the client starts again from the fresh
  // device, fits only its personal part (the whole model when nothing is personal; nothing when
  // the algorithm's global model is what it evaluates) on its first n training examples with
  // the optimizer steps that new_client_epochs epochs on all of them take, and reports its test
  // result as the view "shots_<n>".
  std::vector<int> new_client_shots;
  // Which evaluation this is (several may share a round); reports name it.
  int64_t evaluation_id = 0;
  // The experiment's last round: nothing follows this evaluation.
  bool last_round = false;
};

struct EvalReport {
  int64_t client_id = 0;
  // The client's own model (global shared + its personal part, fine-tuned when the algorithm
  // does so) on its local test set.
  EvalStats personalized;
  // The global model alone on the same test set, when the shared part is a complete model
  // (nothing personal); before any fine-tuning.
  std::optional<EvalStats> global;
  // The same models on each of the client's test views (LocalData::test_views), by name.
  std::map<std::string, EvalStats> personalized_views, global_views;
};

struct ClientContext {
  int64_t client_id = 0;
  const ClientAlgorithm* algorithm = nullptr;
  PersonalStore* store = nullptr;
  LocalData data;
  // The model's full parameter names in order, and the initial model (source of a client's
  // personal part before its first round).
  std::shared_ptr<const ParameterSet> initial_model;
  // DP-SGD's private coins keyed from the task seed (simulations: the same seed gives the same
  // numbers) instead of the OS (deployed clients: the coordinator, which chose the seed, must
  // not be able to predict them).
  bool reproducible_private_noise = false;
};

class ClientRuntime {
 public:
  explicit ClientRuntime(ClientContext context) : ctx_(std::move(context)) {}
  // What the device keeps between rounds: the personal parameters; with the topk upload codec,
  // the error-feedback memory (stored beside them as "upload_residual/<name>"); with DP-SGD,
  // the device's record-level RDP curve ("dp_sgd/rdp"); and what the algorithm keeps
  // ("algorithm/<name>": Ditto's personal model, APFL's mixing weight...).
  struct DeviceState {
    ParameterSet personal;
    ParameterSet residual;
    ParameterSet dp_sgd;
    ParameterSet algorithm;
  };
  // Splits what a PersonalStore holds into the four.
  static DeviceState SplitStoredState(ParameterSet stored);

  absl::StatusOr<UpdateUpload> Train(const TrainTask& task, LocalTrainer& trainer);
  absl::StatusOr<EvalReport> Evaluate(const EvalTask& task, LocalTrainer& trainer);
  // Loads into `trainer` the model this client evaluates: `global_shared` with its newest
  // personal part, adapted as before an evaluation (FedAvg + fine-tuning fine-tunes on the
  // client's training data, Ditto loads its personal model). `tailor generate` samples from it.
  absl::Status LoadPersonalizedModel(const ParameterSet& global_shared, const TrainOptions& options,
                                     uint64_t seed, LocalTrainer& trainer);

 private:
  // The loaded model on the client's test set, and on each test view into *views.
  absl::StatusOr<EvalStats> EvaluateTest(LocalTrainer& trainer,
                                         std::map<std::string, EvalStats>* views) const;
  absl::StatusOr<EvalReport> EvaluateAsNewClient(const EvalTask& task, LocalTrainer& trainer);
  // The few-shot points of a new client's evaluation (EvalTask::new_client_shots), as views.
  absl::Status EvaluateFewShot(const EvalTask& task, const TrainOptions& options,
                               LocalTrainer& trainer, EvalReport* report);
  // The report's personalized stats after the algorithm's PrepareEvaluation on the loaded model.
  absl::Status EvaluateAdapted(const EvalTask& task, const ParameterSet& algorithm_state,
                               LocalTrainer& trainer, EvalReport* report);
  // Loads shared + the personal part as of `as_of_round` into `trainer`; returns the device
  // state used.
  absl::StatusOr<DeviceState> LoadModel(const ParameterSet& global_shared, int64_t as_of_round,
                                        LocalTrainer& trainer);

  ClientContext ctx_;
};

}  // namespace tailor

#endif  // TAILOR_CLIENT_CLIENT_RUNTIME_H_
