// `tailor coordinator`: serves one experiment over gRPC with the same round loop the simulation
// runs.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <set>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <openssl/rand.h>

#include "core/config_fingerprint.h"
#include "core/config_loader.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "grpcpp/server_builder.h"
#include "privacy/secagg_input.h"
#include "server/checkpoint_store.h"
#include "server/coordinator.h"
#include "server/grpc_service.h"
#include "server/keepalive.h"
#include "server/metrics_http.h"
#include "server/metrics_jsonl.h"
#include "sim/experiment.h"
#include "sim/progress_printer.h"
#include "tools/commands.h"
#include "tools/tls_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "Address the coordinator listens on.");
ABSL_FLAG(std::string, client_tokens, "",
          "File with one 'CLIENT_ID TOKEN' per line: the clients allowed to join. A line "
          "'CLIENT_ID TOKEN revoked' keeps the client out (PERMISSION_DENIED).");
ABSL_FLAG(double, rate_limit, 20,
          "Requests per second each client may make, sustained (bursts of 3x); 0: no limit.");
ABSL_FLAG(int, round_timeout_s, 600,
          "Seconds a round waits for its cohort; silent clients then count as dropouts.");
ABSL_FLAG(int, long_poll_s, 20, "Seconds a client's WaitForTask is held open.");
ABSL_FLAG(int, heartbeat_timeout_s, 60,
          "Seconds a client holding a training task may be silent (no poll or heartbeat) before "
          "it counts as a dropout; 0: wait for the round timeout.");
ABSL_FLAG(bool, start_over, false,
          "Start at round 0 although the output directory holds model files or metrics of an "
          "earlier run whose coordinator.db is gone (refused without this flag).");
ABSL_FLAG(int64_t, testing_crash_after_round, 0,
          "Testing only: SIGKILL this process right after round N is committed and reported, "
          "before anyone is told the experiment is over.");
ABSL_FLAG(int, session_idle_timeout_s, 600,
          "Seconds a client's session may go unused before it expires (it joins again).");
// Shared with `tailor client` (tools/client_command.cc).
ABSL_FLAG(int, keepalive_s, 30,
          "Seconds without traffic after which this end pings the connection (client: while a "
          "call is in flight, at least 10).");
ABSL_FLAG(int, keepalive_timeout_s, 20,
          "Seconds a keepalive ping may go unanswered before the connection counts as dead.");
ABSL_FLAG(bool, client_certificate_names_client, true,
          "With --tls_ca (mutual TLS): a client's certificate must name it as tailor-client-<id> "
          "in its CN or a subjectAltName, or its Join is refused.");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT for the HTTP endpoints /metrics (Prometheus) and /healthz; empty: off. "
          "Bind it to a private interface.");

ABSL_DECLARE_FLAG(std::string, tls_ca);
// Shared with `tailor status` (tools/status_command.cc): for the coordinator, the token status
// must present; empty: a random one is written to OUTPUT_DIR/operator.token (mode 0600).
ABSL_DECLARE_FLAG(std::string, operator_token_file);

namespace tailor {
namespace {

// The operator token from --operator_token_file, or a new random one written (0600) beside the
// run's state so the operator on this machine can read it and no one else can.
absl::StatusOr<std::string> OperatorToken(Env* env, const std::string& output_dir) {
  const std::string path = absl::GetFlag(FLAGS_operator_token_file);
  if (!path.empty()) {
    TAILOR_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
    std::string token(absl::StripAsciiWhitespace(text));
    if (token.size() < 16) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": the operator token must be at least 16 characters (got ", token.size(), ")"));
    }
    return token;
  }
  std::string bytes(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), 32) != 1) {
    return absl::InternalError("no randomness for the operator token");
  }
  std::string token = absl::BytesToHexString(bytes);
  const std::string file = output_dir + "/operator.token";
  const mode_t old_mask = ::umask(077);  // the file is never readable by others, not even briefly
  absl::Status written = env->WriteFileAtomically(file, token + "\n");
  ::umask(old_mask);
  TAILOR_RETURN_IF_ERROR(written);
  LogEvent(LogLevel::kInfo, "operator_token", {{"file", file}, {"msg", "for tailor status"}});
  return token;
}

struct ClientCredentials {
  std::map<int64_t, std::string> tokens;
  std::set<int64_t> revoked;
};

