#include "server/grpc_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/train_options_proto.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "proto/grpc_status.h"
#include "server/peer_identity.h"
#include "server/service_reactors.h"

namespace tailor {
namespace {

std::function<absl::Time()> ClockOf(const CoordinatorServiceOptions& options) {
  if (options.clock) return options.clock;
  return [] { return absl::Now(); };
}

SessionTableOptions SessionOptionsOf(const CoordinatorServiceOptions& options) {
  SessionTableOptions s;
  s.client_tokens = options.client_tokens;
  s.revoked_clients = options.revoked_clients;
  // A parked poll must never outlive its session.
  s.idle_timeout = std::max(options.session_idle_timeout, 2 * options.long_poll);
  return s;
}

}  // namespace

CoordinatorService::CoordinatorService(CoordinatorServiceOptions options)
    : options_(std::move(options)),
      clock_(ClockOf(options_)),
      log_(options_.log_lines_per_minute, absl::Minutes(1), clock_),
      limiter_(options_.rate_limit_per_second, options_.rate_limit_burst, clock_),
      peers_(options_.failed_joins_per_second, options_.failed_joins_burst,
             options_.max_tracked_peers, clock_),
      sessions_(SessionOptionsOf(options_)) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, token] : options_.client_tokens) clients_[id];
  if (options_.base_model) base_model_ = models_.Pin(options_.base_model);
  if (options_.run_reaper) reaper_ = std::thread([this] { ReaperLoop(); });
}

CoordinatorService::~CoordinatorService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reaper_.joinable()) reaper_.join();
}

absl::StatusOr<int64_t> CoordinatorService::ClientOf(const std::string& session, bool charge) {
  TAILOR_ASSIGN_OR_RETURN(const int64_t client, sessions_.Resolve(session, Now()));
  if (charge && !limiter_.Allow(client)) return RateLimited(client);
  clients_[client].last_seen = Now();
  return client;
}

absl::Status CoordinatorService::RateLimited(int64_t client) {
  ++stats_.rate_limited;
  return absl::ResourceExhaustedError(
      absl::StrCat("client ", client, " exceeds ", options_.rate_limit_per_second,
                   " requests per second (burst ", options_.rate_limit_burst, "); retry later"));
}

void CoordinatorService::Deliver(int64_t client, v1::Task task) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  ClientSlot& slot = it->second;
  if (slot.waiter != nullptr) {
    if (task.kind() == v1::Task::FINISHED) slot.told_finished = true;
    std::exchange(slot.waiter, nullptr)->Answer(task);
    slot.last_seen = Now();  // it was waiting until this moment
    slot.pending.reset();
  } else {
    slot.pending = std::move(task);
  }
}

v1::Task CoordinatorService::NewTask(v1::Task::Kind kind, int64_t round,
                                     std::shared_ptr<const ParameterSet> global_shared) {
  const std::string sha = models_.Publish(std::move(global_shared));
  v1::Task t;
  t.set_kind(kind);
  t.set_round(round);
  t.set_model_sha256(sha);
  t.set_model_bytes(static_cast<int64_t>(models_.Find(sha)->size()));
  return t;
}

void CoordinatorService::DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                                       std::shared_ptr<UpdateSink> sink) {
  absl::MutexLock lock(&mu_);
  train_sink_ = std::move(sink);
  train_round_ = task.round;
  v1::Task t = NewTask(v1::Task::TRAIN, task.round, task.global_shared);
  t.set_seed(task.seed);
  TrainOptionsToProto(task.options, t.mutable_options());
  if (task.secure_aggregation) {
    const SecureAggregationTask& sa = *task.secure_aggregation;
    v1::SecAggParameters* p = t.mutable_secure_aggregation();
    p->set_threshold(sa.threshold);
    p->set_neighbours(sa.neighbours);
    p->set_clip_norm(sa.clip_norm);
    p->set_max_weight(sa.max_weight);
    p->set_dp_grid(sa.dp_grid);
    p->set_dp_effective_clip(sa.dp_effective_clip);
    p->set_dp_noise_sigma_squared(sa.dp_noise_sigma_squared);
    p->set_field_bits(sa.field_bits);
  }
  train_task_ = t;
  for (int64_t id : cohort) {
    auto it = clients_.find(id);
    if (it != clients_.end()) it->second.train = {task.round, task.round, Now()};
    Deliver(id, t);
  }
}

