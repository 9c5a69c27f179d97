#include "server/coordinator.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/log.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "privacy/secagg_graph.h"
#include "privacy/secagg_input.h"
#include "server/secure_dp_release.h"
#include "server/cohort_selector.h"
#include "server/metrics_jsonl.h"

namespace tailor {

namespace {

// Checks the options and chooses the threshold (and SecAgg+'s neighbours) left at 0.
absl::Status ResolveSecureAggregation(CoordinatorOptions& options) {
  SecureAggregationOptions& sa = *options.secure_aggregation;
  if (options.aggregator.name != "weighted_mean") {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation sums updates, so it needs the weighted_mean aggregator, not ",
        options.aggregator.name, " (a robust rule must see each update)"));
  }
  const int64_t training = options.num_clients - options.new_clients;
  int64_t cohort = options.clients_per_round > 0 ? std::min(options.clients_per_round, training)
                                                 : training;
  if (options.privacy) {
    // Poisson cohorts: the threshold is chosen for the expected size.
    cohort = std::max<int64_t>(
        2, std::llround(options.privacy->sampling_rate * static_cast<double>(training)));
  }
  if (!sa.plus) sa.neighbours = 0;
  if (sa.threshold == 0 || (sa.plus && sa.neighbours == 0)) {
    absl::StatusOr<SecAggPlusParams> chosen =
        sa.plus ? ChooseSecAggPlus(cohort, sa.dropout, sa.corrupt)
                : ChooseSecAggThreshold(cohort, sa.dropout);
    if (!chosen.ok()) {
      return Annotate(chosen.status(), "choosing the secure-aggregation threshold");
    }
    if (sa.threshold == 0) sa.threshold = chosen->threshold;
    if (sa.plus && sa.neighbours == 0) {
      sa.neighbours = chosen->neighbours >= cohort - 1 ? 0 : chosen->neighbours;
    }
  }
  if (sa.threshold < 2 || sa.threshold > cohort) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the secure-aggregation threshold must be in [2, cohort size ", cohort, "], got ",
        sa.threshold, " (below 2 any one client could unmask another)"));
  }
  if (sa.neighbours < 0 || sa.neighbours % 2 != 0 ||
      (sa.neighbours > 0 && sa.neighbours + 1 < sa.threshold)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SecAgg+ needs an even number of neighbours k with k + 1 >= the threshold ",
        sa.threshold, ", got ", sa.neighbours));
  }
  // Under DP the inputs are grid units of clipped updates, which DP-FedAvg's grid keeps far
  // from wrapping (DpSumAggregator::AddGridSum checks the sum).
  if (options.privacy) return absl::OkStatus();
  return SecAggFits(cohort, sa.clip_norm, sa.max_weight);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(CoordinatorOptions options) {
  if (options.num_clients < 1) return absl::InvalidArgumentError("num_clients must be >= 1");
  if (options.rounds < 1) return absl::InvalidArgumentError("rounds must be >= 1");
  if (options.transport == nullptr) return absl::InvalidArgumentError("no transport");
  if (options.env == nullptr) options.env = Env::Default();
  if (options.eval_every < 1) options.eval_every = 1;
  if (options.new_clients < 0 || options.new_clients >= options.num_clients) {
    return absl::InvalidArgumentError(
        absl::StrCat("new_clients must be in [0, num_clients = ", options.num_clients,
                     "), got ", options.new_clients));
  }
  if (options.new_clients > 0 && options.new_client_epochs < 1) {
    return absl::InvalidArgumentError(absl::StrCat("new_client_epochs must be >= 1, got ",
                                                   options.new_client_epochs));
  }
  TAILOR_RETURN_IF_ERROR(CreateAggregator(options.aggregator).status());
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<ServerOptimizer> optimizer,
                          CreateServerOptimizer(options.server_optimizer));
  if (options.secure_aggregation) {
    TAILOR_RETURN_IF_ERROR(ResolveSecureAggregation(options));
  }
  std::unique_ptr<DpFedAvg> privacy;
  if (options.privacy) {
    options.privacy->population = options.num_clients - options.new_clients;
    options.privacy->planned_rounds = options.rounds;
    TAILOR_ASSIGN_OR_RETURN(privacy, DpFedAvg::Create(*options.privacy));
  }
  TAILOR_RETURN_IF_ERROR(Annotate(options.initial_shared.CheckFinite(), "initial model"));
  std::optional<Checkpoint> checkpoint;
  if (options.checkpoints != nullptr) {
    TAILOR_ASSIGN_OR_RETURN(checkpoint, options.checkpoints->LoadLatest());
    if (checkpoint) {
      TAILOR_RETURN_IF_ERROR(Annotate(
          options.initial_shared.CheckSameSchema(checkpoint->global_shared, "checkpointed model"),
          "the stored state does not match this experiment's model"));
    }
  }
  if (checkpoint) {
    // The checkpoint's server state holds the optimizer's tensors and, under DP, the
    // accountant's ("privacy/..."); each part is restored by its owner.
    ParameterSet optimizer_state, privacy_state;
    const std::string prefix = DpFedAvg::kStatePrefix;
    for (size_t i = 0; i < checkpoint->server_state.size(); ++i) {
      NamedTensor& e = checkpoint->server_state.entry(i);
      ParameterSet& part = e.name.compare(0, prefix.size(), prefix) == 0 ? privacy_state
                                                                         : optimizer_state;
      TAILOR_RETURN_IF_ERROR(part.Add(e.name, std::move(e.tensor)));
    }
    const std::string resuming = absl::StrCat("resuming after round ", checkpoint->round);
    TAILOR_RETURN_IF_ERROR(Annotate(optimizer->Restore(optimizer_state, options.initial_shared),
                                    absl::StrCat(resuming,
                                                 " (was the server optimizer changed mid-run?)")));
    if (privacy) {
      TAILOR_RETURN_IF_ERROR(Annotate(privacy->Restore(privacy_state), resuming));
    } else if (!privacy_state.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          resuming, ": the run is differentially private and this config turns privacy off; "
                    "continuing would release updates without noise under the same run"));
    }
  }
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(options)));
  c->optimizer_ = std::move(optimizer);
  c->privacy_ = std::move(privacy);
  if (checkpoint) {
    c->completed_rounds_ = checkpoint->round;
    c->global_ = std::make_shared<const ParameterSet>(std::move(checkpoint->global_shared));
    c->resumed_ = true;
    if (checkpoint->pending_evaluation_metrics) {
      absl::StatusOr<RoundRecord> interrupted =
          RoundRecordFromJson(*checkpoint->pending_evaluation_metrics);
      if (!interrupted.ok()) {
        return Annotate(interrupted.status(),
                        absl::StrCat("the stored record of round ", checkpoint->round));
      }
      c->pending_evaluation_ = *std::move(interrupted);
    }
  }
  if (c->options_.checkpoints != nullptr) {
    TAILOR_ASSIGN_OR_RETURN(auto attempt, c->options_.checkpoints->LastAttempt());
    if (attempt && attempt->round == c->completed_rounds_ + 1) {
      c->attempt_ = *attempt;
      if (c->options_.secure_aggregation) {
        // The interrupted attempt may have reached the protocol (keys advertised, shares sent,
        // inputs masked). Running it again would mask the same updates under new keys, and two
        // sums over different survivors could reveal one client's update: it is aborted, and
        // the round goes on as its next attempt (another cohort draw and seed, fresh keys).
        LogEvent(LogLevel::kWarn, "secagg_attempt_aborted",
                 {{"round", absl::StrCat(attempt->round)},
                  {"attempt", absl::StrCat(attempt->attempt)},
                  {"msg", "the coordinator restarted during this attempt; the round goes on "
                          "with the next"}});
        ++c->attempt_.attempt;
      }
    }
  }
  return c;
}

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)),
      global_(std::make_shared<const ParameterSet>(options_.initial_shared)),
      started_(options_.env->Now()) {}