absl::StatusOr<ClientCredentials> ReadTokens(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("--client_tokens is required");
  TAILOR_ASSIGN_OR_RETURN(std::string text, Env::Default()->ReadFile(path));
  ClientCredentials credentials;
  std::map<int64_t, std::string>& tokens = credentials.tokens;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t id = 0;
    const bool revoked = parts.size() == 3 && parts[2] == "revoked";
    if ((parts.size() != 2 && !revoked) || !absl::SimpleAtoi(parts[0], &id) || id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": expected 'CLIENT_ID TOKEN' or 'CLIENT_ID TOKEN revoked'"));
    }
    tokens[id] = parts[1];
    if (revoked) credentials.revoked.insert(id);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no clients"));
  return credentials;
}

v1::PrivacyStatus PrivacyStatusOf(const DpFedAvg& dp) {
  v1::PrivacyStatus p;
  p.set_epsilon(dp.Spent().epsilon);
  p.set_delta(dp.options().delta);
  p.set_epsilon_budget(dp.options().epsilon_budget);
  p.set_noise_multiplier(dp.noise_multiplier());
  p.set_clip_norm(dp.clip_norm());
  return p;
}

// Fault injection: dies like a SIGKILL right after a chosen round is committed and reported.
class CrashAfterRound : public RoundObserver {
 public:
  explicit CrashAfterRound(int64_t round) : round_(round) {}
  void OnRoundComplete(const RoundRecord& r) override {
    if (round_ > 0 && r.round >= round_) ::raise(SIGKILL);
  }

 private:
  int64_t round_;
};

// Keeps the service's status view current.
class StatusUpdater : public RoundObserver {
 public:
  StatusUpdater(CoordinatorService* service, int64_t total) : service_(service), total_(total) {}
  void set_privacy(const DpFedAvg* privacy) { privacy_ = privacy; }
  void OnRoundComplete(const RoundRecord& r) override {
    service_->SetProgress(r.round, total_);
    if (privacy_ != nullptr) service_->SetPrivacy(PrivacyStatusOf(*privacy_));
    if (r.eval) {
      v1::EvaluationStatus e;
      e.set_round(r.round);
      e.set_metric(r.eval->metric().name);
      e.set_personalized(r.eval->micro);
      e.set_clients(r.eval->clients);
      if (r.eval->global_micro >= 0) e.set_global(r.eval->global_micro);
      if (r.new_client_eval) e.set_new_clients(r.new_client_eval->micro);
      service_->SetEvaluation(e);
    }
    service_->RecordRoundSeconds(r.round_seconds);
    if (r.withheld) {
      LogEvent(LogLevel::kInfo, "round_complete",
               {{"round", absl::StrCat(r.round)},
                {"counts", "withheld (privacy)"},
                {"seconds", absl::StrCat(r.round_seconds)}});
      return;
    }
    LogEvent(LogLevel::kInfo, "round_complete",
             {{"round", absl::StrCat(r.round)},
              {"accepted", absl::StrCat(r.accepted)},
              {"rejected", absl::StrCat(r.rejected)},
              {"failed", absl::StrCat(r.failed)},
              {"train_loss", absl::StrCat(r.train_loss)},
              {"seconds", absl::StrCat(r.round_seconds)}});
  }

 private:
  CoordinatorService* service_;
  int64_t total_;
  const DpFedAvg* privacy_ = nullptr;
};

