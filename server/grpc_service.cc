#include "server/grpc_service.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/train_options_proto.h"
#include "core/log.h"
#include "core/serialization.h"
#include "core/sha256.h"
#include "core/status_macros.h"
#include "proto/grpc_status.h"

namespace tailor {
namespace {

std::string NewSessionId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

bool TokenMatches(const std::string& want, const std::string& got) {
  return want.size() == got.size() && CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

// Streams a published model from an offset in bounded chunks.
class FetchReactor : public grpc::ServerWriteReactor<v1::ModelChunk> {
 public:
  FetchReactor(CoordinatorService* service, std::shared_ptr<const SerializedParameterSet> model,
               int64_t offset, size_t chunk)
      : service_(service),
        model_(std::move(model)),
        offset_(static_cast<uint64_t>(offset)),
        chunk_(chunk) {
    NextWrite();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "model stream broken"));
      return;
    }
    NextWrite();
  }
  void OnDone() override { delete this; }

 private:
  void NextWrite() {
    if (offset_ >= model_->size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t n = std::min<uint64_t>(chunk_, model_->size() - offset_);
    message_.set_offset(static_cast<int64_t>(offset_));
    // Copied from the tensors themselves: the service holds no serialized copy of the model.
    std::string* data = message_.mutable_data();
    data->clear();
    model_->AppendRange(offset_, n, data);
    offset_ += n;
    service_->CountModelBytesSent(n);
    StartWrite(&message_);
  }
  CoordinatorService* service_;
  std::shared_ptr<const SerializedParameterSet> model_;
  uint64_t offset_;
  size_t chunk_;
  v1::ModelChunk message_;
};

// Decodes an update as its chunks arrive (straight into tensors: no reassembly buffer),
// enforcing the declared and the configured size. The sender is authenticated and the round
// checked on the first chunk, before any data is taken.
class UploadReactor : public grpc::ServerReadReactor<v1::UpdateChunk> {
 public:
  UploadReactor(CoordinatorService* service, v1::UploadResponse* response)
      : service_(service), response_(response) {
    StartRead(&chunk_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Complete();
      return;
    }
    if (!decoder_) {
      session_ = chunk_.session();
      round_ = chunk_.round();
      weight_ = chunk_.weight();
      loss_ = chunk_.train_loss();
      within_clip_norm_ = chunk_.within_clip_norm();
      record_epsilon_ = chunk_.has_record_epsilon() ? chunk_.record_epsilon() : -1;
      total_ = chunk_.total_bytes();
      if (total_ < 0 || total_ > service_->max_upload_bytes()) {
        Refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("upload declares ", total_, " bytes; the limit is ",
                                         service_->max_upload_bytes())));
        return;
      }
      grpc::Status admitted = service_->AdmitUpload(session_, round_);
      if (!admitted.ok()) {
        Refuse(admitted);
        return;
      }
      decoder_ = std::make_unique<ParameterSetDecoder>(static_cast<uint64_t>(total_));
    }
    if (static_cast<int64_t>(received_ + chunk_.data().size()) > total_) {
      Refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("upload exceeds its declared ", total_, " bytes")));
      return;
    }
    received_ += chunk_.data().size();
    absl::Status decoded = decoder_->Append(chunk_.data());
    if (!decoded.ok()) {
      // Bad content (not framing): the round records the rejection like any other.
      Deliver(std::make_shared<absl::StatusOr<ParameterSet>>(decoded));
      return;
    }
    StartRead(&chunk_);
  }
  void OnDone() override { delete this; }

 private:
  void Refuse(grpc::Status status) {
    service_->CountRejectedUpload(status.error_code());
    LogEvent(LogLevel::kWarn, "upload_refused",
             {{"session", session_.substr(0, 8)},
              {"round", absl::StrCat(round_)},
              {"code", GrpcCodeName(status.error_code())},
              {"msg", status.error_message()}});
    Finish(std::move(status));
  }
  void Deliver(std::shared_ptr<absl::StatusOr<ParameterSet>> decoded) {
    grpc::Status status =
        service_->AcceptUpload(session_, round_, weight_, loss_,
                                 {within_clip_norm_, record_epsilon_}, std::move(decoded),
                                 received_);
    response_->set_accepted(status.ok());
    Finish(status);
  }
  void Complete() {
    if (!decoder_) {
      Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty upload stream"));
      return;
    }
    if (static_cast<int64_t>(received_) != total_) {
      Refuse(grpc::Status(
          grpc::StatusCode::DATA_LOSS,
          absl::StrCat("upload truncated: got ", received_, " of ", total_, " bytes")));
      return;
    }
    Deliver(std::make_shared<absl::StatusOr<ParameterSet>>(decoder_->Finish()));
  }

  CoordinatorService* service_;
  v1::UploadResponse* response_;
  v1::UpdateChunk chunk_;
  std::unique_ptr<ParameterSetDecoder> decoder_;
  std::string session_;
  int64_t round_ = 0;
  double weight_ = 0;
  double loss_ = 0;
  bool within_clip_norm_ = false;
  double record_epsilon_ = -1;
  int64_t total_ = 0;
  uint64_t received_ = 0;
};

}  // namespace