void CoordinatorService::DispatchSecAgg(int64_t round,
                                        const std::map<int64_t, std::string>& requests,
                                        std::shared_ptr<SecAggSink> sink) {
  std::vector<int64_t> strangers;
  {
    absl::MutexLock lock(&mu_);
    secagg_sink_ = sink;
    secagg_round_ = round;
    const int64_t exchange = ++secagg_exchange_;
    for (auto& [id, slot] : clients_) {
      // A request of an earlier exchange not yet picked up is void now.
      if (slot.pending && slot.pending->kind() == v1::Task::SECURE_AGGREGATION) slot.pending.reset();
      slot.secagg.round = 0;
    }
    for (const auto& [id, request] : requests) {
      auto it = clients_.find(id);
      v1::SecAggRequest parsed;
      if (it == clients_.end() || !parsed.ParseFromString(request)) {
        strangers.push_back(id);
        continue;
      }
      // Each request asks for the reply of the same phase (SecAggRequest's oneof is one field
      // ahead of SecAggReply's).
      v1::Task t;
      t.set_kind(v1::Task::SECURE_AGGREGATION);
      t.set_round(round);
      t.set_secagg_request(request);
      it->second.secagg = {round, exchange, Now()};
      it->second.secagg_reply = static_cast<int>(parsed.phase_case()) + 1;
      it->second.secagg_task = t;
      Deliver(id, std::move(t));
    }
  }
  for (int64_t id : strangers) {
    sink->OnSecAggFailure(id, absl::NotFoundError(absl::StrCat(
                                  "client ", id, " is not registered with this coordinator")));
  }
}

bool CoordinatorService::HoldsSecAggRequest(const ClientSlot& slot) const {
  return secagg_sink_ && slot.secagg.round != 0 && slot.secagg.id == secagg_exchange_;
}

void CoordinatorService::SecAggDropout(int64_t client, const absl::Status& why) {
  auto it = clients_.find(client);
  if (it == clients_.end() || !HoldsSecAggRequest(it->second)) return;
  it->second.secagg.round = 0;
  std::shared_ptr<SecAggSink> sink = secagg_sink_;
  log_.Log(LogLevel::kWarn, "secagg_dropout",
           {{"client", ParticipantId(client)},
            {"round", absl::StrCat(secagg_round_)},
            {"msg", std::string(why.message())}});
  mu_.Unlock();  // the sink takes its own lock
  sink->OnSecAggFailure(client, why);
  mu_.Lock();
}

std::optional<v1::Task> CoordinatorService::LostTaskOf(const ClientSlot& slot) const {
  // A daemon polls only when it holds no task: one that polls while the round still waits for
  // it restarted (or dropped the task) and gets the same task, same inputs, again.
  if (train_sink_ && train_sink_->open() && slot.train.round != 0 &&
      slot.train.id == train_round_) {
    return train_task_;
  }
  if (eval_sink_ && eval_sink_->open() && slot.eval.round != 0 && slot.eval.id == eval_id_) {
    return eval_task_;
  }
  // The same request again: a client that still holds its protocol state answers it; one that
  // restarted has none and reports the task failed (a dropout of the exchange), and one that
  // already answered refuses a second request of the phase. None can be made to reveal more.
  if (HoldsSecAggRequest(slot)) return slot.secagg_task;
  return std::nullopt;
}

absl::Status CoordinatorService::CheckConfig(const v1::JoinRequest& request) const {
  if (options_.config_fingerprint.empty() ||
      request.config_fingerprint() == options_.config_fingerprint) {
    return absl::OkStatus();
  }
  std::vector<std::string> differing;
  for (const auto& [part, digest] : options_.config_sections) {
    auto it = request.config_sections().find(part);
    if (it == request.config_sections().end() || it->second != digest) differing.push_back(part);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "client ", request.client_id(), "'s config differs from the coordinator's in ",
      differing.empty() ? "its fingerprint" : absl::StrJoin(differing, ", "),
      "; run every client with the coordinator's config (only --set of client-side settings "
      "may differ)"));
}

