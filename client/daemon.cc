#include "client/daemon.h"

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/base_model_cache.h"
#include "client/secagg_participant.h"
#include "client/train_options_proto.h"
#include "core/log.h"
#include "core/random.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "privacy/secure_random.h"
#include "proto/grpc_status.h"
#include "tailor/v1/coordinator.grpc.pb.h"

namespace tailor {
namespace {

// Sends Heartbeat(session, round) every `interval` on its own thread until destroyed.
class HeartbeatLoop {
 public:
  HeartbeatLoop(v1::Coordinator::Stub* stub, std::string session, int64_t round,
                absl::Duration interval)
      : thread_([this, stub, session = std::move(session), round, interval] {
          absl::MutexLock lock(&mu_);
          while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval)) {
            mu_.Unlock();
            grpc::ClientContext ctx;
            ctx.set_deadline(absl::ToChronoTime(absl::Now() + interval));
            v1::HeartbeatRequest req;
            req.set_session(session);
            req.set_round(round);
            v1::HeartbeatResponse resp;
            (void)stub->Heartbeat(&ctx, req, &resp);  // best effort: the next one may get through
            mu_.Lock();
          }
        }) {}
  ~HeartbeatLoop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

 private:
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after mu_ and stop_ exist
};

bool Transient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsResourceExhausted(s) ||
         absl::IsAborted(s);
}

class Daemon {
 public:
  Daemon(const DaemonOptions& options, LocalTrainer& trainer)
      : options_(options),
        trainer_(trainer),
        stub_(v1::Coordinator::NewStub(options.channel)),
        rng_(DeriveSeed(options.jitter_seed, {static_cast<uint64_t>(options.context.client_id)})) {}