absl::StatusOr<RoundResult> Coordinator::TrainAttempt(
    int64_t round, int64_t attempt, std::optional<PrivacyRecord>* privacy_record,
    std::optional<SecureAggregationRecord>* secure_record) {
  const absl::Time start = options_.env->Now();
  RoundOptions ro;
  ro.round = round;
  ro.shared_schema = global_;
  TrainTask task;
  task.options = options_.train;
  DpSumAggregator* dp_sum = nullptr;  // the round's DP sum (owned by the Round), under DP
  if (privacy_) {
    // Poisson sampling, the noised mean, and the clip norm clients apply on the device.
    ro.cohort = privacy_->SampleCohort(round);
    TAILOR_ASSIGN_OR_RETURN(ro.aggregator, privacy_->AggregatorForRound(round));
    dp_sum = dynamic_cast<DpSumAggregator*>(ro.aggregator.get());
    ro.min_updates = 0;
    task.options.clip_norm = privacy_->clip_norm();
    privacy_record->emplace();
    (*privacy_record)->clip_norm = privacy_->clip_norm();
    (*privacy_record)->noise_multiplier = privacy_->noise_multiplier();
    (*privacy_record)->expected_cohort = privacy_->expected_cohort();
  } else {
    // A later attempt draws another cohort and seed; the first is what it always was.
    const uint64_t cohort_seed =
        attempt == 1 ? options_.seed
                     : DeriveSeed(options_.seed, {0x7265747279ULL /*"retry"*/,
                                                  static_cast<uint64_t>(attempt)});
    // Clients that failed an earlier attempt of this round (a client that is down, one whose
    // upload was refused) are left out of the retry's draw, unless too few would remain for
    // the configured minimum: then everyone is tried again.
    ro.cohort = SelectFixedCohort(training_clients(), options_.clients_per_round, cohort_seed,
                                  round, attempt_.excluded);
    if (ro.cohort.empty() ||
        static_cast<int64_t>(ro.cohort.size()) < options_.min_updates) {
      attempt_.excluded.clear();
      ro.cohort = SelectFixedCohort(training_clients(), options_.clients_per_round, cohort_seed,
                                    round);
    }
    TAILOR_ASSIGN_OR_RETURN(ro.aggregator, CreateAggregator(options_.aggregator));
    ro.min_updates = options_.min_updates > 0 ? options_.min_updates
                                              : static_cast<int64_t>(ro.cohort.size());
    ro.min_updates = std::min<int64_t>(ro.min_updates, static_cast<int64_t>(ro.cohort.size()));
  }
  if (options_.secure_aggregation) {
    // Clients clip on the device (the field is sized for it) and upload key advertisements;
    // the round needs the protocol's threshold of them.
    const SecureAggregationOptions& sa = *options_.secure_aggregation;
    task.secure_aggregation = SecureAggregationTask{sa.threshold, sa.neighbours, sa.clip_norm,
                                                    sa.max_weight};
    if (!privacy_) task.options.clip_norm = sa.clip_norm;
    ro.secure_aggregation = true;
    // Under DP a round is never short: one the protocol cannot unmask releases the noise
    // alone (SecureAggregate).
    if (!privacy_) {
      ro.min_updates = std::min<int64_t>(sa.threshold, static_cast<int64_t>(ro.cohort.size()));
    }
  }
  if (!(privacy_ && options_.withhold_unprotected)) {  // the live count is a cohort size
    ro.on_progress = [this, round](int64_t done, int64_t total) {
      for (RoundObserver* o : options_.observers) o->OnClientProgress(round, done, total);
    };
  }
  const std::vector<int64_t> cohort = ro.cohort;
  TAILOR_ASSIGN_OR_RETURN(std::shared_ptr<Round> state, Round::Create(std::move(ro)));
  if (task.secure_aggregation && dp_sum != nullptr) {
    // Clients put their clipped update in the round's grid themselves (the aggregator has begun:
    // the grid is set); the coordinator noises the unmasked sum.
    const DpSumGrid grid = dp_sum->grid();
    task.secure_aggregation->clip_norm = privacy_->clip_norm();
    task.secure_aggregation->dp_grid = grid.grid;
    task.secure_aggregation->dp_effective_clip = grid.effective_clip;
    task.secure_aggregation->dp_noise_sigma_squared = NoiseShare(grid);
    task.secure_aggregation->field_bits = DpSecAggField(grid).bits;
  }

  task.round = round;
  task.global_shared = global_;
  task.seed = attempt == 1
                  ? DeriveSeed(options_.seed, {0x747261696eULL /*"train"*/,
                                               static_cast<uint64_t>(round)})
                  : DeriveSeed(options_.seed, {0x747261696eULL, static_cast<uint64_t>(round),
                                               static_cast<uint64_t>(attempt)});
  options_.transport->DispatchTrain(task, cohort, state);
  state->AwaitAllReportedUntil(start + options_.round_timeout);
  absl::StatusOr<RoundResult> result = state->Close();
  for (int64_t failed : state->FailedClients()) attempt_.excluded.insert(failed);
  if (result.ok() && options_.secure_aggregation) {
    double carried = 0;
    const uint64_t share = task.secure_aggregation->dp_noise_sigma_squared;
    absl::StatusOr<RoundResult> secure =
        SecureAggregate(round, *std::move(result), dp_sum, share > 0 ? &carried : nullptr,
                        secure_record);
    if (secure.ok() && carried > 0) (*privacy_record)->noise_multiplier = carried;
    return secure;
  }
  return result;
}