int Run(const config::ExperimentConfig& c) {
  Env* env = Env::Default();
  const std::string address = absl::GetFlag(FLAGS_listen);
  auto credentials = ServerCredentialsFromFlags(address);
  if (!credentials.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", std::string(credentials.status().message()).c_str());
    return 2;
  }
  auto tokens = ReadTokens(absl::GetFlag(FLAGS_client_tokens));
  if (!tokens.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", tokens.status().ToString().c_str());
    return 2;
  }
  for (int64_t id = 0; id < c.data().num_clients(); ++id) {
    if (!tokens->tokens.count(id)) {
      std::fprintf(stderr, "tailor coordinator: no token for client %lld of %d\n",
                   static_cast<long long>(id), c.data().num_clients());
      return 2;
    }
  }
  auto experiment = BuildExperiment(c, env, /*load_data=*/false);
  if (!experiment.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", experiment.status().ToString().c_str());
    return 2;
  }
  CoordinatorServiceOptions so;
  so.experiment = c.name();
  const ConfigFingerprint fingerprint = FingerprintOf(c);
  so.config_fingerprint = fingerprint.digest;
  so.config_sections = fingerprint.parts;
  so.withhold_participation = PrivacyEnabled(c) && !c.privacy().release_unprotected_metrics();
  if (const std::string cost = UnprotectedMetricsNotice(c); !cost.empty()) {
    LogEvent(LogLevel::kWarn, "privacy_unprotected_metrics", {{"msg", cost}});
  }
  so.client_tokens = tokens->tokens;
  so.revoked_clients = tokens->revoked;
  for (const auto& [id, token] : so.client_tokens) {
    if (token.size() < 16) {
      LogEvent(LogLevel::kWarn, "weak_token",
               {{"client", absl::StrCat(id)},
                {"msg", "shorter than 16 characters: use random tokens (openssl rand -hex 32)"}});
    }
  }
  so.session_idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_session_idle_timeout_s));
  so.require_certificate_identity = !absl::GetFlag(FLAGS_tls_ca).empty() &&
                                    absl::GetFlag(FLAGS_client_certificate_names_client);
  if (!env->CreateDirs(c.output_dir()).ok()) {
    std::fprintf(stderr, "tailor coordinator: cannot create %s\n", c.output_dir().c_str());
    return 1;
  }
  auto operator_token = OperatorToken(env, c.output_dir());
  if (!operator_token.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", operator_token.status().ToString().c_str());
    return 2;
  }
  so.operator_token = *operator_token;
  so.rate_limit_per_second = absl::GetFlag(FLAGS_rate_limit);
  so.rate_limit_burst = 3 * so.rate_limit_per_second;
  so.long_poll = absl::Seconds(absl::GetFlag(FLAGS_long_poll_s));
  if (absl::GetFlag(FLAGS_heartbeat_timeout_s) > 0) {
    so.heartbeat_timeout = absl::Seconds(absl::GetFlag(FLAGS_heartbeat_timeout_s));
  }
  const ParameterSet shared = experiment->algorithm->policy().Shared(*experiment->initial_model);
  // An encoded update is the shared parameters plus per-tensor framing and a digest.
  so.max_upload_bytes = static_cast<int64_t>(shared.TotalBytes()) + 64 * (shared.size() + 1) + 4096;
  if (!c.secure_aggregation().mode().empty()) {
    // A masked input is one 8-byte word per value (and the weight, loss and clip bits) in a
    // SecAggReply; key shares and unmasking replies are far smaller.
    so.max_upload_bytes = std::max<int64_t>(
        so.max_upload_bytes,
        8 * static_cast<int64_t>(SecAggInputLength(shared.TotalElements())) + 4096);
  }
  // Every client starts from this model; one without the pretrained base file fetches it.
  so.base_model = experiment->initial_model;
  CoordinatorService service(so);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, *credentials, &port);
  builder.RegisterService(&service);
  // Models stream in bounded chunks; this only bounds a single message.
  builder.SetMaxReceiveMessageSize(8 << 20);
  // Keepalive finds connections whose client vanished (server/keepalive.h).
  ApplyServerKeepalive(&builder,
                       {absl::Seconds(absl::GetFlag(FLAGS_keepalive_s)),
                        absl::Seconds(absl::GetFlag(FLAGS_keepalive_timeout_s))},
                       /*clients_ping_every=*/absl::Seconds(10));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "tailor coordinator: cannot listen on %s\n", address.c_str());
    return 1;
  }
  LogEvent(LogLevel::kInfo, "listening",
           {{"experiment", c.name()},
            {"address", address},
            {"clients", absl::StrCat(c.data().num_clients())},
            {"rounds", absl::StrCat(c.rounds())}});
  std::atomic<bool> healthy{true};
  std::unique_ptr<MetricsHttpServer> http;
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    auto started = MetricsHttpServer::Start(
        absl::GetFlag(FLAGS_metrics_listen), [&service] { return service.PrometheusText(); },
        [&healthy] { return healthy.load(); });
    if (!started.ok()) {
      std::fprintf(stderr, "tailor coordinator: %s\n", started.status().ToString().c_str());
      return 2;
    }
    http = *std::move(started);
    LogEvent(LogLevel::kInfo, "metrics_listening",
             {{"address", absl::GetFlag(FLAGS_metrics_listen)},
              {"port", absl::StrCat(http->port())}});
  }

  CoordinatorOptions co = CoordinatorOptionsFrom(c, *experiment);
  // A deployment keys its noise from the OS unless the config asks for reproducible noise.
  if (co.privacy && c.privacy().noise().empty()) co.privacy->reproducible_noise = false;
  co.transport = &service;
  co.env = env;
  co.round_timeout = absl::Seconds(absl::GetFlag(FLAGS_round_timeout_s));
  co.eval_timeout = co.round_timeout;
  CheckpointStoreOptions store_options;
  store_options.start_over = absl::GetFlag(FLAGS_start_over);
  store_options.keep_models = c.server().keep_models();
  auto checkpoints = CheckpointStore::Open(c.output_dir(), c.name(), env, store_options);
  if (!checkpoints.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", checkpoints.status().ToString().c_str());
    return 1;
  }
  co.checkpoints = checkpoints->get();
  co.run_name = c.name();
  ProgressPrinter progress(stderr, c.name(), c.rounds(), experiment->algorithm->has_global_model());
  // metrics.jsonl is rebuilt from the committed rounds, so after a crash it never holds a round
  // twice or one that was not committed.
  MetricsJsonlWriter metrics(c.output_dir() + "/metrics.jsonl", c.name(), env);
  auto stored_lines = (*checkpoints)->MetricsLines();
  if (!stored_lines.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", stored_lines.status().ToString().c_str());
    return 1;
  }
  for (const std::string& line : *stored_lines) {
    if (!env->AppendToFile(c.output_dir() + "/metrics.jsonl", line + "\n").ok()) return 1;
  }
  StatusUpdater status(&service, c.rounds());
  CrashAfterRound crash(absl::GetFlag(FLAGS_testing_crash_after_round));
  co.observers = {&progress, &metrics, &status, &crash};
  auto coordinator = Coordinator::Create(std::move(co));
  if (coordinator.ok() && (*coordinator)->resumed()) {
    LogEvent(LogLevel::kInfo, "resumed",
             {{"after_round", absl::StrCat((*coordinator)->completed_rounds())},
              {"state", c.output_dir() + "/coordinator.db"}});
    service.SetProgress((*coordinator)->completed_rounds(), c.rounds());
  }
  if (coordinator.ok() && (*coordinator)->privacy() != nullptr) {
    // Reported from the start: a restarted coordinator shows the epsilon it had committed.
    status.set_privacy((*coordinator)->privacy());
    service.SetPrivacy(PrivacyStatusOf(*(*coordinator)->privacy()));
  }
  absl::Status run = coordinator.ok() ? (*coordinator)->RunAll() : coordinator.status();
  if (run.ok()) {
    run = env->WriteFileAtomically(c.output_dir() + "/final_shared.tlps",
                                   SerializeParameterSet(*(*coordinator)->global_shared()));
  }
  // Every client still around learns the experiment is over before the server goes away (a
  // client that misses it ends on its own once the coordinator is gone: DaemonOptions).
  if (!service.AwaitFinishDelivered(absl::Now() + std::min(2 * so.long_poll, absl::Seconds(10)))) {
    LogEvent(LogLevel::kWarn, "finish_not_delivered",
             {{"msg", "some clients were not told the experiment is over; they leave on their own"}});
  }
  healthy = false;
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  LogEvent(run.ok() ? LogLevel::kInfo : LogLevel::kError, run.ok() ? "finished" : "failed",
           {{"completed_rounds", absl::StrCat(coordinator.ok() ? (*coordinator)->completed_rounds() : 0)},
            {"msg", std::string(run.message())}});
  if (!run.ok()) {
    std::fprintf(stderr, "tailor coordinator: %s\n", run.ToString().c_str());
    return 1;
  }
  if (!(*coordinator)->stop_reason().empty()) {
    std::printf("%s\n", (*coordinator)->stop_reason().c_str());
  }
  std::printf("final model: %s/final_shared.tlps\nmetrics: %s/metrics.jsonl\n",
              c.output_dir().c_str(), c.output_dir().c_str());
  return 0;
}

}  // namespace

int CoordinatorCommand() {
  TuneMallocForServing();  // before gRPC starts its threads
  auto configs = LoadConfigsFromFlags("coordinator");
  if (!configs.ok()) return 2;
  if (configs->size() != 1) {
    std::fprintf(stderr, "tailor coordinator: exactly one --config\n");
    return 2;
  }
  return Run(configs->front());
}

}  // namespace tailor