// A parked long poll. Whoever removes it from its client slot (under the service lock) owns
// the right to Finish it, so it is finished exactly once.
class CoordinatorService::WaitReactor : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(CoordinatorService* service, v1::Task* response)
      : service_(service), response_(response) {}
  void Answer(const v1::Task& task) {
    *response_ = task;
    Finish(grpc::Status::OK);
  }
  void OnCancel() override { service_->RemoveWaiter(this); }
  void OnDone() override { delete this; }

 private:
  CoordinatorService* service_;
  v1::Task* response_;
};

CoordinatorService::CoordinatorService(CoordinatorServiceOptions options)
    : options_(std::move(options)),
      limiter_(
          options_.rate_limit_per_second, options_.rate_limit_burst,
          options_.clock ? options_.clock : [] { return absl::Now(); }) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, token] : options_.client_tokens) clients_[id];
  reaper_ = std::thread([this] { ExpireWaiters(); });
}

CoordinatorService::~CoordinatorService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  reaper_.join();
}

void CoordinatorService::ExpireWaiters() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(50));
    const absl::Time now = absl::Now();
    ReportLostClients(now);
    for (auto& [id, slot] : clients_) {
      if (slot.waiter != nullptr && (stopping_ || now >= slot.waiter_deadline)) {
        WaitReactor* w = std::exchange(slot.waiter, nullptr);
        v1::Task none;
        none.set_kind(finished_ ? v1::Task::FINISHED : v1::Task::NO_TASK);
        if (finished_) slot.told_finished = true;
        w->Answer(none);
      }
    }
  }
}

void CoordinatorService::ReportLostClients(absl::Time now) {
  // Only clients that joined at some point count: one never seen (not started yet) is left to
  // the deadline. The silence is measured from the assignment at the earliest, and a parked
  // long poll is a live client.
  auto silent = [&](const ClientSlot& slot, const Assignment& a, int64_t open_id) {
    return a.round != 0 && a.id == open_id && slot.waiter == nullptr &&
           slot.last_seen != absl::InfinitePast() &&
           now - std::max(slot.last_seen, a.at) > options_.heartbeat_timeout;
  };
  std::vector<int64_t> lost_train, lost_eval;
  for (auto& [id, slot] : clients_) {
    if (train_sink_ && silent(slot, slot.train, train_round_)) {
      lost_train.push_back(id);
      slot.train.round = 0;
    }
    if (eval_sink_ && silent(slot, slot.eval, eval_id_)) {
      lost_eval.push_back(id);
      slot.eval.round = 0;
    }
  }
  if (lost_train.empty() && lost_eval.empty()) return;
  stats_.clients_lost += static_cast<int64_t>(lost_train.size() + lost_eval.size());
  std::shared_ptr<UpdateSink> train_sink = train_sink_;
  std::shared_ptr<EvalSink> eval_sink = eval_sink_;
  const int64_t train_round = train_round_, eval_round = eval_round_;
  const std::string why =
      absl::StrCat("not heard from for ", absl::FormatDuration(options_.heartbeat_timeout));
  mu_.Unlock();  // the sinks take their own locks and call observers
  auto report = [this, &why](int64_t id, const char* task, int64_t round) {
    LogEvent(LogLevel::kWarn, "client_lost",
             {{"client", ParticipantId(id)},
              {"task", task},
              {"round", absl::StrCat(round)},
              {"msg", why}});
  };
  for (int64_t id : lost_train) {
    report(id, "train", train_round);
    train_sink->OnTrainFailure(id, train_round, absl::UnavailableError(why));
  }
  for (int64_t id : lost_eval) {
    report(id, "evaluate", eval_round);
    eval_sink->OnEvalFailure(id, absl::UnavailableError(why));
  }
  mu_.Lock();
}