uint64_t Coordinator::NoiseShare(const DpSumGrid& grid) const {
  if (!options_.secure_aggregation->distributed_noise) return 0;
  // Each client's share, so that any `threshold` of them (the fewest a round unmasks with)
  // carry at least the configured noise.
  const uint64_t t = static_cast<uint64_t>(options_.secure_aggregation->threshold);
  return (grid.sigma_squared + t - 1) / t;
}

SecAggField Coordinator::DpSecAggField(const DpSumGrid& grid) const {
  // No round's roster can outgrow the training population.
  return SecAggDpField(training_clients(), grid, NoiseShare(grid));
}

absl::StatusOr<RoundResult> Coordinator::SecureAggregate(
    int64_t round, RoundResult result, DpSumAggregator* dp_sum, double* carried_noise_multiplier,
    std::optional<SecureAggregationRecord>* record) {
  const SecureAggregationOptions& sa = *options_.secure_aggregation;
  SecureSumOptions so;
  so.config.round = round;
  so.config.threshold = sa.threshold;
  so.config.neighbours = sa.neighbours;
  so.config.field = dp_sum != nullptr ? DpSecAggField(dp_sum->grid()) : SecAggWeightedField();
  so.config.length = SecAggInputLength(global_->TotalElements());
  so.transport = options_.transport;
  so.env = options_.env;
  so.phase_timeout = sa.phase_timeout;
  record->emplace();
  SecureAggregationRecord& r = **record;
  absl::StatusOr<SecureSum> sum = RunSecureSum(result.secagg_advertisements, so, &r);
  r.plain_upload_bytes = result.plain_upload_bytes;
  r.protocol_bytes = result.upload_bytes + r.bytes_to_clients + r.bytes_from_clients;
  result.secagg_advertisements.clear();
  if (dp_sum != nullptr) {
    // The DP layer over the secure sum (server/secure_dp_release.h).
    SecureDpReleaseOptions ro;
    ro.field_bits = so.config.field.bits;
    ro.noise_share = NoiseShare(dp_sum->grid());
    ro.noise_multiplier = privacy_->noise_multiplier();
    ro.clip_norm = privacy_->clip_norm();
    absl::StatusOr<SecureDpRelease> release =
        sum.ok() ? ReleaseSecureDpSum(*sum, global_->TotalElements(), ro, *dp_sum)
                 : absl::StatusOr<SecureDpRelease>(sum.status());
    const bool noise_alone = !release.ok() && absl::IsFailedPrecondition(release.status());
    if (noise_alone) {
      // Too few clients to unmask, or a sum that cannot be released: under DP the round still
      // releases, the noise alone (as a Poisson round with nobody sampled does). Dropping every
      // contribution cannot raise the sensitivity, and a retry would sample the same cohort.
      LogEvent(LogLevel::kWarn, "secagg_round_aborted",
               {{"round", absl::StrCat(round)},
                {"msg", absl::StrCat(release.status().message(), "; releasing the noise alone")}});
      release = ReleaseNoiseAlone(ro, *dp_sum);
      result.failed += result.accepted;
      result.accepted = 0;
    }
    if (!release.ok()) return release.status();
    result.mean_delta = std::move(release->mean_delta);
    result.within_clip = release->within_clip;
    result.train_loss = 0;  // not in the input: DP covers none of it
    result.train_samples = 0;
    if (carried_noise_multiplier != nullptr) {
      *carried_noise_multiplier = release->carried_noise_multiplier;
    }
    if (noise_alone) {
      result.upload_bytes = r.protocol_bytes;
      return result;
    }
  } else {
    // Too few clients in some phase: a short round (retried or skipped like any other).
    if (!sum.ok()) return sum.status();
    TAILOR_ASSIGN_OR_RETURN(SecAggMean mean, DecodeSecAggSum(*global_, sum->words));
    result.mean_delta = std::move(mean.mean_delta);
    result.train_loss = mean.train_loss;
    result.train_samples = static_cast<int64_t>(std::llround(mean.weight_sum));
  }
  // Clients whose inputs are not in the sum did not finish the round.
  const int64_t lost = result.accepted - static_cast<int64_t>(sum->survivors.size());
  result.accepted -= lost;
  result.failed += lost;
  result.upload_bytes = r.protocol_bytes;
  return result;
}