void CoordinatorService::DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                                      std::shared_ptr<EvalSink> sink) {
  absl::MutexLock lock(&mu_);
  eval_sink_ = std::move(sink);
  eval_round_ = task.round;
  eval_id_ = task.evaluation_id;
  v1::Task t = NewTask(v1::Task::EVALUATE, task.round, task.global_shared);
  t.set_seed(task.seed);
  t.set_new_client_epochs(task.new_client_epochs);
  for (int n : task.new_client_shots) t.add_new_client_shots(n);
  t.set_evaluation_id(task.evaluation_id);
  t.set_last_round(task.last_round);
  TrainOptionsToProto(task.options, t.mutable_options());
  eval_task_ = t;
  for (int64_t id : clients) {
    auto it = clients_.find(id);
    if (it != clients_.end()) it->second.eval = {task.round, task.evaluation_id, Now()};
    Deliver(id, t);
  }
}

void CoordinatorService::Finish() {
  absl::MutexLock lock(&mu_);
  finished_ = true;
  v1::Task done;
  done.set_kind(v1::Task::FINISHED);
  for (auto& [id, slot] : clients_) Deliver(id, done);
}

void CoordinatorService::SetPrivacy(const v1::PrivacyStatus& privacy) {
  absl::MutexLock lock(&mu_);
  privacy_ = privacy;
}

void CoordinatorService::SetEvaluation(const v1::EvaluationStatus& evaluation) {
  absl::MutexLock lock(&mu_);
  evaluation_ = evaluation;
}

void CoordinatorService::SetProgress(int64_t completed_rounds, int64_t total_rounds) {
  absl::MutexLock lock(&mu_);
  completed_rounds_ = completed_rounds;
  total_rounds_ = total_rounds;
}

grpc::ServerUnaryReactor* CoordinatorService::Join(grpc::CallbackServerContext* context,
                                                   const v1::JoinRequest* request,
                                                   v1::JoinResponse* response) {
  const std::string host = PeerHost(context->peer());
  const int64_t id = request->client_id();
  absl::MutexLock lock(&mu_);
  // A host that keeps failing is refused before anything is checked: guessing is slowed, and
  // the work and log lines a flood costs are bounded. Nothing is kept per claimed id.
  if (!peers_.MayTry(host)) {
    ++stats_.joins_throttled;
    log_.Log(LogLevel::kWarn, "join_throttled", {{"peer", host}});
    return FinishNow(context, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                           absl::StrCat("too many failed joins from ", host,
                                                        "; retry in a few seconds")));
  }
  absl::Status who = sessions_.Authenticate(id, request->token());
  if (who.ok() && options_.require_certificate_identity) {
    who = CheckCertificateNamesClient(context->auth_context().get(), id);
  }
  if (!who.ok()) {
    peers_.Fail(host);
    ++stats_.joins_refused;
    log_.Log(LogLevel::kWarn, "join_refused",
             {{"client", absl::StrCat(id)}, {"peer", host}, {"msg", std::string(who.message())}});
    return FinishNow(context, ToGrpcStatus(who));
  }
  // Only now is the client's own budget charged: without its token no one can spend it.
  if (!limiter_.Allow(id)) return FinishNow(context, ToGrpcStatus(RateLimited(id)));
  if (request->experiment() != options_.experiment) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                           absl::StrCat("this coordinator runs experiment '",
                                                        options_.experiment, "', not '",
                                                        request->experiment(), "'")));
  }
  if (absl::Status config = CheckConfig(*request); !config.ok()) {
    log_.Log(
        LogLevel::kWarn, "join_refused",
        {{"client", absl::StrCat(id)}, {"peer", host}, {"msg", std::string(config.message())}});
    return FinishNow(context, ToGrpcStatus(config));
  }
  const SessionTable::Opened opened = sessions_.Open(id, Now());
  clients_[id].last_seen = Now();
  ++stats_.joins;
  if (opened.replaced) {
    // A rejoin: sampled, so a client (or two daemons sharing an id) joining over and over
    // cannot flood the log. A first join is logged always; there is one per registered client.
    ++stats_.sessions_replaced;
    log_.Log(LogLevel::kWarn, "session_replaced",
             {{"client", absl::StrCat(id)},
              {"peer", host},
              {"msg", "the client joined again; its previous session is closed (two daemons "
                      "with one identity keep replacing each other)"}});
  } else {
    LogEvent(LogLevel::kInfo, "client_joined", {{"client", absl::StrCat(id)}, {"peer", host}});
  }
  response->set_session(opened.session);
  response->set_experiment(options_.experiment);
  if (base_model_) {
    response->set_base_model_sha256(base_model_->content_address());
    response->set_base_model_bytes(static_cast<int64_t>(base_model_->size()));
  }
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::WaitForTask(grpc::CallbackServerContext* context,
                                                          const v1::WaitForTaskRequest* request,
                                                          v1::Task* response) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<int64_t> client = ClientOf(request->session());
  if (!client.ok()) return FinishNow(context, ToGrpcStatus(client.status()));
  if (request->has_failed()) TaskFailed(*client, request->failed());
  ClientSlot& slot = clients_[*client];
  if (slot.pending) {
    *response = *std::exchange(slot.pending, std::nullopt);
    if (response->kind() == v1::Task::FINISHED) slot.told_finished = true;
    return FinishNow(context, grpc::Status::OK);
  }
  if (finished_) {
    response->set_kind(v1::Task::FINISHED);
    slot.told_finished = true;
    return FinishNow(context, grpc::Status::OK);
  }
  if (std::optional<v1::Task> lost = LostTaskOf(slot)) {
    // Sampled: a client that keeps polling while holding its task would otherwise write a
    // line per poll.
    log_.Log(LogLevel::kInfo, "task_resent",
             {{"client", ParticipantId(*client)},
              {"round", absl::StrCat(lost->round())},
              {"kind", v1::Task::Kind_Name(lost->kind())},
              {"msg", "the client polled while holding this task: it lost it"}});
    *response = *std::move(lost);
    return FinishNow(context, grpc::Status::OK);
  }
  if (slot.waiter != nullptr) {
    // A newer poll from the same client replaces the old one.
    v1::Task none;
    none.set_kind(v1::Task::NO_TASK);
    std::exchange(slot.waiter, nullptr)->Answer(none);
  }
  auto* reactor = new WaitReactor(this, response);
  slot.waiter = reactor;
  slot.waiter_deadline = Now() + options_.long_poll;
  return reactor;
}