void CoordinatorService::RemoveWaiter(WaitReactor* waiter) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, slot] : clients_) {
    if (slot.waiter == waiter) {
      slot.waiter = nullptr;
      waiter->Finish(grpc::Status::CANCELLED);
      return;
    }
  }
}

absl::StatusOr<int64_t> CoordinatorService::ClientOf(const std::string& session, bool charge) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return absl::UnauthenticatedError(
        "unknown session; join first (the coordinator may have "
        "restarted)");
  }
  if (charge && !limiter_.Allow(it->second)) return RateLimited(it->second);
  clients_[it->second].last_seen = absl::Now();
  return it->second;
}

absl::Status CoordinatorService::RateLimited(int64_t client) {
  ++stats_.rate_limited;
  return absl::ResourceExhaustedError(
      absl::StrCat("client ", client, " exceeds ", options_.rate_limit_per_second,
                   " requests per second (burst ", options_.rate_limit_burst, "); retry later"));
}

std::string CoordinatorService::PublishModel(std::shared_ptr<const ParameterSet> shared) {
  // The coordinator hands the same object to a round's evaluation and the next round's
  // training: hash it once.
  if (shared == current_set_) return current_model_;
  current_set_ = shared;
  auto model = std::make_shared<const SerializedParameterSet>(std::move(shared));
  const std::string sha = model->content_address();
  if (sha != current_model_) {
    // Keep the current and the new version: a slow client may still be fetching the previous.
    for (auto it = models_.begin(); it != models_.end();) {
      it = it->first == current_model_ ? std::next(it) : models_.erase(it);
    }
    models_[sha] = std::move(model);
    current_model_ = sha;
  }
  return sha;
}

void CoordinatorService::Deliver(int64_t client, v1::Task task) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  ClientSlot& slot = it->second;
  if (slot.waiter != nullptr) {
    if (task.kind() == v1::Task::FINISHED) slot.told_finished = true;
    std::exchange(slot.waiter, nullptr)->Answer(task);
    slot.last_seen = absl::Now();  // it was waiting until this moment
    slot.pending.reset();
  } else {
    slot.pending = std::move(task);
  }
}

v1::Task CoordinatorService::NewTask(v1::Task::Kind kind, int64_t round,
                                     std::shared_ptr<const ParameterSet> global_shared) {
  const std::string sha = PublishModel(std::move(global_shared));
  v1::Task t;
  t.set_kind(kind);
  t.set_round(round);
  t.set_model_sha256(sha);
  t.set_model_bytes(static_cast<int64_t>(models_[sha]->size()));
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
  train_task_ = t;
  for (int64_t id : cohort) {
    auto it = clients_.find(id);
    if (it != clients_.end()) it->second.train = {task.round, task.round, absl::Now()};
    Deliver(id, t);
  }
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
  t.set_evaluation_id(task.evaluation_id);
  t.set_last_round(task.last_round);
  TrainOptionsToProto(task.options, t.mutable_options());
  eval_task_ = t;
  for (int64_t id : clients) {
    auto it = clients_.find(id);
    if (it != clients_.end()) it->second.eval = {task.round, task.evaluation_id, absl::Now()};
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

bool CoordinatorService::AwaitFinishDelivered(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto all_told = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    for (const auto& [id, slot] : clients_) {
      const bool live = slot.waiter != nullptr || now - slot.last_seen < 2 * options_.long_poll;
      if (live && !slot.told_finished) return false;
    }
    return true;
  };
  // Polled: a client's poll changes the state without a condition to wake this on.
  while (!all_told()) {
    if (absl::Now() >= deadline) return false;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(20));
  }
  return true;
}

void CoordinatorService::SetPrivacy(const v1::PrivacyStatus& privacy) {
  absl::MutexLock lock(&mu_);
  privacy_ = privacy;
}

void CoordinatorService::SetProgress(int64_t completed_rounds, int64_t total_rounds) {
  absl::MutexLock lock(&mu_);
  completed_rounds_ = completed_rounds;
  total_rounds_ = total_rounds;
}