absl::StatusOr<RoundRecord> Coordinator::RunRound() {
  if (pending_evaluation_) {
    RoundRecord record = *std::exchange(pending_evaluation_, std::nullopt);
    return EvaluateAndReport(std::move(record));
  }
  const int64_t round = completed_rounds_ + 1;
  const absl::Time round_start = options_.env->Now();
  if (BudgetExhausted()) return absl::ResourceExhaustedError(BudgetMessage());

  RoundRecord record;
  std::optional<PrivacyRecord> privacy_record;
  std::optional<SecureAggregationRecord> secure_record;
  absl::StatusOr<RoundResult> result;
  for (attempt_.round = round;; ++attempt_.attempt) {
    if (options_.checkpoints != nullptr) {
      // A restarted coordinator goes on with this attempt: the same cohort and seed.
      TAILOR_RETURN_IF_ERROR(options_.checkpoints->RecordAttempt(attempt_));
    }
    const int64_t attempt = attempt_.attempt;
    record.attempts = attempt;
    result = TrainAttempt(round, attempt, &privacy_record, &secure_record);
    // Short of min_updates (dropouts, refused uploads, the deadline) is FAILED_PRECONDITION;
    // anything else is a fault of the coordinator itself.
    if (result.ok() || !absl::IsFailedPrecondition(result.status())) break;
    const bool retry = options_.short_round == CoordinatorOptions::ShortRound::kRetry &&
                       (options_.max_round_attempts == 0 || attempt < options_.max_round_attempts);
    LogEvent(LogLevel::kWarn, "round_short",
             {{"round", absl::StrCat(round)},
              {"attempt", absl::StrCat(attempt)},
              {"next", retry ? "retry with a new cohort" : "skip the round"},
              {"msg", std::string(result.status().message())}});
    if (!retry) {
      record.skipped = true;
      break;
    }
  }
  attempt_ = CheckpointStore::Attempt();  // the next round starts at attempt 1
  const absl::Time trained = options_.env->Now();
  if (record.skipped) {
    record.round = round;
  } else {
    TAILOR_RETURN_IF_ERROR(result.status());
    static_cast<RoundStats&>(record) = *result;
    record.secure_aggregation = secure_record;
    if (privacy_) {
      // Under distributed DP the round is accounted at the noise its survivors carried.
      const bool distributed =
          options_.secure_aggregation && options_.secure_aggregation->distributed_noise;
      TAILOR_RETURN_IF_ERROR(privacy_->CompleteRound(
          round, result->accepted, result->within_clip,
          distributed ? privacy_record->noise_multiplier : 0));
      privacy_record->epsilon = privacy_->Spent().epsilon;
      privacy_record->delta = privacy_->options().delta;
      record.privacy = privacy_record;
    }
    if (!global_->empty()) {
      auto next = std::make_shared<ParameterSet>(*global_);
      TAILOR_ASSIGN_OR_RETURN(record.update_norm,
                              optimizer_->Step(next.get(), result->mean_delta));
      global_ = std::move(next);
    }
  }
  if (privacy_ && options_.withhold_unprotected) {
    // Only what the accountant covers leaves this function: the round, the privacy record and
    // the update's norm (computed from the released model). Timings stay (docs/privacy.md).
    RoundRecord released;
    released.round = record.round;
    released.attempts = record.attempts;
    released.skipped = record.skipped;
    released.privacy = record.privacy;
    released.update_norm = record.update_norm;
    released.withheld = true;
    record = std::move(released);
  }
  record.train_seconds = absl::ToDoubleSeconds(trained - round_start);
  record.round_seconds = record.train_seconds;
  record.elapsed_seconds = absl::ToDoubleSeconds(trained - started_);
  if (options_.checkpoints != nullptr) {
    // Committed before anything derived from it leaves: its model in evaluation tasks, its
    // metrics. The evaluation is committed on its own once it is done.
    TAILOR_RETURN_IF_ERROR(options_.checkpoints->SaveRound(
        round, *global_, ServerState(), RoundRecordToJson(record, options_.run_name),
        /*evaluation_pending=*/EvaluationDue(round)));
  }
  completed_rounds_ = round;
  return EvaluateAndReport(std::move(record));
}

