#include "server/coordinator.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "server/cohort_selector.h"
#include "server/metrics_jsonl.h"

namespace tailor {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(CoordinatorOptions options) {
  if (options.num_clients < 1) return absl::InvalidArgumentError("num_clients must be >= 1");
  if (options.rounds < 1) return absl::InvalidArgumentError("rounds must be >= 1");
  if (options.transport == nullptr) return absl::InvalidArgumentError("no transport");
  if (options.env == nullptr) options.env = Env::Default();
  if (options.eval_every < 1) options.eval_every = 1;
  TAILOR_RETURN_IF_ERROR(CreateAggregator(options.aggregator).status());
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<ServerOptimizer> optimizer,
                          CreateServerOptimizer(options.server_optimizer));
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
    TAILOR_RETURN_IF_ERROR(Annotate(
        optimizer->Restore(checkpoint->server_state, options.initial_shared),
        absl::StrCat("resuming after round ", checkpoint->round,
                     " (was the server optimizer changed mid-run?)")));
  }
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(options)));
  c->optimizer_ = std::move(optimizer);
  if (checkpoint) {
    c->completed_rounds_ = checkpoint->round;
    c->global_ = std::make_shared<const ParameterSet>(std::move(checkpoint->global_shared));
    c->resumed_ = true;
  }
  return c;
}

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)),
      global_(std::make_shared<const ParameterSet>(options_.initial_shared)),
      started_(options_.env->Now()) {}

absl::StatusOr<RoundRecord> Coordinator::RunRound() {
  const int64_t round = completed_rounds_ + 1;
  const absl::Time round_start = options_.env->Now();

  RoundOptions ro;
  ro.round = round;
  ro.cohort = SelectFixedCohort(options_.num_clients, options_.clients_per_round, options_.seed,
                                round);
  ro.shared_schema = global_;
  TAILOR_ASSIGN_OR_RETURN(ro.aggregator, CreateAggregator(options_.aggregator));
  ro.min_updates = options_.min_updates > 0 ? options_.min_updates
                                            : static_cast<int64_t>(ro.cohort.size());
  ro.min_updates = std::min<int64_t>(ro.min_updates, static_cast<int64_t>(ro.cohort.size()));
  ro.on_progress = [this, round](int64_t done, int64_t total) {
    for (RoundObserver* o : options_.observers) o->OnClientProgress(round, done, total);
  };
  const std::vector<int64_t> cohort = ro.cohort;
  TAILOR_ASSIGN_OR_RETURN(std::shared_ptr<Round> state, Round::Create(std::move(ro)));

  TrainTask task;
  task.round = round;
  task.global_shared = global_;
  task.options = options_.train;
  task.seed = DeriveSeed(options_.seed, {0x747261696eULL /*"train"*/, static_cast<uint64_t>(round)});
  options_.transport->DispatchTrain(task, cohort, state);
  state->AwaitAllReportedUntil(round_start + options_.round_timeout);
  TAILOR_ASSIGN_OR_RETURN(RoundResult result, state->Close());
  const absl::Time trained = options_.env->Now();

  RoundRecord record;
  static_cast<RoundStats&>(record) = result;
  if (!global_->empty()) {
    auto next = std::make_shared<ParameterSet>(*global_);
    TAILOR_ASSIGN_OR_RETURN(record.update_norm, optimizer_->Step(next.get(), result.mean_delta));
    global_ = std::move(next);
  }
  completed_rounds_ = round;

  if (round % options_.eval_every == 0 || round == options_.rounds) {
    std::vector<int64_t> everyone(static_cast<size_t>(options_.num_clients));
    std::iota(everyone.begin(), everyone.end(), int64_t{0});
    auto collector = std::make_shared<EvalCollector>(options_.num_clients);
    EvalTask eval;
    eval.round = round;
    eval.global_shared = global_;
    const absl::Time eval_start = options_.env->Now();
    options_.transport->DispatchEval(eval, everyone, collector);
    record.eval = collector->WaitUntil(eval_start + options_.eval_timeout);
    record.eval_seconds = absl::ToDoubleSeconds(options_.env->Now() - eval_start);
  }
  const absl::Time now = options_.env->Now();
  record.train_seconds = absl::ToDoubleSeconds(trained - round_start);
  record.round_seconds = absl::ToDoubleSeconds(now - round_start);
  record.elapsed_seconds = absl::ToDoubleSeconds(now - started_);
  if (options_.checkpoints != nullptr) {
    // Committed before anyone is told: a round reported is a round that survives a crash.
    TAILOR_RETURN_IF_ERROR(options_.checkpoints->SaveRound(
        round, *global_, optimizer_->State(), RoundRecordToJson(record, options_.run_name)));
  }
  for (RoundObserver* o : options_.observers) o->OnRoundComplete(record);
  return record;
}

absl::Status Coordinator::RunAll() {
  while (completed_rounds_ < options_.rounds) {
    TAILOR_RETURN_IF_ERROR(RunRound().status());
  }
  options_.transport->Finish();
  return absl::OkStatus();
}

}  // namespace tailor
