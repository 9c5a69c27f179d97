// `tailor client`: a client daemon for one experiment.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/client_runtime.h"
#include "client/daemon.h"
#include "core/malloc_tuning.h"
#include "client/personal_store.h"
#include "core/config_fingerprint.h"
#include "core/config_loader.h"
#include "grpcpp/create_channel.h"
#include "server/keepalive.h"
#include "sim/experiment.h"
#include "tools/commands.h"
#include "tools/tls_flags.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:50051", "The coordinator's address.");
ABSL_DECLARE_FLAG(int, keepalive_s);
ABSL_DECLARE_FLAG(int, keepalive_timeout_s);
ABSL_FLAG(int64_t, client_id, -1, "This client's id in the experiment.");
ABSL_FLAG(std::string, token_file, "", "File holding this client's token.");
ABSL_FLAG(int64_t, testing_stall_upload_after_bytes, -1,
          "Testing only: stop for good once this many bytes of an upload are sent (fault tests "
          "kill the client there).");
ABSL_FLAG(int32_t, testing_stall_after_secagg_phase, 0,
          "Testing only: stall for good after this client's secure-aggregation reply of this "
          "phase (1 shares, 2 masked input, 3 unmasking) was accepted, so a test can kill it "
          "mid-protocol. 0: off");
ABSL_FLAG(int64_t, testing_stall_upload_in_round, 0,
          "Testing only: with --testing_stall_upload_after_bytes, stall in this round's upload "
          "only (0: the first upload).");
ABSL_FLAG(int, heartbeat_s, 10,
          "Seconds between heartbeats while working on a task (keep it well under the "
          "coordinator's --heartbeat_timeout_s).");
ABSL_FLAG(std::string, state_dir, "",
          "Directory for this client's personal parameters (kept across restarts).");

