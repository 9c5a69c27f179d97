#include "sim/simulation.h"

#include <unistd.h>

#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/personal_store.h"
#include "core/config_loader.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "sim/pretrain.h"
#include "google/protobuf/text_format.h"
#include "core/random.h"
#include "privacy/pld_accountant.h"
#include "server/metrics_jsonl.h"
#include "sim/experiment.h"
#include "sim/in_process_transport.h"
#include "sim/progress_printer.h"
#include "sim/html_report.h"
#include "sim/svg_plot.h"

namespace tailor {
namespace {

// Keeps every round's record for the result (the initial model's evaluation, round 0, is in
// metrics.jsonl and the progress line; the summary and plots count rounds).
class RecordCollector : public RoundObserver {
 public:
  void OnRoundComplete(const RoundRecord& record) override {
    if (record.round > 0) records.push_back(record);
  }
  std::vector<RoundRecord> records;
};

}  // namespace

absl::StatusOr<SimulationResult> RunSimulation(const config::ExperimentConfig& c,
                                               const SimulationOptions& options) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  const absl::Time start = env->Now();

  // A language-model experiment that starts from a pretrained base it does not have yet:
  // pretrain it first (the config's pretrain section, written where model.initial_model says).
  const std::string& base = c.model().initial_model();
  const absl::StatusOr<int64_t> pretrained = PretrainedSteps(base, env);
  if (!base.empty() && c.has_pretrain() &&
      (!env->FileExists(base) || (pretrained.ok() && *pretrained < c.pretrain().steps()))) {
    config::ExperimentConfig pretrain = c;
    pretrain.mutable_pretrain()->set_output(c.model().initial_model());
    pretrain.mutable_model()->clear_initial_model();
    if (options.progress != nullptr) {
      absl::FPrintF(options.progress, "[%s] %s is not pretrained yet: pretraining it (%d steps)\n",
                    c.name(), base, c.pretrain().steps());
    }
    TAILOR_RETURN_IF_ERROR(
        Annotate(RunPretraining(pretrain, env, options.progress).status(), "pretraining"));
  }
  TAILOR_ASSIGN_OR_RETURN(Experiment experiment, BuildExperiment(c, env, /*load_data=*/true));
  const ClientAlgorithm* algorithm = experiment.algorithm.get();
  const FederatedDataset& data = *experiment.data;
  if (options.progress != nullptr && !data.client_names.empty()) {
    // Text clients are people (or files): say who, and what the loader left out.
    const int64_t unseen = c.eval().new_clients();
    const size_t seen = data.client_names.size() - static_cast<size_t>(unseen);
    absl::FPrintF(options.progress, "[%s] %s: %d clients (%d held out: %s); %d notes%s\n",
                  c.name(), c.data().dataset(), data.client_names.size(), unseen,
                  unseen > 0 ? absl::StrJoin(data.client_names.begin() + seen,
                                             data.client_names.end(), ", ")
                             : "none",
                  data.notes.size(),
                  options.write_outputs ? absl::StrCat(" in ", c.output_dir(), "/data.txt") : "");
  }

  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int workers = c.simulation().workers() > 0 ? c.simulation().workers() : cores;
  const int intra_op =
      c.simulation().intra_op_threads() > 0 ? c.simulation().intra_op_threads() : 1;

  std::optional<ByzantineClients> byzantine;
  if (c.simulation().attack().byzantine_fraction() > 0) {
    AttackOptions attack;
    attack.byzantine_fraction = c.simulation().attack().byzantine_fraction();
    attack.kind = c.simulation().attack().kind();
    attack.scale = c.simulation().attack().scale();
    attack.seed = c.seed();
    TAILOR_ASSIGN_OR_RETURN(byzantine, ByzantineClients::Create(c.data().num_clients(), attack));
    if (options.progress != nullptr) {
      absl::FPrintF(options.progress, "[%s] attack: %d of %d clients upload %s x%g updates\n",
                    c.name(), byzantine->count(), c.data().num_clients(), attack.kind,
                    attack.scale);
    }
  }

