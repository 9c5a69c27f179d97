// Coordinator: the experiment's round loop, written once for every transport.
//   for each round: select the cohort, publish the global shared parameters, let the transport
//   deliver the task, collect and validate updates (Round), aggregate, apply the server step,
//   evaluate every E rounds, and tell the observers.
// It owns no sockets, threads or storage of its own: the transport, Env and observers are
// injected.
#ifndef TAILOR_SERVER_COORDINATOR_H_
#define TAILOR_SERVER_COORDINATOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "aggregation/server_optimizer.h"
#include "privacy/dp_fedavg.h"
#include "privacy/dp_sum.h"
#include "server/checkpoint_store.h"
#include "server/evaluation.h"
#include "server/round.h"
#include "server/secure_sum.h"
#include "server/transport.h"

namespace tailor {

// What a DP round spent and with which parameters.
struct PrivacyRecord {
  // (ε, δ) spent by every round so far, this one included.
  double epsilon = 0;
  double delta = 0;
  // The clip norm and noise multiplier this round used, and the expected cohort size.
  double clip_norm = 0;
  double noise_multiplier = 0;
  double expected_cohort = 0;
};

// What secure aggregation did in a round (server/secure_sum.h).
struct SecureAggregationRecord : SecureSumStats {
  // Bytes the summed clients' updates would have taken in the clear, and every byte the
  // protocol moved (advertisements included), for the comparison in the summary.
  int64_t plain_upload_bytes = 0;
  int64_t protocol_bytes = 0;
};

// Secure aggregation for every round (config.proto SecureAggregationConfig).
struct SecureAggregationOptions {
  // SecAgg+ (k neighbours) instead of SecAgg (everyone).
  bool plus = false;
  // 0: chosen at Create from the cohort size, `dropout` and `corrupt` (privacy/secagg_graph.h).
  int threshold = 0;
  int neighbours = 0;  // SecAgg+'s k
  double dropout = 0.1;
  double corrupt = 0;
  double clip_norm = 0;
  int64_t max_weight = 100000;
  absl::Duration phase_timeout = absl::Minutes(10);
  // Under DP: each client adds its share of the noise before masking (distributed DP) instead
  // of the coordinator adding it to the unmasked sum.
  bool distributed_noise = false;
};

struct RoundRecord : RoundStats {
  // How many times the round was run: a round that cannot gather min_updates is run again with
  // a newly drawn cohort (CoordinatorOptions::short_round). 1 for a round that closed at once.
  int64_t attempts = 1;
  // True when no attempt gathered min_updates and the round was skipped: the model and the
  // server optimizer's state are those of the previous round.
  bool skipped = false;
  // True when the run is private and releases only what ε covers
  // (CoordinatorOptions::withhold_unprotected): the counts, the training loss and the record ε
  // are cleared, and there is no evaluation.
  bool withheld = false;
  // L2 norm of the applied global update (0 when nothing is shared).
  double update_norm = 0;
  // Present on evaluation rounds: the training population's personalized models.
  std::optional<EvalSummary> eval;
  // Present on evaluation rounds when clients are held out: how new clients do after
  // personalizing from the current global model (CoordinatorOptions::new_clients).
  std::optional<EvalSummary> new_client_eval;
  // Present when the run is differentially private.
  std::optional<PrivacyRecord> privacy;
  // Present under secure aggregation.
  std::optional<SecureAggregationRecord> secure_aggregation;
  // Wall time of the whole round, of its training phase (dispatch to close) and its evaluation.
  double round_seconds = 0;
  double train_seconds = 0;
  double eval_seconds = 0;
  double elapsed_seconds = 0;
};

class RoundObserver {
 public:
  virtual ~RoundObserver() = default;
  // A cohort member was accounted for (from a transport thread).
  virtual void OnClientProgress(int64_t round, int64_t done, int64_t total) {}
  virtual void OnRoundComplete(const RoundRecord& record) = 0;
};

struct CoordinatorOptions {
  // Clients are identified 0..num_clients-1. >= 1.
  int64_t num_clients = 0;
  // Rounds to run with RunAll(). >= 1.
  int64_t rounds = 1;
  // Cohort size per round; 0 = all clients.
  int64_t clients_per_round = 0;
  // Accepted updates a round needs; 0 = the whole cohort.
  int64_t min_updates = 0;
  // What a round that closes short of min_updates (dropouts, rejected uploads, the deadline)
  // does. Never an error that ends the experiment.
  enum class ShortRound {
    // Run it again with a newly drawn cohort and task seed (attempt a+1), drawn without the
    // clients that failed its earlier attempts, up to max_round_attempts; then skip it.
    kRetry,
    // Record it as skipped (model unchanged) and go on with the next round.
    kSkip,
  };
  ShortRound short_round = ShortRound::kRetry;
  // Attempts per round under kRetry; 0 = unlimited (a deployment waiting out an outage).
  int64_t max_round_attempts = 10;
  // Aggregation rule and its hyperparameters (aggregation/aggregator.h).
  AggregatorOptions aggregator;
  // The server's step on the aggregate (aggregation/server_optimizer.h); the default "sgd" with
  // learning rate 1 is FedAvg. Its state is checkpointed with the model.
  ServerOptimizerOptions server_optimizer;
  // Client-level differential privacy (privacy/dp_fedavg.h). When set, it samples the cohorts
  // (clients_per_round and min_updates are ignored), aggregates, accounts and enforces the
  // budget; its population is num_clients and its planned rounds `rounds`.
  std::optional<DpFedAvgOptions> privacy;
  // With `privacy`: release only what the accountant covers. Every record observers and the
  // store see is cleared of the counts, the training loss and the record ε (RoundRecord::
  // withheld), and no evaluation runs: its accuracies are measured on clients' data without
  // noise. Ignored without privacy.
  bool withhold_unprotected = false;
  // Secure aggregation (server/secure_sum.h): the coordinator learns only each round's sum of
  // the cohort's updates. Needs the weighted mean and a transport that carries the protocol;
  // not combined with `privacy` yet.
  std::optional<SecureAggregationOptions> secure_aggregation;
  // Evaluate after every this many rounds, and after the last.
  int64_t eval_every = 1;
  // Also evaluate the initial model before round 1 (a record with round 0): what the
  // federation starts from, a pretrained base for instance. Not durable: a coordinator that
  // restarts before round 1 completes evaluates it again. Ignored under withhold_unprotected.
  bool eval_at_start = false;
  // What the model's evaluations measure (core/task.h): accuracy or bits per byte.
  TaskKind task = TaskKind::kImageClassification;
  // Clients held out of training: the last `new_clients` ids never join a cohort (nor the DP
  // population). On evaluation rounds each one personalizes from the current global model with
  // its algorithm's local training for `new_client_epochs` epochs, is evaluated, and keeps
  // nothing. In [0, num_clients).
  int64_t new_clients = 0;
  int new_client_epochs = 1;
  // Few-shot curve points for the new clients (config.proto EvalConfig.new_client_shots).
  std::vector<int> new_client_shots;
  // Master seed (cohorts, per-round client seeds).
  uint64_t seed = 0;
  TrainOptions train;
  // The initial global shared parameters (may be empty: local-only training).
  ParameterSet initial_shared;
  // How long a round waits for its cohort, and an evaluation for its clients; clients not heard
  // from by then are dropouts. Infinite by default (the simulation always hears back).
  absl::Duration round_timeout = absl::InfiniteDuration();
  absl::Duration eval_timeout = absl::InfiniteDuration();
  // Durable state (optional, not owned): the coordinator resumes after its last committed round
  // and commits each round before reporting it. Needs `run_name` for the stored metrics lines.
  CheckpointStore* checkpoints = nullptr;
  std::string run_name;
  // Not owned; must outlive the coordinator.
  ClientTransport* transport = nullptr;
  Env* env = nullptr;
  std::vector<RoundObserver*> observers;
};

class Coordinator {
 public:
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(CoordinatorOptions options);