namespace tailor {

int ClientCommand() {
  TuneMallocForServing();  // before gRPC starts its threads
  // Between retries nothing polls the channel, so the result of a reconnection attempt is seen
  // only by gRPC's backup poller, every 5 s by default: a restarted coordinator waited up to
  // 10 s for its clients. Read once when gRPC initializes, hence set before any gRPC object.
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", /*overwrite=*/0);
  auto configs = LoadConfigsFromFlags("client");
  if (!configs.ok()) return 2;
  if (configs->size() != 1) {
    std::fprintf(stderr, "tailor client: exactly one --config\n");
    return 2;
  }
  const config::ExperimentConfig& c = configs->front();
  const int64_t id = absl::GetFlag(FLAGS_client_id);
  if (id < 0 || id >= c.data().num_clients()) {
    std::fprintf(stderr, "tailor client: --client_id must be in [0, %d)\n", c.data().num_clients());
    return 2;
  }
  if (absl::GetFlag(FLAGS_state_dir).empty()) {
    std::fprintf(stderr, "tailor client: --state_dir is required\n");
    return 2;
  }
  auto token = Env::Default()->ReadFile(absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) {
    std::fprintf(stderr, "tailor client: cannot read --token_file: %s\n",
                 token.status().ToString().c_str());
    return 2;
  }
  // The pretrained base need not be on the device: the coordinator serves the model every
  // client starts from, and the daemon fetches it once into STATE_DIR/NAME/models.
  config::ExperimentConfig local = c;
  if (const std::string& base = c.model().initial_model();
      !base.empty() && !Env::Default()->FileExists(base)) {
    std::fprintf(stderr,
                 "client %lld: model.initial_model %s is not on this device; the coordinator's "
                 "base model will be used\n",
                 static_cast<long long>(id), base.c_str());
    local.mutable_model()->clear_initial_model();
  }
  auto experiment = BuildExperiment(local, Env::Default(), /*load_data=*/true);
  if (!experiment.ok()) {
    std::fprintf(stderr, "tailor client: %s\n", experiment.status().ToString().c_str());
    return 2;
  }
  DirectoryPersonalStore store(absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/", c.name()),
                               Env::Default());
  const std::string base_model_dir =
      absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/", c.name(), "/models");
  // A daemon killed mid-write left a temporary file (its state file is intact).
  absl::Status cleaned = store.RemoveTemporaryFiles();
  if (cleaned.ok()) cleaned = RemoveAtomicWriteLeftovers(Env::Default(), base_model_dir);
  if (!cleaned.ok()) {
    std::fprintf(stderr, "tailor client %lld: %s\n", static_cast<long long>(id),
                 cleaned.ToString().c_str());
    return 1;
  }
  // A restarted daemon picks up its personal parameters where it left them; a corrupted state
  // file is reported, never silently replaced by a fresh head.
  auto stored = store.Load(id, PersonalStore::kNewest);
  if (!stored.ok()) {
    std::fprintf(stderr, "tailor client %lld: %s\n", static_cast<long long>(id),
                 stored.status().ToString().c_str());
    return 1;
  }
  if (stored->has_value()) {
    const ClientRuntime::DeviceState state = ClientRuntime::SplitStoredState(**stored);
    std::fprintf(stderr,
                 "client %lld: resuming with stored personal parameters (%zu tensors)%s\n",
                 static_cast<long long>(id), state.personal.size(),
                 state.residual.empty() ? "" : " and upload error-feedback memory");
  }
  absl::StatusOr<ModelSpec> spec = BuildModelSpec(ModelOptionsOf(c.model()));
  auto trainer = spec.ok() ? LocalTrainer::Create(*spec) : spec.status();
  if (!trainer.ok()) {
    std::fprintf(stderr, "tailor client: %s\n", trainer.status().ToString().c_str());
    return 1;
  }
  SetTorchThreads(c.simulation().intra_op_threads() > 0 ? c.simulation().intra_op_threads() : 1);
  auto credentials = ChannelCredentialsFromFlags(absl::GetFlag(FLAGS_coordinator));
  if (!credentials.ok()) {
    std::fprintf(stderr, "tailor client: %s\n", std::string(credentials.status().message()).c_str());
    return 2;
  }
  DaemonOptions options;
  options.heartbeat_interval = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_heartbeat_s)));
  // gRPC's own reconnect backoff grows to minutes while the coordinator is down; capped at 1 s
  // so a restarted coordinator has its clients back about a second after it listens. (Not
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: that is the time a connection attempt may take, and a
  // TLS handshake on a busy machine needs more than a short one.)
  grpc::ChannelArguments channel_args;
  channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Keepalive finds a half-open connection to a coordinator that vanished without a FIN
  // (server/keepalive.h); the coordinator accepts pings this often.
  ApplyClientKeepalive(&channel_args,
                       {absl::Seconds(std::max(10, absl::GetFlag(FLAGS_keepalive_s))),
                        absl::Seconds(absl::GetFlag(FLAGS_keepalive_timeout_s))});
  options.channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_coordinator), *credentials,
                                              channel_args);
  options.experiment = c.name();
  const ConfigFingerprint fingerprint = FingerprintOf(c);
  options.config_fingerprint = fingerprint.digest;
  options.config_sections = fingerprint.parts;
  options.coordinator_address = absl::GetFlag(FLAGS_coordinator);
  options.token = std::string(absl::StripAsciiWhitespace(*token));
  options.context = ClientContextFor(*experiment, id, &store);
  options.base_model_dir = base_model_dir;
  options.jitter_seed = c.seed();
  if (const int64_t stall = absl::GetFlag(FLAGS_testing_stall_upload_after_bytes); stall >= 0) {
    const int64_t stall_round = absl::GetFlag(FLAGS_testing_stall_upload_in_round);
    options.on_upload_progress = [stall, stall_round, id](int64_t round, uint64_t sent) {
      if (static_cast<int64_t>(sent) < stall || (stall_round > 0 && round != stall_round)) return;
      std::fprintf(stderr, "client %lld: stalled mid-upload after %llu bytes (testing)\n",
                   static_cast<long long>(id), static_cast<unsigned long long>(sent));
      std::fflush(stderr);
      while (true) absl::SleepFor(absl::Hours(1));
    };
  }
  if (const int stall_phase = absl::GetFlag(FLAGS_testing_stall_after_secagg_phase);
      stall_phase > 0) {
    options.on_secagg_reply = [stall_phase, id](int64_t round, int phase) {
      if (phase != stall_phase) return;
      std::fprintf(stderr, "client %lld: stalled after secure-aggregation phase %d of round %lld (testing)\n",
                   static_cast<long long>(id), phase, static_cast<long long>(round));
      std::fflush(stderr);
      while (true) absl::SleepFor(absl::Hours(1));
    };
  }
  absl::Status s = RunClientDaemon(options, **trainer);
  if (!s.ok()) {
    std::fprintf(stderr, "tailor client %lld: %s\n", static_cast<long long>(id),
                 s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace tailor