bool Coordinator::EvaluationDue(int64_t round) const {
  // Evaluation measures clients' data without noise: a private run that withholds what ε does
  // not cover does not evaluate.
  if (privacy_ && options_.withhold_unprotected) return false;
  // The last round the privacy budget allows is evaluated like the last planned one.
  return round % options_.eval_every == 0 || round == options_.rounds || BudgetExhausted();
}

absl::StatusOr<RoundRecord> Coordinator::EvaluateAndReport(RoundRecord record) {
  const int64_t round = record.round;
  if (EvaluationDue(round)) {
    const absl::Time eval_start = options_.env->Now();
    record.eval = Evaluate(round, 0, training_clients(), /*new_clients=*/false);
    if (options_.new_clients > 0) {
      record.new_client_eval =
          Evaluate(round, training_clients(), options_.new_clients, /*new_clients=*/true);
    }
    const absl::Time now = options_.env->Now();
    record.eval_seconds = absl::ToDoubleSeconds(now - eval_start);
    record.round_seconds = record.train_seconds + record.eval_seconds;
    record.elapsed_seconds = absl::ToDoubleSeconds(now - started_);
    if (options_.checkpoints != nullptr) {
      TAILOR_RETURN_IF_ERROR(options_.checkpoints->CompleteEvaluation(
          round, RoundRecordToJson(record, options_.run_name)));
    }
  }
  for (RoundObserver* o : options_.observers) o->OnRoundComplete(record);
  return record;
}