grpc::ServerWriteReactor<v1::ModelChunk>* CoordinatorService::FetchModel(
    grpc::CallbackServerContext* context, const v1::FetchModelRequest* request) {
  std::shared_ptr<const SerializedParameterSet> model;
  grpc::Status error;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<int64_t> client = ClientOf(request->session());
    std::shared_ptr<const SerializedParameterSet> found = models_.Find(request->model_sha256());
    if (!client.ok()) {
      error = ToGrpcStatus(client.status());
    } else if (!found) {
      error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                           absl::StrCat("unknown model version ", request->model_sha256()));
    } else if (request->offset() < 0 || static_cast<uint64_t>(request->offset()) > found->size()) {
      error = grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                           absl::StrCat("offset ", request->offset(), " outside the model's ",
                                        found->size(), " bytes"));
    } else {
      model = std::move(found);
    }
  }
  if (!model) return RefusedModelStream(std::move(error));
  return NewModelStream(this, std::move(model), request->offset(), options_.chunk_bytes);
}

grpc::ServerReadReactor<v1::UpdateChunk>* CoordinatorService::UploadUpdate(
    grpc::CallbackServerContext* context, v1::UploadResponse* response) {
  return NewUploadReader(this, response);
}

grpc::Status CoordinatorService::AdmitUpload(const std::string& session, int64_t round) {
  absl::MutexLock lock(&mu_);
  return ToGrpcStatus(OpenTrainSinkFor(session, round).status());
}

absl::StatusOr<std::pair<int64_t, std::shared_ptr<UpdateSink>>>
CoordinatorService::OpenTrainSinkFor(const std::string& session, int64_t round, bool charge) {
  TAILOR_ASSIGN_OR_RETURN(int64_t client, ClientOf(session, charge));
  if (!train_sink_ || round != train_round_) {
    // ABORTED: the round moved on; drop the update and poll for the next task.
    return absl::AbortedError(
        absl::StrCat("round ", round, " is not open (the open round is ", train_round_, ")"));
  }
  return std::make_pair(client, train_sink_);
}