grpc::ServerUnaryReactor* CoordinatorService::Join(grpc::CallbackServerContext* context,
                                                   const v1::JoinRequest* request,
                                                   v1::JoinResponse* response) {
  {
    // Charged to the claimed id before the token is checked: guessing tokens is slowed too.
    absl::MutexLock lock(&mu_);
    if (!limiter_.Allow(request->client_id())) {
      return FinishNow(context, ToGrpcStatus(RateLimited(request->client_id())));
    }
  }
  auto it = options_.client_tokens.find(request->client_id());
  if (it != options_.client_tokens.end() && options_.revoked_clients.count(request->client_id()) &&
      TokenMatches(it->second, request->token())) {
    LogEvent(LogLevel::kWarn, "join_refused",
             {{"client", absl::StrCat(request->client_id())},
              {"peer", context->peer()},
              {"msg", "revoked"}});
    return FinishNow(context,
                     grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                  absl::StrCat("client ", request->client_id(), " is revoked")));
  }
  if (it == options_.client_tokens.end() || !TokenMatches(it->second, request->token())) {
    // One message for both cases: do not tell a stranger which client ids exist.
    {
      absl::MutexLock lock(&mu_);
      ++stats_.joins_refused;
    }
    LogEvent(LogLevel::kWarn, "join_refused",
             {{"client", absl::StrCat(request->client_id())}, {"peer", context->peer()}});
    return FinishNow(
        context, grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown client or wrong token"));
  }
  if (request->experiment() != options_.experiment) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                           absl::StrCat("this coordinator runs experiment '",
                                                        options_.experiment, "', not '",
                                                        request->experiment(), "'")));
  }
  if (absl::Status config = CheckConfig(*request); !config.ok()) {
    LogEvent(LogLevel::kWarn, "join_refused",
             {{"client", absl::StrCat(request->client_id())},
              {"peer", context->peer()},
              {"msg", std::string(config.message())}});
    return FinishNow(context, ToGrpcStatus(config));
  }
  absl::MutexLock lock(&mu_);
  const std::string session = NewSessionId();
  sessions_[session] = request->client_id();
  clients_[request->client_id()].last_seen = absl::Now();
  ++stats_.joins;
  LogEvent(LogLevel::kInfo, "client_joined",
           {{"client", absl::StrCat(request->client_id())}, {"peer", context->peer()}});
  response->set_session(session);
  response->set_experiment(options_.experiment);
  return FinishNow(context, grpc::Status::OK);
}