EvalSummary Coordinator::Evaluate(int64_t round, int64_t first, int64_t count,
                                  bool new_clients) {
  std::vector<int64_t> clients(static_cast<size_t>(count));
  std::iota(clients.begin(), clients.end(), first);
  auto collector = std::make_shared<EvalCollector>(clients, options_.task);
  EvalTask eval;
  eval.round = round;
  eval.global_shared = global_;
  eval.options = options_.train;
  eval.seed = DeriveSeed(options_.seed, {0x6576616cULL /*"eval"*/, static_cast<uint64_t>(round)});
  if (new_clients) {
    eval.new_client_epochs = options_.new_client_epochs;
    eval.new_client_shots = options_.new_client_shots;
  }
  // Two evaluations per round (training clients, then new ones): each its own identity, so a
  // late report of one can never land in the other.
  eval.evaluation_id = 2 * round + (new_clients ? 1 : 0);
  eval.last_round = round == options_.rounds || BudgetExhausted();
  const absl::Time start = options_.env->Now();
  options_.transport->DispatchEval(eval, clients, collector);
  return collector->WaitUntil(start + options_.eval_timeout);
}

bool Coordinator::BudgetExhausted() const {
  return privacy_ != nullptr && !privacy_->NextRoundFitsBudget();
}

std::string Coordinator::BudgetMessage() const {
  return absl::StrCat("the privacy budget allows no round ", completed_rounds_ + 1,
                      ": it would spend epsilon ",
                      absl::SixDigits(privacy_->SpentAfterNextRound().epsilon), " > budget ",
                      privacy_->options().epsilon_budget, " (spent: ",
                      absl::SixDigits(privacy_->Spent().epsilon), " at delta ",
                      privacy_->options().delta, ")");
}

