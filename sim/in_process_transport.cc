#include "sim/in_process_transport.h"

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

// A virtual client's failure, with its reason (a network client's is logged by the service).
void LogFailure(absl::string_view event, int64_t client, int64_t round,
                const absl::Status& why) {
  LogEvent(LogLevel::kWarn, event,
           {{"client", absl::StrCat(client)},
            {"round", absl::StrCat(round)},
            {"code", absl::StatusCodeToString(why.code())},
            {"msg", std::string(why.message())}});
}

}  // namespace

absl::StatusOr<std::unique_ptr<InProcessTransport>> InProcessTransport::Create(
    InProcessTransportOptions options) {
  if (options.workers < 1) options.workers = 1;
  if (!options.experiment || !options.experiment->data || !options.store) {
    return absl::InvalidArgumentError(
        "in-process transport needs an experiment with data and a store");
  }
  std::vector<std::unique_ptr<LocalTrainer>> trainers;
  for (int i = 0; i < options.workers; ++i) {
    TAILOR_ASSIGN_OR_RETURN(auto trainer,
                            LocalTrainer::Create(options.experiment->spec));
    trainers.push_back(std::move(trainer));
  }
  return std::unique_ptr<InProcessTransport>(
      new InProcessTransport(std::move(options), std::move(trainers)));
}

InProcessTransport::InProcessTransport(InProcessTransportOptions options,
                                       std::vector<std::unique_ptr<LocalTrainer>> trainers)
    : options_(std::move(options)),
      trainers_(std::move(trainers)),
      pool_(std::make_unique<ThreadPool>(
          options_.workers,
          [threads = options_.intra_op_threads](int) { SetTorchThreads(threads); })) {}

InProcessTransport::~InProcessTransport() { pool_.reset(); }

ClientRuntime InProcessTransport::RuntimeFor(int64_t client_id) const {
  return ClientRuntime(ClientContextFor(*options_.experiment, client_id, options_.store));
}

void InProcessTransport::DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                                       std::shared_ptr<UpdateSink> sink) {
  for (int64_t id : cohort) {
    pool_->Schedule([this, task, id, sink](int worker) {
      if (id < 0 || id >= static_cast<int64_t>(options_.experiment->data->clients.size())) {
        sink->OnTrainFailure(id, task.round, absl::NotFoundError(absl::StrCat("no client ", id)));
        return;
      }
      absl::StatusOr<UpdateUpload> up = RuntimeFor(id).Train(task, *trainers_[worker]);
      if (up.ok() && options_.byzantine != nullptr && options_.byzantine->IsByzantine(id)) {
        absl::Status corrupted = options_.byzantine->Corrupt(&*up);
        if (!corrupted.ok()) up = corrupted;
      }
      if (!up.ok()) {
        LogFailure("train_failed", id, task.round, up.status());
        sink->OnTrainFailure(id, task.round, up.status());
        return;
      }
      // The decision is the round's; a virtual client has nobody to relay a rejection to.
      (void)sink->OnUpdate(*up);
    });
  }
}

void InProcessTransport::DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                                      std::shared_ptr<EvalSink> sink) {
  for (int64_t id : clients) {
    pool_->Schedule([this, task, id, sink](int worker) {
      if (id < 0 || id >= static_cast<int64_t>(options_.experiment->data->clients.size())) {
        sink->OnEvalFailure(id, absl::NotFoundError(absl::StrCat("no client ", id)));
        return;
      }
      absl::StatusOr<EvalReport> report = RuntimeFor(id).Evaluate(task, *trainers_[worker]);
      if (!report.ok()) {
        LogFailure("evaluation_failed", id, task.round, report.status());
        sink->OnEvalFailure(id, report.status());
        return;
      }
      // A report the collector refuses counts as the client's failure, as over the network.
      if (absl::Status accepted = sink->OnEvalReport(*report); !accepted.ok()) {
        LogFailure("evaluation_refused", id, task.round, accepted);
        sink->OnEvalFailure(id, accepted);
      }
    });
  }
}

}  // namespace tailor