grpc::Status CoordinatorService::AcceptUpload(const std::string& session, UpdateUpload upload) {
  std::shared_ptr<UpdateSink> sink;
  const int64_t round = upload.round;
  const uint64_t bytes = static_cast<uint64_t>(upload.wire_bytes);
  {
    absl::MutexLock lock(&mu_);
    // Not charged again: the upload was charged when it was admitted.
    auto open = OpenTrainSinkFor(session, round, /*charge=*/false);
    if (!open.ok()) {
      CountRejectedUploadLocked(ToGrpcStatus(open.status()).error_code());
      return ToGrpcStatus(open.status());
    }
    upload.client_id = open->first;
    sink = std::move(open->second);
  }
  // Schema checks and aggregation happen in the Round, outside the service lock.
  grpc::Status status = ToGrpcStatus(sink->OnUpdate(upload));
  log_.Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarn,
           status.ok() ? "upload_accepted" : "upload_rejected",
           {{"client", ParticipantId(upload.client_id)},
            {"round", absl::StrCat(round)},
            {"bytes", absl::StrCat(bytes)},
            {"code", GrpcCodeName(status.error_code())},
            {"msg", status.error_message()}});
  absl::MutexLock lock(&mu_);
  auto slot = clients_.find(upload.client_id);
  if (slot != clients_.end() && slot->second.train.round == round) {
    slot->second.train.round = 0;  // answered (accepted or refused by the round)
  }
  if (status.ok()) {
    stats_.upload_bytes_accepted += bytes;
    ++stats_.uploads_accepted;
  } else {
    CountRejectedUploadLocked(status.error_code());
  }
  return status;
}

grpc::Status CoordinatorService::AdmitSecAggReply(const std::string& session, int64_t round) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<int64_t> client = ClientOf(session);
  if (!client.ok()) return ToGrpcStatus(client.status());
  if (!HoldsSecAggRequest(clients_[*client]) || round != secagg_round_) {
    // ABORTED: the exchange moved on (a late answer); the client polls for its next task.
    return grpc::Status(grpc::StatusCode::ABORTED,
                        absl::StrCat("client ", *client,
                                     " holds no open secure-aggregation request of round ", round));
  }
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::AcceptSecAggReply(const std::string& session, int64_t round,
                                                   std::string reply) {
  std::shared_ptr<SecAggSink> sink;
  int64_t client = 0;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<int64_t> resolved = ClientOf(session, /*charge=*/false);
    if (!resolved.ok()) return ToGrpcStatus(resolved.status());
    client = *resolved;
    ClientSlot& slot = clients_[client];
    if (!HoldsSecAggRequest(slot) || round != secagg_round_) {
      return grpc::Status(grpc::StatusCode::ABORTED,
                          absl::StrCat("client ", client,
                                       " holds no open secure-aggregation request of round ",
                                       round));
    }
    // The routing facts the service can check; the protocol checks the contents.
    v1::SecAggReply header;
    if (!header.ParseFromString(reply) || header.round() != round ||
        header.client_id() != client ||
        static_cast<int>(header.phase_case()) != slot.secagg_reply) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("client ", client, "'s secure-aggregation reply does not ",
                                       "answer its request (round ", round, ", phase ",
                                       slot.secagg_reply, ")"));
    }
    slot.secagg.round = 0;
    sink = secagg_sink_;
  }
  sink->OnSecAggReply(client, std::move(reply));
  return grpc::Status::OK;
}

std::string CoordinatorService::ParticipantId(int64_t client) const {
  return options_.withhold_participation ? "withheld" : absl::StrCat(client);
}

void CoordinatorService::CountModelBytesSent(uint64_t bytes) {
  // Per chunk of every stream: an atomic, not the service lock.
  model_bytes_sent_.fetch_add(bytes, std::memory_order_relaxed);
}

void CoordinatorService::RecordRoundSeconds(double seconds) {
  absl::MutexLock lock(&mu_);
  ++stats_.rounds_timed;
  stats_.round_seconds_sum += seconds;
  stats_.last_round_seconds = seconds;
}

CoordinatorService::Stats CoordinatorService::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.model_bytes_sent = model_bytes_sent_.load();
  s.live_sessions = sessions_.live_sessions();
  s.client_slots = static_cast<int64_t>(clients_.size());
  s.tracked_peers = static_cast<int64_t>(peers_.tracked());
  for (const auto& [id, slot] : clients_) s.parked_polls += slot.waiter != nullptr;
  return s;
}

void CoordinatorService::CountRejectedUpload(grpc::StatusCode code) {
  absl::MutexLock lock(&mu_);
  CountRejectedUploadLocked(code);
}