  std::unique_ptr<PersonalStore> store;
  if (c.simulation().personal_state_dir().empty()) {
    const uint64_t memory = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                            static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
    TAILOR_RETURN_IF_ERROR(CheckInMemoryDeviceState(c.data().num_clients(), *algorithm,
                                                    *experiment.initial_model, memory));
    store = std::make_unique<InMemoryPersonalStore>();
  } else {
    auto on_disk =
        std::make_unique<DirectoryPersonalStore>(c.simulation().personal_state_dir(), env);
    for (int64_t id = 0; id < c.data().num_clients(); ++id) {
      if (on_disk->Contains(id)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "simulation.personal_state_dir ", c.simulation().personal_state_dir(),
            " already holds client ", id,
            "'s state from an earlier run; remove it or choose an empty directory"));
      }
    }
    store = std::move(on_disk);
  }
  InProcessTransportOptions to;
  if (byzantine) to.byzantine = &*byzantine;
  to.workers = workers;
  to.intra_op_threads = intra_op;
  to.experiment = &experiment;
  to.store = store.get();
  if (const auto& d = c.secure_aggregation().simulated_dropout(); !c.secure_aggregation().mode().empty()) {
    to.secagg_dropout = {d.before_advertise(), d.after_advertise(), d.after_share(),
                         d.after_input(), DeriveSeed(c.seed(), {0x64726f70ULL /*"drop"*/}), {}};
    for (const auto& at : d.at()) {
      to.secagg_dropout.at[{at.round(), at.client()}] = SecAggBoundaryIndex(at.boundary());
    }
  }
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<InProcessTransport> transport,
                          InProcessTransport::Create(std::move(to)));

  CoordinatorOptions co = CoordinatorOptionsFrom(c, experiment);
  co.transport = transport.get();
  co.env = env;

  RecordCollector records;
  co.observers.push_back(&records);
  std::unique_ptr<ProgressPrinter> printer;
  if (options.progress != nullptr) {
    if (const std::string cost = UnprotectedMetricsNotice(c); !cost.empty()) {
      absl::FPrintF(options.progress, "[%s] %s\n", c.name(), cost);
    }
    printer = std::make_unique<ProgressPrinter>(options.progress, c.name(), c.rounds(),
                                                algorithm->has_global_model());
    co.observers.push_back(printer.get());
  }
  std::unique_ptr<MetricsJsonlWriter> metrics;
  if (options.write_outputs) {
    TAILOR_RETURN_IF_ERROR(env->CreateDirs(c.output_dir()));
    std::string resolved;
    google::protobuf::TextFormat::PrintToString(c, &resolved);
    TAILOR_RETURN_IF_ERROR(
        env->WriteFileAtomically(c.output_dir() + "/config.resolved.textproto", resolved));
    if (!data.client_names.empty()) {
      std::string listing = "# client id, user (text datasets), then what the loader left out\n";
      for (size_t i = 0; i < data.client_names.size(); ++i) {
        absl::StrAppend(&listing, i, "\t", data.client_names[i], "\ttrain ",
                        data.clients[i].train.size(), " val ", data.clients[i].val.size(),
                        " test ", data.clients[i].test.size(), "\n");
      }
      for (const std::string& note : data.notes) absl::StrAppend(&listing, "# ", note, "\n");
      TAILOR_RETURN_IF_ERROR(env->WriteFileAtomically(c.output_dir() + "/data.txt", listing));
    }
    metrics =
        std::make_unique<MetricsJsonlWriter>(c.output_dir() + "/metrics.jsonl", c.name(), env);
    TAILOR_RETURN_IF_ERROR(metrics->status());
    co.observers.push_back(metrics.get());
  }

  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<Coordinator> coordinator,
                          Coordinator::Create(std::move(co)));
  TAILOR_RETURN_IF_ERROR(coordinator->RunAll());
  if (metrics) TAILOR_RETURN_IF_ERROR(metrics->status());
  if (options.write_outputs) {
    TAILOR_RETURN_IF_ERROR(
        env->WriteFileAtomically(c.output_dir() + "/final_shared.tlps",
                                 SerializeParameterSet(*coordinator->global_shared())));
  }

  SimulationResult result;
  result.name = c.name();
  result.algorithm = algorithm->name();
  result.num_clients = c.data().num_clients();
  result.has_global_model = algorithm->has_global_model();
  result.rounds = std::move(records.records);
  result.final_shared = coordinator->global_shared();
  result.output_dir = options.write_outputs ? c.output_dir() : "";
  result.stop_reason = coordinator->stop_reason();
  if (const DpFedAvg* dp = coordinator->privacy(); dp != nullptr) {
    // A report, not a budget: the tighter ε of the same (q, z, rounds, δ).
    auto pld = PldEpsilon(dp->sampling_rate(), dp->noise_multiplier(),
                          coordinator->completed_rounds(), dp->options().delta);
    if (pld.ok()) {
      result.pld_epsilon = *pld;
    } else {
      result.pld_note = std::string(pld.status().message());
    }
  }
  if (!result.stop_reason.empty() && options.progress != nullptr) {
    absl::FPrintF(options.progress, "[%s] %s\n", c.name(), result.stop_reason);
  }
  if (options.keep_personal_states) {
    for (int64_t id = 0; id < result.num_clients; ++id) {
      TAILOR_ASSIGN_OR_RETURN(std::optional<ParameterSet> p, store->Load(id, PersonalStore::kNewest));
      if (p) result.personal_states.emplace(id, *std::move(p));
    }
  }
  if (c.eval().cross_evaluation()) {
    const int64_t training_clients = result.num_clients - c.eval().new_clients();
    if (options.progress != nullptr) {
      absl::FPrintF(options.progress, "[%s] cross-evaluation: %d models on %d test sets\n",
                    c.name(), training_clients, training_clients);
    }
    TAILOR_ASSIGN_OR_RETURN(
        result.cross_evaluation,
        CrossEvaluate(experiment, *result.final_shared, store.get(), TrainOptionsFrom(c),
                      c.seed(), training_clients));
    if (options.write_outputs) {
      TAILOR_RETURN_IF_ERROR(env->WriteFileAtomically(
          c.output_dir() + "/cross_eval.json", CrossEvaluationToJson(*result.cross_evaluation)));
    }
  }
  result.seconds = absl::ToDoubleSeconds(env->Now() - start);
  if (options.write_outputs) {
    TAILOR_RETURN_IF_ERROR(env->WriteFileAtomically(c.output_dir() + "/accuracy.svg",
                                                    AccuracyPlotSvg({result}, c.name())));
    TAILOR_RETURN_IF_ERROR(env->WriteFileAtomically(c.output_dir() + "/report.html",
                                                    RenderHtmlReport({result}, c.name())));
  }
  return result;
}

}  // namespace tailor
