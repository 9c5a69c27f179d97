// CoordinatorService: the gRPC adapter over the round logic. It is a ClientTransport (the
// Coordinator hands it tasks exactly as it hands them to the simulation) and implements the
// tailor.v1.Coordinator service with gRPC's callback API: one reactor per RPC, long polls parked
// without a thread, models streamed in bounded chunks, uploads reassembled with size limits.
// Validation of the update itself is the Round's (server/round.h), as in simulation.
//
// Its parts, each in its own file: who may call (SessionTable, PeerRateLimiter, peer_identity),
// the task mailbox and liveness (here and service_liveness.cc), model publishing
// (PublishedModels), the streaming reactors (service_reactors), the metrics text
// (service_metrics.cc). Time comes from options.clock, so tests move it instead of sleeping.
//
// Who may do what:
//  - Join: a registered client with its token (and, under mutual TLS with
//    require_certificate_identity, a certificate naming it). A peer host whose Joins keep
//    failing is refused unchecked for a while (RESOURCE_EXHAUSTED), in bounded memory. Only an
//    authenticated Join spends the client's own request budget.
//  - Every other client RPC: a live session (one per client; joining again replaces it; unused
//    sessions expire).
//  - GetStatus: whoever holds the operator token.
//
// Thread-safe.
#ifndef TAILOR_SERVER_GRPC_SERVICE_H_
#define TAILOR_SERVER_GRPC_SERVICE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/log_sampler.h"
#include "core/serialization.h"
#include "server/published_models.h"
#include "server/rate_limiter.h"
#include "server/session_table.h"
#include "server/transport.h"
#include "tailor/v1/coordinator.grpc.pb.h"