  absl::Status Run() {
    absl::Time last_contact = absl::Now();
    absl::Time last_complaint = absl::InfinitePast();
    absl::Duration backoff = options_.initial_backoff;
    while (true) {
      const char* doing = session_.empty() ? "joining" : "polling for a task";
      absl::Status s = session_.empty() ? Join() : Step();
      if (s.ok()) {
        if (finished_) {
          Log(LogLevel::kInfo, "finished", {{"msg", "the coordinator says the experiment is over"}});
          return absl::OkStatus();
        }
        if (last_complaint != absl::InfinitePast()) {
          Log(LogLevel::kInfo, "coordinator_reached",
              {{"after", absl::FormatDuration(absl::Now() - last_contact)}});
          last_complaint = absl::InfinitePast();
        }
        last_contact = absl::Now();
        backoff = options_.initial_backoff;
        continue;
      }
      if (absl::IsUnauthenticated(s) && !session_.empty()) {
        Log(LogLevel::kInfo, "rejoining", {{"msg", std::string(s.message())}});
        session_.clear();  // the coordinator forgot us (restart): join again
        continue;
      }
      if (!Transient(s)) return s;
      const absl::Duration silent = absl::Now() - last_contact;
      if (experiment_over_ && silent > options_.linger_after_last_round) {
        Log(LogLevel::kInfo, "finished",
            {{"msg", absl::StrCat("the last round is evaluated and the coordinator has been gone "
                                  "for ", absl::FormatDuration(silent))}});
        return absl::OkStatus();
      }
      if (silent > options_.give_up_after) {
        return Annotate(s, absl::StrCat("giving up after ", absl::FormatDuration(silent),
                                        " without reaching the coordinator at ",
                                        options_.coordinator_address));
      }
      // Said at the first failure and then every 10 s, not at every retry.
      if (absl::Now() - last_complaint > absl::Seconds(10)) {
        Log(LogLevel::kWarn, "coordinator_unreachable",
            {{"doing", doing},
             {"code", absl::StatusCodeToString(s.code())},
             {"since", absl::FormatDuration(silent)},
             {"gives_up_in", absl::FormatDuration(options_.give_up_after - silent)},
             {"msg", std::string(s.message())}});
        last_complaint = absl::Now();
      }
      // Exponential backoff with ±50% jitter so restarted fleets do not reconnect in lockstep.
      const double jitter = 0.5 + rng_.Uniform();
      absl::SleepFor(backoff * jitter);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return ctx;
  }

  absl::Status Join() {
    v1::JoinRequest req;
    req.set_client_id(options_.context.client_id);
    req.set_token(options_.token);
    req.set_experiment(options_.experiment);
    req.set_config_fingerprint(options_.config_fingerprint);
    for (const auto& [part, digest] : options_.config_sections) {
      (*req.mutable_config_sections())[part] = digest;
    }
    v1::JoinResponse resp;
    auto ctx = Context(options_.rpc_timeout);
    TAILOR_RETURN_IF_ERROR(FromGrpcStatus(stub_->Join(ctx.get(), req, &resp)));
    session_ = resp.session();
    if (resp.base_model_sha256() != announced_base_) runtime_.reset();
    announced_base_ = resp.base_model_sha256();
    announced_base_bytes_ = resp.base_model_bytes();
    return absl::OkStatus();
  }

  // Before the first task: the model this client starts from must be the coordinator's. Its
  // own (built from the config) is used when the addresses agree; otherwise the coordinator's
  // is taken from the cache or fetched once (a client without the pretrained base file), and
  // must have this model's parameters.
  absl::Status AdoptBaseModel() {
    const std::shared_ptr<const ParameterSet>& own = options_.context.initial_model;
    if (own_base_.empty()) own_base_ = SerializedParameterSet(*own).content_address();
    ClientContext context = options_.context;
    const char* source = "config";
    if (!announced_base_.empty() && announced_base_ != own_base_) {
      BaseModelCache cache(options_.base_model_dir, Env::Default());
      std::optional<ParameterSet> cached;
      if (!options_.base_model_dir.empty()) {
        TAILOR_ASSIGN_OR_RETURN(cached, cache.Find(announced_base_));
      }
      if (cached) {
        context.initial_model = std::make_shared<const ParameterSet>(*std::move(cached));
        source = "cache";
      } else {
        TAILOR_ASSIGN_OR_RETURN(context.initial_model, WithRetries([&] {
                                  return Model(announced_base_, announced_base_bytes_);
                                }));
        source = "coordinator";
        if (!options_.base_model_dir.empty()) {
          TAILOR_RETURN_IF_ERROR(cache.Store(*context.initial_model).status());
        }
      }
      TAILOR_RETURN_IF_ERROR(CheckBaseModelMatches(*own, *context.initial_model));
    }
    Log(LogLevel::kInfo, "base_model",
        {{"sha256", (announced_base_.empty() ? own_base_ : announced_base_).substr(0, 16)},
         {"from", source}});
    runtime_.emplace(std::move(context));
    return absl::OkStatus();
  }

  absl::Status Step() {
    if (!runtime_) TAILOR_RETURN_IF_ERROR(AdoptBaseModel());
    v1::WaitForTaskRequest req;
    req.set_session(session_);
    if (failed_task_) *req.mutable_failed() = *failed_task_;
    v1::Task task;
    auto ctx = Context(options_.poll_timeout);
    TAILOR_RETURN_IF_ERROR(FromGrpcStatus(stub_->WaitForTask(ctx.get(), req, &task)));
    failed_task_.reset();  // delivered
    switch (task.kind()) {
      case v1::Task::FINISHED:
        finished_ = true;
        return absl::OkStatus();
      case v1::Task::TRAIN:
        return Done(task, Train(task));
      case v1::Task::EVALUATE:
        return Done(task, Evaluate(task));
      case v1::Task::SECURE_AGGREGATION:
        return Done(task, SecureAggregation(task));
      default:
        return absl::OkStatus();
    }
  }

  // A task that failed here, not on the way (its training diverged, the state on disk is
  // unreadable...): the daemon stays up, says so with its next poll so the coordinator counts it
  // as failed at once, and takes the next task. Transient and session errors go back to Run.
  absl::Status Done(const v1::Task& task, absl::Status s) {
    if (s.ok() || Transient(s) || absl::IsUnauthenticated(s)) return s;
    Log(LogLevel::kWarn, "task_failed",
        {{"round", absl::StrCat(task.round())},
         {"kind", v1::Task::Kind_Name(task.kind())},
         {"code", absl::StatusCodeToString(s.code())},
         {"msg", std::string(s.message())}});
    v1::TaskFailure failure;
    failure.set_kind(task.kind());
    failure.set_round(task.round());
    failure.set_evaluation_id(task.evaluation_id());
    failure.set_reason(s.ToString());
    failed_task_ = std::move(failure);
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const ParameterSet>> Model(const v1::Task& task) {
    return Model(task.model_sha256(), task.model_bytes());
  }
  // Fetches (or reuses) the model at `sha` of `bytes` bytes, decoding it as the chunks arrive
  // and resuming from the bytes already decoded after a broken stream.
  absl::StatusOr<std::shared_ptr<const ParameterSet>> Model(const std::string& sha,
                                                            int64_t bytes) {
    if (cached_sha_ == sha && cached_model_) return cached_model_;
    if (bytes <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the coordinator announces a model of ", bytes, " bytes"));
    }
    if (partial_sha_ != sha || !partial_) {
      // The previous version is not needed any more: free it first, so its buffers are reused
      // for the new one (and the client never holds two models).
      cached_model_.reset();
      cached_sha_.clear();
      partial_sha_ = sha;
      partial_ = std::make_unique<ParameterSetDecoder>(static_cast<uint64_t>(bytes));
    }
    v1::FetchModelRequest req;
    req.set_session(session_);
    req.set_model_sha256(sha);
    req.set_offset(static_cast<int64_t>(partial_->bytes_consumed()));
    auto ctx = Context(options_.rpc_timeout);
    auto reader = stub_->FetchModel(ctx.get(), req);
    v1::ModelChunk chunk;
    absl::Status decoded;
    while (decoded.ok() && reader->Read(&chunk)) {
      if (chunk.offset() != static_cast<int64_t>(partial_->bytes_consumed())) {
        decoded = absl::DataLossError("model stream out of order");
        break;
      }
      decoded = partial_->Append(chunk.data());
    }
    if (!decoded.ok()) {
      ctx->TryCancel();
      reader->Finish();
      partial_.reset();  // start over: these bytes cannot be trusted
      return Annotate(decoded, "fetched model");
    }
    TAILOR_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
    if (static_cast<int64_t>(partial_->bytes_consumed()) != bytes) {
      return absl::UnavailableError(absl::StrCat("model stream ended at ",
                                                 partial_->bytes_consumed(), " of ", bytes,
                                                 " bytes"));
    }
    std::unique_ptr<ParameterSetDecoder> done = std::move(partial_);
    TAILOR_ASSIGN_OR_RETURN(ParameterSet model, done->Finish());
    // The decoder verified the bytes against their own digest; that digest is the address.
    if (done->content_address() != sha) {
      return absl::DataLossError("fetched model does not match its content address");
    }
    cached_sha_ = sha;
    cached_model_ = std::make_shared<const ParameterSet>(std::move(model));
    return cached_model_;
  }

  // Retries `fn` on transient errors with backoff. A task is handed out once, so its fetch and
  // upload are retried here rather than by polling again.
  template <typename Fn>
  auto WithRetries(Fn fn) -> decltype(fn()) {
    absl::Duration backoff = options_.initial_backoff;
    for (int attempt = 0;; ++attempt) {
      auto result = fn();
      if (result.ok() || !Transient(StatusOf(result)) || attempt == 5) return result;
      absl::SleepFor(backoff * (0.5 + rng_.Uniform()));
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
  static absl::Status StatusOf(const absl::Status& s) { return s; }
  template <typename T>
  static absl::Status StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }

  absl::Status Train(const v1::Task& task) {
    HeartbeatLoop alive(stub_.get(), session_, task.round(), options_.heartbeat_interval);
    TAILOR_ASSIGN_OR_RETURN(auto model, WithRetries([&] { return Model(task); }));
    TrainTask t;
    t.round = task.round();
    t.global_shared = model;
    t.seed = task.seed();
    t.options = TrainOptionsFromProto(task.options());
    if (task.has_secure_aggregation()) {
      const v1::SecAggParameters& p = task.secure_aggregation();
      t.secure_aggregation =
          SecureAggregationTask{p.threshold(),  p.neighbours(), p.clip_norm(),
                                p.max_weight(), p.dp_grid(),    p.dp_effective_clip(),
                                p.dp_noise_sigma_squared(), p.field_bits()};
    }
    // A retried round (after a transient upload failure) must not train twice: reuse the result.
    // A new attempt of the round (another seed) is a new task: under secure aggregation reusing
    // its keys and input in a second session could reveal the input.
    if (!pending_upload_ || pending_upload_->round != task.round() ||
        pending_seed_ != task.seed()) {
      TAILOR_ASSIGN_OR_RETURN(UpdateUpload up, runtime_->Train(t, trainer_));
      if (t.secure_aggregation) {
        // The update becomes a key advertisement; its secrets come from the OS and live only
        // in this process (a restart forgets them, and the coordinator counts a dropout).
        TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<SecureRandom> random,
                                SecureRandom::FromOsEntropy());
        TAILOR_RETURN_IF_ERROR(secagg_.Begin(t, std::move(random), &up));
      }
      pending_upload_ = std::move(up);
      pending_seed_ = task.seed();
    }
    absl::Status s = WithRetries([&] { return Upload(*pending_upload_); });
    if (Transient(s) || absl::IsUnauthenticated(s)) {
      // The same upload, later (after rejoining if the session is gone): said, not silent.
      Log(LogLevel::kWarn, "upload_deferred",
          {{"round", absl::StrCat(task.round())},
           {"code", absl::StatusCodeToString(s.code())},
           {"msg", std::string(s.message())}});
      return s;
    }
    // Accepted; or refused for good (the round moved on, bad content): either way this upload
    // is done, and the daemon goes back to polling.
    if (!s.ok()) LogRefused("upload_refused", task.round(), s);
    pending_upload_.reset();
    return absl::OkStatus();
  }

  absl::Status Upload(const UpdateUpload& up) {
    v1::UpdateChunk header;
    header.set_round(up.round);
    if (!up.secagg_advertisement.empty()) {
      header.set_content(v1::UpdateChunk::SECAGG_ADVERTISEMENT);
      header.set_plain_bytes(up.plain_bytes);
      return UploadBytes(std::move(header), up.secagg_advertisement);
    }
    header.set_weight(up.weight);
    header.set_train_loss(up.stats.mean_loss);
    header.set_within_clip_norm(up.within_clip_norm);
    if (up.record_epsilon >= 0) header.set_record_epsilon(up.record_epsilon);
    return UploadBytes(std::move(header), up.payload);
  }

  // Streams `data` in chunks, the first carrying `header` (with the session and size added).
  absl::Status UploadBytes(v1::UpdateChunk header, const std::string& data) {
    v1::UploadResponse resp;
    auto ctx = Context(options_.rpc_timeout);
    auto writer = stub_->UploadUpdate(ctx.get(), &resp);
    const int64_t round = header.round();
    header.set_session(session_);
    header.set_total_bytes(static_cast<int64_t>(data.size()));
    size_t offset = 0;
    bool first = true;
    do {
      v1::UpdateChunk chunk;
      if (first) {
        chunk = std::move(header);
        first = false;
      }
      const size_t n = std::min(options_.chunk_bytes, data.size() - offset);
      chunk.set_data(data.data() + offset, n);
      offset += n;
      if (!writer->Write(chunk)) break;  // the server ended the call; Finish tells why
      if (options_.on_upload_progress) options_.on_upload_progress(round, offset);
    } while (offset < data.size());
    writer->WritesDone();
    return FromGrpcStatus(writer->Finish());
  }

  // One exchange of secure aggregation: the participant's answer to the coordinator's request,
  // uploaded like an update (a masked input is as large as one). A request this client cannot
  // answer (out of turn, another round, a restart lost the secrets) fails the task: the
  // coordinator counts a dropout.
  absl::Status SecureAggregation(const v1::Task& task) {
    if (!secagg_last_ || secagg_last_->request != task.secagg_request()) {
      const int answering = secagg_.next_phase();
      TAILOR_ASSIGN_OR_RETURN(std::string reply, secagg_.Handle(task.secagg_request()));
      secagg_last_ = SecAggAnswer{task.secagg_request(), std::move(reply), answering};
    }
    // The same request again (this client's reply did not get through): the same reply, not a
    // second answer, which the protocol would refuse.
    const int phase = secagg_last_->phase;
    const std::string& reply = secagg_last_->reply;
    v1::UpdateChunk header;
    header.set_round(task.round());
    header.set_content(v1::UpdateChunk::SECAGG_REPLY);
    absl::Status s = WithRetries([&] { return UploadBytes(header, reply); });
    if (Transient(s) || absl::IsUnauthenticated(s)) return s;
    if (!s.ok()) {
      // The exchange moved on without this client (its deadline passed): nothing to redo.
      LogRefused("secagg_reply_refused", task.round(), s);
      return absl::OkStatus();
    }
    Log(LogLevel::kInfo, "secagg_replied",
        {{"round", absl::StrCat(task.round())}, {"phase", absl::StrCat(phase)}});
    if (options_.on_secagg_reply) options_.on_secagg_reply(task.round(), phase);
    return absl::OkStatus();
  }

  absl::Status Evaluate(const v1::Task& task) {
    HeartbeatLoop alive(stub_.get(), session_, task.round(), options_.heartbeat_interval);
    TAILOR_ASSIGN_OR_RETURN(auto model, WithRetries([&] { return Model(task); }));
    EvalTask t;
    t.round = task.round();
    t.global_shared = model;
    t.options = TrainOptionsFromProto(task.options());
    t.seed = task.seed();
    t.new_client_epochs = task.new_client_epochs();
    t.new_client_shots.assign(task.new_client_shots().begin(), task.new_client_shots().end());
    t.evaluation_id = task.evaluation_id();
    t.last_round = task.last_round();
    TAILOR_ASSIGN_OR_RETURN(EvalReport report, runtime_->Evaluate(t, trainer_));
    v1::EvaluationReport req;
    req.set_session(session_);
    req.set_round(task.round());
    req.set_evaluation_id(task.evaluation_id());
    req.set_correct(report.personalized.correct);
    req.set_count(report.personalized.count);
    req.set_loss_sum(report.personalized.loss_sum);
    auto counts = [](const EvalStats& stats, v1::EvalCounts* c) {
      c->set_correct(stats.correct);
      c->set_count(stats.count);
      c->set_loss_sum(stats.loss_sum);
    };
    if (report.global) counts(*report.global, req.mutable_global());
    for (const auto& [name, stats] : report.personalized_views) {
      counts(stats, &(*req.mutable_views())[name]);
    }
    for (const auto& [name, stats] : report.global_views) {
      counts(stats, &(*req.mutable_global_views())[name]);
    }
    absl::Status s = WithRetries([&] {
      v1::ReportResponse r;
      auto c = Context(options_.rpc_timeout);
      return FromGrpcStatus(stub_->ReportEvaluation(c.get(), req, &r));
    });
    if (Transient(s) || absl::IsUnauthenticated(s)) return s;
    if (!s.ok()) LogRefused("evaluation_refused", task.round(), s);
    if (task.last_round()) experiment_over_ = true;
    return absl::OkStatus();
  }

  // The coordinator refused something for good (the round moved on, bad content): said once.
  void LogRefused(absl::string_view event, int64_t round, const absl::Status& why) {
    Log(LogLevel::kWarn, event,
        {{"round", absl::StrCat(round)},
         {"code", absl::StatusCodeToString(why.code())},
         {"msg", std::string(why.message())}});
  }

  void Log(LogLevel level, absl::string_view event, absl::Span<const LogField> fields) {
    // The client id and where it is pointed, on every line.
    std::vector<LogField> all = {{"client", absl::StrCat(options_.context.client_id)},
                                 {"coordinator", options_.coordinator_address}};
    all.insert(all.end(), fields.begin(), fields.end());
    LogEvent(level, event, all);
  }

  const DaemonOptions& options_;
  LocalTrainer& trainer_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  Rng rng_;
  std::string session_;
  // The base model the coordinator announced at Join, and the address of this client's own.
  std::string announced_base_;
  int64_t announced_base_bytes_ = 0;
  std::string own_base_;
  // Built once the base model is settled (AdoptBaseModel).
  std::optional<ClientRuntime> runtime_;
  bool finished_ = false;
  // The evaluation of the experiment's last round is answered.
  bool experiment_over_ = false;
  // The task that failed on this device, told to the coordinator with the next poll.
  std::optional<v1::TaskFailure> failed_task_;
  std::string cached_sha_;
  std::shared_ptr<const ParameterSet> cached_model_;
  std::string partial_sha_;
  std::unique_ptr<ParameterSetDecoder> partial_;
  std::optional<UpdateUpload> pending_upload_;
  uint64_t pending_seed_ = 0;
  // This client's side of secure aggregation for its current round.
  SecAggParticipant secagg_{options_.context.client_id};
  struct SecAggAnswer {
    std::string request, reply;
    int phase = 0;
  };
  std::optional<SecAggAnswer> secagg_last_;
};

}  // namespace

absl::Status RunClientDaemon(const DaemonOptions& options, LocalTrainer& trainer) {
  Daemon daemon(options, trainer);
  return daemon.Run();
}

}  // namespace tailor