ParameterSet Coordinator::ServerState() const {
  ParameterSet state = optimizer_->State();
  if (privacy_) {
    ParameterSet dp = privacy_->State();
    for (size_t i = 0; i < dp.size(); ++i) {
      NamedTensor& e = dp.entry(i);
      (void)state.Add(std::move(e.name), std::move(e.tensor));  // disjoint prefixes
    }
  }
  return state;
}

void Coordinator::EvaluateInitialModel() {
  RoundRecord record;
  record.round = 0;
  const absl::Time start = options_.env->Now();
  record.eval = Evaluate(0, 0, training_clients(), /*new_clients=*/false);
  if (options_.new_clients > 0) {
    record.new_client_eval =
        Evaluate(0, training_clients(), options_.new_clients, /*new_clients=*/true);
  }
  const absl::Time now = options_.env->Now();
  record.eval_seconds = absl::ToDoubleSeconds(now - start);
  record.round_seconds = record.eval_seconds;
  record.elapsed_seconds = absl::ToDoubleSeconds(now - started_);
  for (RoundObserver* o : options_.observers) o->OnRoundComplete(record);
}

absl::Status Coordinator::RunAll() {
  if (options_.eval_at_start && completed_rounds_ == 0 && !pending_evaluation_ &&
      !(privacy_ && options_.withhold_unprotected)) {
    EvaluateInitialModel();
  }
  while (completed_rounds_ < options_.rounds || pending_evaluation_) {
    if (BudgetExhausted() && !pending_evaluation_) {
      stop_reason_ = absl::StrCat("stopped after round ", completed_rounds_, " of ",
                                  options_.rounds, ": ", BudgetMessage());
      break;
    }
    TAILOR_RETURN_IF_ERROR(RunRound().status());
  }
  options_.transport->Finish();
  return absl::OkStatus();
}

}  // namespace tailor