void CoordinatorService::CountRejectedUploadLocked(grpc::StatusCode code) {
  ++stats_.uploads_rejected[code];
}

grpc::ServerUnaryReactor* CoordinatorService::ReportEvaluation(grpc::CallbackServerContext* context,
                                                               const v1::EvaluationReport* request,
                                                               v1::ReportResponse* response) {
  std::shared_ptr<EvalSink> sink;
  EvalReport report;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<int64_t> client = ClientOf(request->session());
    if (!client.ok()) return FinishNow(context, ToGrpcStatus(client.status()));
    if (!eval_sink_ || request->round() != eval_round_ || request->evaluation_id() != eval_id_) {
      return FinishNow(
          context, grpc::Status(grpc::StatusCode::ABORTED,
                                absl::StrCat("evaluation ", request->evaluation_id(), " of round ",
                                             request->round(), " is not open")));
    }
    sink = eval_sink_;
    report.client_id = *client;
  }
  report.personalized.correct = request->correct();
  report.personalized.count = request->count();
  report.personalized.loss_sum = request->loss_sum();
  if (request->has_global()) {
    report.global = EvalStats{request->global().correct(), request->global().count(),
                              request->global().loss_sum()};
  }
  for (const auto& [name, c] : request->views()) {
    report.personalized_views[name] = EvalStats{c.correct(), c.count(), c.loss_sum()};
  }
  for (const auto& [name, c] : request->global_views()) {
    report.global_views[name] = EvalStats{c.correct(), c.count(), c.loss_sum()};
  }
  // The numbers, the asked set and duplicates are the collector's to check, as in simulation.
  const absl::Status accepted = sink->OnEvalReport(report);
  if (!accepted.ok()) {
    log_.Log(LogLevel::kWarn, "evaluation_refused",
             {{"client", ParticipantId(report.client_id)},
              {"round", absl::StrCat(request->round())},
              {"code", absl::StatusCodeToString(accepted.code())},
              {"msg", std::string(accepted.message())}});
  }
  {
    absl::MutexLock lock(&mu_);
    auto slot = clients_.find(report.client_id);
    if (slot != clients_.end() && slot->second.eval.id == request->evaluation_id()) {
      slot->second.eval.round = 0;  // answered
    }
  }
  return FinishNow(context, ToGrpcStatus(accepted));
}

grpc::ServerUnaryReactor* CoordinatorService::Heartbeat(grpc::CallbackServerContext* context,
                                                        const v1::HeartbeatRequest* request,
                                                        v1::HeartbeatResponse* response) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<int64_t> client = ClientOf(request->session());  // records it as seen
  if (!client.ok()) return FinishNow(context, ToGrpcStatus(client.status()));
  const ClientSlot& slot = clients_[*client];
  response->set_round_open((train_sink_ != nullptr && request->round() == train_round_ &&
                            slot.train.round == request->round()) ||
                           (eval_sink_ != nullptr && request->round() == eval_round_ &&
                            slot.eval.round == request->round()));
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::GetStatus(grpc::CallbackServerContext* context,
                                                        const v1::StatusRequest* request,
                                                        v1::StatusResponse* response) {
  const std::string host = PeerHost(context->peer());
  absl::MutexLock lock(&mu_);
  if (options_.operator_token.empty()) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                           "this coordinator has no operator token: status is "
                                           "off (start it with --operator_token_file)"));
  }
  if (!peers_.MayTry(host)) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                           absl::StrCat("too many failed calls from ", host,
                                                        "; retry in a few seconds")));
  }
  if (!SameSecret(options_.operator_token, request->operator_token())) {
    peers_.Fail(host);
    log_.Log(LogLevel::kWarn, "status_refused", {{"peer", host}});
    return FinishNow(context, grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                           "status needs the operator token"));
  }
  response->set_experiment(options_.experiment);
  response->set_completed_rounds(completed_rounds_);
  response->set_total_rounds(total_rounds_);
  response->set_current_round(train_round_);
  response->set_clients_joined(sessions_.live_sessions());
  response->set_model_sha256(models_.current());
  if (privacy_) *response->mutable_privacy() = *privacy_;
  if (evaluation_) *response->mutable_evaluation() = *evaluation_;
  return FinishNow(context, grpc::Status::OK);
}

}  // namespace tailor