  // Runs the next round: trains (attempting it again, or skipping it, when it closes short of
  // min_updates), commits it, then evaluates it when due and commits the evaluation; observers
  // hear of it only then. Nothing derived from a round (its model in an evaluation task, its
  // metrics) leaves the coordinator before the round is committed. When a crash came between
  // the two commits, the next call finishes the interrupted evaluation instead and returns that
  // round's record. RESOURCE_EXHAUSTED, running nothing, when the next round would take ε above
  // the privacy budget.
  absl::StatusOr<RoundRecord> RunRound();
  // Runs rounds until options.rounds are complete or the privacy budget stops the run (which
  // is not an error: see stop_reason()).
  absl::Status RunAll();
  // Why RunAll stopped before options.rounds; empty when it did not.
  const std::string& stop_reason() const { return stop_reason_; }
  // The DP mechanism (its ε, clip norm), or null without privacy.
  // The secure-aggregation options with the chosen threshold and neighbours, when on.
  const std::optional<SecureAggregationOptions>& secure_aggregation() const {
    return options_.secure_aggregation;
  }
  const DpFedAvg* privacy() const { return privacy_.get(); }

  int64_t completed_rounds() const { return completed_rounds_; }
  // True when this coordinator resumed from a checkpoint.
  bool resumed() const { return resumed_; }
  std::shared_ptr<const ParameterSet> global_shared() const { return global_; }