namespace tailor {

struct CoordinatorServiceOptions {
  // Must match the experiment a client joins for.
  std::string experiment;
  // client id -> credential. Clients not listed are refused.
  std::map<int64_t, std::string> client_tokens;
  // How long WaitForTask holds a poll before answering NO_TASK.
  absl::Duration long_poll = absl::Seconds(20);
  // Bytes per ModelChunk.
  size_t chunk_bytes = 1 << 20;
  // Largest upload accepted (the encoded update of the shared parameters plus framing).
  int64_t max_upload_bytes = 1 << 30;
  // A client holding a training task that has not been heard from (poll, heartbeat, fetch,
  // upload) for this long is reported to the round as a dropout. Infinite: only the round
  // deadline counts.
  absl::Duration heartbeat_timeout = absl::InfiniteDuration();
  // Clients whose credential is withdrawn: their Join gets PERMISSION_DENIED.
  std::set<int64_t> revoked_clients;
  // Per-client request rate (token bucket over every RPC an authenticated client makes):
  // sustained requests per second and burst. A daemon makes well under one request per
  // second; <= 0 disables the limit.
  double rate_limit_per_second = 20;
  double rate_limit_burst = 60;
  // Failed Joins (and operator calls) a peer host may make: sustained per second and burst;
  // past that its Joins are refused unchecked until it earns tokens back. At most
  // max_tracked_peers hosts are remembered (beyond that new hosts share one bucket).
  double failed_joins_per_second = 1;
  double failed_joins_burst = 30;
  size_t max_tracked_peers = 4096;
  // A session unused this long expires (the client must join again). At least 2 long polls.
  absl::Duration session_idle_timeout = absl::Minutes(10);
  // Mutual TLS: a client's certificate must name it (tailor-client-<id>, server/peer_identity.h).
  bool require_certificate_identity = false;
  // The secret GetStatus asks for. Empty: status is refused to everyone.
  std::string operator_token;
  // Repetitive warnings (refused joins, refused uploads) are capped at this many lines per
  // event per minute, with a count of those left out.
  int log_lines_per_minute = 30;
  // Answer expired polls, report silent clients and expire sessions from a background thread
  // every 50 ms. Tests with a hand-moved clock turn it off and call Reap().
  bool run_reaper = true;
  // The service's clock: rate limits, liveness, long polls, sessions (tests move it); default
  // absl::Now.
  std::function<absl::Time()> clock;
  // The coordinator's config fingerprint and its parts (JoinRequest.config_fingerprint): a
  // client whose config differs is refused at Join with FAILED_PRECONDITION naming the parts.
  // Empty: not checked.
  std::string config_fingerprint;
  std::map<std::string, std::string> config_sections;
  // A private run that releases only what ε covers: /metrics leaves out the counters that
  // count a round's participants (uploads, their bytes, model bytes, lost clients), and log
  // lines about a round's participation say client=withheld.
  bool withhold_participation = false;
  // The model every client starts from, all of its parameters (JoinResponse.base_model_sha256):
  // served by content address for the service's life, so a client without the pretrained base
  // (or whose copy differs) fetches it once. Null: clients build their own from the config.
  std::shared_ptr<const ParameterSet> base_model;
};

class CoordinatorService final : public tailor::v1::Coordinator::CallbackService,
                                 public ClientTransport {
 public:
  explicit CoordinatorService(CoordinatorServiceOptions options);
  ~CoordinatorService() override;

  // ClientTransport.
  void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                     std::shared_ptr<UpdateSink> sink) override;
  void DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                    std::shared_ptr<EvalSink> sink) override;
  // Each request becomes a SECURE_AGGREGATION task; the answer is an UploadUpdate of content
  // SECAGG_REPLY. A client that polls while it holds a request it was given (it restarted and
  // lost its secrets), reports it failed, or goes silent past the heartbeat timeout is that
  // exchange's dropout.
  void DispatchSecAgg(int64_t round, const std::map<int64_t, std::string>& requests,
                      std::shared_ptr<SecAggSink> sink) override;
  void Finish() override;
  // After Finish: waits until every client heard from within two long-poll periods has been
  // told the experiment is over, or `deadline`. True when all were told.
  bool AwaitFinishDelivered(absl::Time deadline);

  // For GetStatus and metrics.
  void SetProgress(int64_t completed_rounds, int64_t total_rounds);
  // The privacy spent by the committed rounds (for GetStatus and /metrics).
  void SetPrivacy(const v1::PrivacyStatus& privacy);
  // The last evaluation (for GetStatus and /metrics).
  void SetEvaluation(const v1::EvaluationStatus& evaluation);
  // A completed round's wall time (dispatch to commit), for the round-latency metrics.
  void RecordRoundSeconds(double seconds);
  // The Prometheus text exposition (format 0.0.4) of the service's counters.
  std::string PrometheusText() const;

  // tailor.v1.Coordinator.
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context,
                                 const v1::JoinRequest* request,
                                 v1::JoinResponse* response) override;
  grpc::ServerUnaryReactor* WaitForTask(grpc::CallbackServerContext* context,
                                        const v1::WaitForTaskRequest* request,
                                        v1::Task* response) override;
  grpc::ServerWriteReactor<v1::ModelChunk>* FetchModel(
      grpc::CallbackServerContext* context, const v1::FetchModelRequest* request) override;
  grpc::ServerReadReactor<v1::UpdateChunk>* UploadUpdate(grpc::CallbackServerContext* context,
                                                         v1::UploadResponse* response) override;
  grpc::ServerUnaryReactor* ReportEvaluation(grpc::CallbackServerContext* context,
                                             const v1::EvaluationReport* request,
                                             v1::ReportResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::StatusRequest* request,
                                      v1::StatusResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;

  // For the model-stream reactor: bytes handed to gRPC.
  void CountModelBytesSent(uint64_t bytes);
  // For the upload reactor only: whether `session` may upload for `round` (checked on the first
  // chunk), and the complete upload (its update decoded, or its key advertisement; the client id
  // is the session's).
  grpc::Status AdmitUpload(const std::string& session, int64_t round);
  grpc::Status AcceptUpload(const std::string& session, UpdateUpload upload);
  // The same for a secure-aggregation reply: whether `session` holds an open request of
  // `round`, and the reply itself (its round, sender and phase must be the request's).
  grpc::Status AdmitSecAggReply(const std::string& session, int64_t round);
  grpc::Status AcceptSecAggReply(const std::string& session, int64_t round, std::string reply);
  void CountRejectedUpload(grpc::StatusCode code);
  int64_t max_upload_bytes() const { return options_.max_upload_bytes; }

  // One pass of the background work: answers polls past their deadline, reports clients silent
  // past the heartbeat timeout, expires idle sessions, flushes the log sampler's counts.
  void Reap();
  // For the reactors: repetitive lines go through the sampler.
  LogSampler& log_sampler() { return log_; }

  // Counters for metrics endpoints and tests.
  struct Stats {
    int64_t joins = 0;
    int64_t joins_refused = 0;
    int64_t joins_throttled = 0;
    int64_t sessions_replaced = 0;
    int64_t sessions_expired = 0;
    // Sizes of what callers can make the service hold (bounded by design; tests check it).
    int64_t live_sessions = 0;
    int64_t client_slots = 0;
    int64_t tracked_peers = 0;
    // Long polls parked now (a client whose connection died still holds one until gRPC
    // finds the connection dead: keepalive).
    int64_t parked_polls = 0;
    int64_t uploads_accepted = 0;
    uint64_t upload_bytes_accepted = 0;
    std::map<grpc::StatusCode, int64_t> uploads_rejected;
    uint64_t model_bytes_sent = 0;
    int64_t clients_lost = 0;
    int64_t rate_limited = 0;
    int64_t rounds_timed = 0;
    double round_seconds_sum = 0;
    double last_round_seconds = 0;
  };
  Stats stats() const;

 private:
  class WaitReactor;
  struct Assignment {
    // The round (0: none) and, for an evaluation, its evaluation id.
    int64_t round = 0;
    int64_t id = 0;
    absl::Time at;
  };
  struct ClientSlot {
    std::optional<v1::Task> pending;
    WaitReactor* waiter = nullptr;  // a parked long poll, owned by gRPC
    absl::Time waiter_deadline;
    absl::Time last_seen = absl::InfinitePast();
    // The training and evaluation rounds this client was asked to do and has not yet
    // answered (round 0: none), and when they were assigned. A client that polls while it
    // holds one lost its task (it restarted): it gets the same task again.
    Assignment train;
    Assignment eval;
    // A secure-aggregation request (id: the exchange) and the reply it asks for
    // (v1::SecAggReply::PhaseCase).
    Assignment secagg;
    int secagg_reply = 0;
    v1::Task secagg_task;
    bool told_finished = false;
  };

  // The client and the open round's sink for an upload from `session` for `round`, or why not.
  absl::StatusOr<std::pair<int64_t, std::shared_ptr<UpdateSink>>> OpenTrainSinkFor(
      const std::string& session, int64_t round, bool charge = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountRejectedUploadLocked(grpc::StatusCode code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The client id of a session (recorded as seen), UNAUTHENTICATED, or RESOURCE_EXHAUSTED when
  // `charge` and the client is over its rate.
  absl::StatusOr<int64_t> ClientOf(const std::string& session, bool charge = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RateLimited(int64_t client) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A task of `kind` for `round` naming the (published) global shared parameters.
  v1::Task NewTask(v1::Task::Kind kind, int64_t round,
                   std::shared_ptr<const ParameterSet> global_shared)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives `task` to the client: to its parked poll if any, else as its pending task.
  void Deliver(int64_t client, v1::Task task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The task a polling client holds but evidently lost (train first), if any.
  std::optional<v1::Task> LostTaskOf(const ClientSlot& slot) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the client's config matches the coordinator's; FAILED_PRECONDITION naming the parts
  // that differ.
  absl::Status CheckConfig(const v1::JoinRequest& request) const;
  absl::Time Now() const { return clock_(); }
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReaperLoop();
  // Reports clients that hold a task and went silent past the heartbeat timeout to the task's
  // sink; called by the reaper with mu_ held (released around the sink calls).
  void ReportLostClients(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The client says it could not do the task it holds: counted as failed in that round or
  // evaluation (mu_ is released around the sink call).
  void TaskFailed(int64_t client, const v1::TaskFailure& failure)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The client's open secure-aggregation request, if it holds one, ends as a dropout of its
  // exchange (mu_ is released around the sink call).
  void SecAggDropout(int64_t client, const absl::Status& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HoldsSecAggRequest(const ClientSlot& slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A client id for log lines about round participation ("withheld" under
  // withhold_participation).
  std::string ParticipantId(int64_t client) const;
  void RemoveWaiter(WaitReactor* waiter);

  const CoordinatorServiceOptions options_;
  const std::function<absl::Time()> clock_;
  LogSampler log_;
  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  RateLimiter limiter_ ABSL_GUARDED_BY(mu_);
  PeerRateLimiter peers_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> model_bytes_sent_{0};
  SessionTable sessions_ ABSL_GUARDED_BY(mu_);
  // One slot per registered client (bounded: strangers get none).
  std::map<int64_t, ClientSlot> clients_ ABSL_GUARDED_BY(mu_);
  PublishedModels models_ ABSL_GUARDED_BY(mu_);
  // options_.base_model as served (pinned in models_); null without one.
  std::shared_ptr<const SerializedParameterSet> base_model_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<UpdateSink> train_sink_ ABSL_GUARDED_BY(mu_);
  int64_t train_round_ ABSL_GUARDED_BY(mu_) = 0;
  // The open training round's task, handed again to a cohort member that lost it.
  v1::Task train_task_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<EvalSink> eval_sink_ ABSL_GUARDED_BY(mu_);
  int64_t eval_round_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t eval_id_ ABSL_GUARDED_BY(mu_) = 0;
  v1::Task eval_task_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<SecAggSink> secagg_sink_ ABSL_GUARDED_BY(mu_);
  int64_t secagg_round_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t secagg_exchange_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t completed_rounds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t total_rounds_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<v1::PrivacyStatus> privacy_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::EvaluationStatus> evaluation_ ABSL_GUARDED_BY(mu_);
  std::thread reaper_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_GRPC_SERVICE_H_
