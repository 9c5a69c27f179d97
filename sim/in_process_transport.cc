#include "sim/in_process_transport.h"

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/random.h"
#include "privacy/secure_random.h"
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
      if (up.ok() && task.secure_aggregation) {
        absl::Status begun = SimulatedDropout(id, task.round, 0)
                                 ? absl::UnavailableError("simulated dropout before advertising keys")
                                 : BeginSecAgg(task, &*up);
        if (!begun.ok()) up = begun;
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

absl::Status InProcessTransport::BeginSecAgg(const TrainTask& task, UpdateUpload* upload) {
  auto participant = std::make_shared<SecAggParticipant>(upload->client_id);
  // Reproducible secrets from the task seed: a simulation is a model of the protocol, not a
  // deployment (a device keys them from the OS).
  const uint64_t seed = DeriveSeed(task.seed, {static_cast<uint64_t>(upload->client_id),
                                               0x736563616767ULL /*"secagg"*/});
  TAILOR_RETURN_IF_ERROR(participant->Begin(task, SecureRandom::FromSeed(seed, 0), upload));
  absl::MutexLock lock(&participants_mu_);
  participants_[upload->client_id] = std::move(participant);
  return absl::OkStatus();
}

bool InProcessTransport::SimulatedDropout(int64_t client, int64_t round, int boundary) const {
  const InProcessTransportOptions::SecAggDropout& d = options_.secagg_dropout;
  if (auto it = d.at.find({round, client}); it != d.at.end() && it->second == boundary) return true;
  const double p[4] = {d.before_advertise, d.after_advertise, d.after_share, d.after_input};
  if (!(p[boundary] > 0)) return false;
  const uint64_t h = DeriveSeed(d.seed, {static_cast<uint64_t>(client), static_cast<uint64_t>(round),
                                         static_cast<uint64_t>(boundary)});
  return static_cast<double>(h >> 11) * 0x1.0p-53 < p[boundary];
}

void InProcessTransport::DispatchSecAgg(int64_t round,
                                        const std::map<int64_t, std::string>& requests,
                                        std::shared_ptr<SecAggSink> sink) {
  for (const auto& [id, request] : requests) {
    pool_->Schedule([this, round, id = id, request = request, sink](int) {
      std::shared_ptr<SecAggParticipant> participant;
      {
        absl::MutexLock lock(&participants_mu_);
        auto it = participants_.find(id);
        if (it != participants_.end()) participant = it->second;
      }
      if (participant == nullptr) {
        sink->OnSecAggFailure(id, absl::NotFoundError(absl::StrCat(
                                      "client ", id, " has no secure-aggregation state")));
        return;
      }
      // The boundary a client drops at is the request it never answers.
      const int boundary = participant->next_phase();
      // A client that leaves, fails, or has answered the last phase keeps nothing for the round
      // (a masked-input-to-be is 8 bytes per shared value).
      auto forget = [this, id = id, &participant] {
        absl::MutexLock lock(&participants_mu_);
        auto it = participants_.find(id);
        if (it != participants_.end() && it->second == participant) participants_.erase(it);
      };
      if (boundary > 0 && SimulatedDropout(id, round, boundary)) {
        forget();
        sink->OnSecAggFailure(id, absl::UnavailableError("simulated dropout"));
        return;
      }
      absl::StatusOr<std::string> reply = participant->Handle(request);
      if (!reply.ok()) {
        LogFailure("secagg_failed", id, round, reply.status());
        forget();
        sink->OnSecAggFailure(id, reply.status());
        return;
      }
      if (boundary == 3) forget();
      sink->OnSecAggReply(id, *std::move(reply));
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