 private:
  explicit Coordinator(CoordinatorOptions options);
  // The optimizer's state and the privacy state, as one set for the checkpoint.
  ParameterSet ServerState() const;
  // True when privacy is on and the next round would exceed the budget; and why, in words.
  bool BudgetExhausted() const;
  std::string BudgetMessage() const;
  // Clients who train: ids [0, training_clients()).
  int64_t training_clients() const { return options_.num_clients - options_.new_clients; }
  // Evaluates clients [first, first + count) on the current model; new clients personalize
  // first.
  EvalSummary Evaluate(int64_t round, int64_t first, int64_t count, bool new_clients);
  // One attempt at training round `round`: dispatch, wait, close. FAILED_PRECONDITION when it
  // closed short of its minimum.
  absl::StatusOr<RoundResult> TrainAttempt(int64_t round, int64_t attempt,
                                           std::optional<PrivacyRecord>* privacy_record,
                                           std::optional<SecureAggregationRecord>* secure_record);
  // Runs secure aggregation over the advertisements of a closed round and fills its mean,
  // loss and counts from the sum.
  // Under secure aggregation with DP: each client's noise share (grid units; 0 for central DP)
  // and the round's compact field.
  uint64_t NoiseShare(const DpSumGrid& grid) const;
  SecAggField DpSecAggField(const DpSumGrid& grid) const;
  // Under distributed DP, sets *carried_noise_multiplier to the noise the survivors added.
  absl::StatusOr<RoundResult> SecureAggregate(int64_t round, RoundResult result,
                                              DpSumAggregator* dp_sum,
                                              double* carried_noise_multiplier,
                                              std::optional<SecureAggregationRecord>* record);
  // Evaluates the committed round of `record` (when due), commits the evaluation, and tells the
  // observers.
  absl::StatusOr<RoundRecord> EvaluateAndReport(RoundRecord record);
  // The evaluation of the initial model (eval_at_start), reported as round 0.
  void EvaluateInitialModel();
  bool EvaluationDue(int64_t round) const;
  CoordinatorOptions options_;
  std::shared_ptr<const ParameterSet> global_;
  std::unique_ptr<ServerOptimizer> optimizer_;
  std::unique_ptr<DpFedAvg> privacy_;
  std::string stop_reason_;
  int64_t completed_rounds_ = 0;
  // The attempt of the round being run, and the clients that failed its earlier attempts (a
  // restarted coordinator goes on with the attempt it was running, so it trains the same
  // cohort on the same seed).
  CheckpointStore::Attempt attempt_;
  // The committed round whose evaluation a crash interrupted; finished before anything else.
  std::optional<RoundRecord> pending_evaluation_;
  bool resumed_ = false;
  absl::Time started_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_COORDINATOR_H_