void CoordinatorService::TaskFailed(int64_t client, const v1::TaskFailure& failure) {
  ClientSlot& slot = clients_[client];
  const absl::Status why = absl::AbortedError(absl::StrCat(
      "client ", client, " could not do its task: ", failure.reason().substr(0, 500)));
  std::shared_ptr<UpdateSink> train_sink;
  std::shared_ptr<EvalSink> eval_sink;
  if (failure.kind() == v1::Task::TRAIN && train_sink_ && slot.train.round != 0 &&
      failure.round() == train_round_ && slot.train.id == train_round_) {
    slot.train.round = 0;
    train_sink = train_sink_;
  } else if (failure.kind() == v1::Task::EVALUATE && eval_sink_ && slot.eval.round != 0 &&
             failure.evaluation_id() == eval_id_ && slot.eval.id == eval_id_) {
    slot.eval.round = 0;
    eval_sink = eval_sink_;
  } else {
    return;  // not a task it holds (a stale report): nothing to count
  }
  LogEvent(LogLevel::kWarn, "task_failed",
           {{"client", ParticipantId(client)},
            {"round", absl::StrCat(failure.round())},
            {"kind", v1::Task::Kind_Name(failure.kind())},
            {"msg", failure.reason().substr(0, 500)}});
  mu_.Unlock();  // the sinks take their own locks
  if (train_sink) train_sink->OnTrainFailure(client, failure.round(), why);
  if (eval_sink) eval_sink->OnEvalFailure(client, why);
  mu_.Lock();
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
    LogEvent(LogLevel::kInfo, "task_resent",
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
  slot.waiter_deadline = absl::Now() + options_.long_poll;
  return reactor;
}

grpc::ServerWriteReactor<v1::ModelChunk>* CoordinatorService::FetchModel(
    grpc::CallbackServerContext* context, const v1::FetchModelRequest* request) {
  std::shared_ptr<const SerializedParameterSet> model;
  grpc::Status error;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<int64_t> client = ClientOf(request->session());
    auto it = models_.find(request->model_sha256());
    if (!client.ok()) {
      error = ToGrpcStatus(client.status());
    } else if (it == models_.end()) {
      error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                           absl::StrCat("unknown model version ", request->model_sha256()));
    } else if (request->offset() < 0 ||
               static_cast<uint64_t>(request->offset()) > it->second->size()) {
      error = grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                           absl::StrCat("offset ", request->offset(), " outside the model's ",
                                        it->second->size(), " bytes"));
    } else {
      model = it->second;
    }
  }
  if (!model) {
    class Refuse : public grpc::ServerWriteReactor<v1::ModelChunk> {
     public:
      explicit Refuse(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    return new Refuse(error);
  }
  return new FetchReactor(this, std::move(model), request->offset(), options_.chunk_bytes);
}

grpc::ServerReadReactor<v1::UpdateChunk>* CoordinatorService::UploadUpdate(
    grpc::CallbackServerContext* context, v1::UploadResponse* response) {
  return new UploadReactor(this, response);
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

grpc::Status CoordinatorService::AcceptUpload(const std::string& session, int64_t round,
                                              double weight, double train_loss,
                                              UploadPrivacy privacy,
                                              std::shared_ptr<absl::StatusOr<ParameterSet>> decoded,
                                              uint64_t bytes) {
  std::shared_ptr<UpdateSink> sink;
  UpdateUpload upload;
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
  upload.round = round;
  upload.weight = weight;
  upload.stats.mean_loss = train_loss;
  upload.within_clip_norm = privacy.within_clip_norm;
  upload.record_epsilon = privacy.record_epsilon;
  upload.decoded = std::move(decoded);
  upload.wire_bytes = static_cast<int64_t>(bytes);
  // Schema checks and aggregation happen in the Round, outside the service lock.
  grpc::Status status = ToGrpcStatus(sink->OnUpdate(upload));
  LogEvent(status.ok() ? LogLevel::kInfo : LogLevel::kWarn,
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

std::string CoordinatorService::PrometheusText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help,
                       const std::string& samples) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", samples);
  };
  // Full round-trip precision: a gauge such as epsilon must not be rounded down for display.
  auto sample = [](const char* name, double value, const std::string& labels = "") {
    return absl::StrCat(name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ",
                        absl::StrFormat("%.17g", value), "\n");
  };
  // Clients heard from (any RPC, including a parked long poll) within two poll periods.
  const absl::Time now = absl::Now();
  int64_t connected = 0;
  for (const auto& [id, slot] : clients_) {
    if (slot.waiter != nullptr || now - slot.last_seen < 2 * options_.long_poll) ++connected;
  }
  metric("tailor_experiment_info", "gauge", "The experiment this coordinator runs.",
         sample("tailor_experiment_info", 1,
                absl::StrCat("experiment=\"", options_.experiment, "\"")));
  metric("tailor_rounds_completed", "gauge", "Rounds completed and committed.",
         sample("tailor_rounds_completed", static_cast<double>(completed_rounds_)));
  metric("tailor_rounds_configured", "gauge", "Rounds the experiment runs.",
         sample("tailor_rounds_configured", static_cast<double>(total_rounds_)));
  metric("tailor_current_round", "gauge", "The round whose training was last dispatched.",
         sample("tailor_current_round", static_cast<double>(train_round_)));
  metric("tailor_clients_registered", "gauge", "Clients allowed to join.",
         sample("tailor_clients_registered", static_cast<double>(options_.client_tokens.size())));
  metric("tailor_clients_connected", "gauge", "Clients heard from within two long-poll periods.",
         sample("tailor_clients_connected", static_cast<double>(connected)));
  metric("tailor_rate_limited_total", "counter", "Requests refused by the per-client rate limit.",
         sample("tailor_rate_limited_total", static_cast<double>(stats_.rate_limited)));
  metric("tailor_joins_total", "counter", "Successful joins.",
         sample("tailor_joins_total", static_cast<double>(stats_.joins)));
  metric("tailor_joins_refused_total", "counter", "Joins refused (unknown client or wrong token).",
         sample("tailor_joins_refused_total", static_cast<double>(stats_.joins_refused)));
  // Under DP that releases only what ε covers, how many took part is not published: these
  // counters change by exactly a round's participants.
  if (!options_.withhold_participation) {
    metric("tailor_clients_lost_total", "counter",
           "Clients holding a training task that went silent past the heartbeat timeout.",
           sample("tailor_clients_lost_total", static_cast<double>(stats_.clients_lost)));
    metric("tailor_model_bytes_sent_total", "counter", "Model bytes streamed to clients.",
           sample("tailor_model_bytes_sent_total", static_cast<double>(model_bytes_sent_.load())));
    metric("tailor_upload_bytes_accepted_total", "counter", "Bytes of accepted updates.",
           sample("tailor_upload_bytes_accepted_total",
                  static_cast<double>(stats_.upload_bytes_accepted)));
    metric("tailor_uploads_accepted_total", "counter", "Updates accepted into a round.",
           sample("tailor_uploads_accepted_total", static_cast<double>(stats_.uploads_accepted)));
    std::string rejected;
    for (const auto& [code, count] : stats_.uploads_rejected) {
      rejected += sample("tailor_uploads_rejected_total", static_cast<double>(count),
                         absl::StrCat("reason=\"", GrpcCodeName(code), "\""));
    }
    metric("tailor_uploads_rejected_total", "counter", "Uploads refused, by gRPC status.",
           rejected);
  }
  metric(
      "tailor_round_duration_seconds", "summary", "Wall time of completed rounds.",
      sample("tailor_round_duration_seconds_sum", stats_.round_seconds_sum) +
          sample("tailor_round_duration_seconds_count", static_cast<double>(stats_.rounds_timed)));
  metric("tailor_last_round_duration_seconds", "gauge", "Wall time of the last completed round.",
         sample("tailor_last_round_duration_seconds", stats_.last_round_seconds));
  if (privacy_) {
    metric("tailor_privacy_epsilon", "gauge",
           "Epsilon spent by the committed rounds (client-level DP, at tailor_privacy_delta).",
           sample("tailor_privacy_epsilon", privacy_->epsilon()));
    metric("tailor_privacy_delta", "gauge", "The delta of tailor_privacy_epsilon.",
           sample("tailor_privacy_delta", privacy_->delta()));
    metric("tailor_privacy_epsilon_budget", "gauge", "The epsilon that stops training (0: none).",
           sample("tailor_privacy_epsilon_budget", privacy_->epsilon_budget()));
    metric("tailor_privacy_clip_norm", "gauge", "The clip norm of the next round.",
           sample("tailor_privacy_clip_norm", privacy_->clip_norm()));
  }
  return out;
}

CoordinatorService::Stats CoordinatorService::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.model_bytes_sent = model_bytes_sent_.load();
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
    if (!eval_sink_ || request->round() != eval_round_ ||
        request->evaluation_id() != eval_id_) {
      return FinishNow(context, grpc::Status(grpc::StatusCode::ABORTED,
                                             absl::StrCat("evaluation ", request->evaluation_id(),
                                                          " of round ", request->round(),
                                                          " is not open")));
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
  // The numbers, the asked set and duplicates are the collector's to check, as in simulation.
  const absl::Status accepted = sink->OnEvalReport(report);
  if (!accepted.ok()) {
    LogEvent(LogLevel::kWarn, "evaluation_refused",
             {{"client", ParticipantId(report.client_id)},
              {"round", absl::StrCat(request->round())},
              {"code", absl::StatusCodeToString(accepted.code())},
              {"msg", std::string(accepted.message())}});
  }
  {
    absl::MutexLock lock(&mu_);
    ClientSlot& slot = clients_[report.client_id];
    if (slot.eval.id == request->evaluation_id()) slot.eval.round = 0;  // answered
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
  absl::MutexLock lock(&mu_);
  response->set_experiment(options_.experiment);
  response->set_completed_rounds(completed_rounds_);
  response->set_total_rounds(total_rounds_);
  response->set_current_round(train_round_);
  response->set_clients_joined(static_cast<int64_t>(sessions_.size()));
  response->set_model_sha256(current_model_);
  if (privacy_) *response->mutable_privacy() = *privacy_;
  return FinishNow(context, grpc::Status::OK);
}

}  // namespace tailor
