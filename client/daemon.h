// The client daemon: joins a coordinator, long-polls for tasks, fetches models by content
// address (cached), runs the same ClientRuntime a virtual client runs, and uploads its shared
// update in chunks. Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) are
// retried with exponential backoff and jitter, capped low so a restarted coordinator has its
// clients back within about a second; a lost session (the coordinator restarted) re-joins. An
// upload or report the coordinator refuses (the round moved on, bad content) is logged and
// dropped: the daemon goes back to polling, it does not exit; so is a task that fails on the
// device (diverged training), which the next poll reports. While it cannot reach the
// coordinator it says so in its log, with what it is waiting for. Before its first task it
// settles the model it starts from: the coordinator's base model (JoinResponse), fetched once
// and cached by content address when its own differs (a device without the pretrained file).
#ifndef TAILOR_CLIENT_DAEMON_H_
#define TAILOR_CLIENT_DAEMON_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client_runtime.h"
#include "grpcpp/channel.h"

namespace tailor {

struct DaemonOptions {
  std::shared_ptr<grpc::Channel> channel;
  std::string experiment;
  // The config's fingerprint and its parts, checked at Join (ConfigFingerprint).
  std::string config_fingerprint;
  std::map<std::string, std::string> config_sections;
  std::string token;
  // This client's identity and local state; `context.client_id` is sent on Join.
  ClientContext context;
  // Deadline of unary calls and of each streaming call.
  absl::Duration rpc_timeout = absl::Seconds(60);
  // Longest wait of a long poll (the coordinator answers sooner).
  absl::Duration poll_timeout = absl::Seconds(40);
  // Backoff between retries: initial, cap; each retry doubles with ±50% jitter. The cap is low:
  // a waiting client costs the coordinator one refused connection per second at most.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(1);
  // Give up after this long without reaching the coordinator.
  absl::Duration give_up_after = absl::Minutes(10);
  // After answering the evaluation of the experiment's last round, end (OK) once the
  // coordinator has been unreachable this long: it finished and shut down while this client
  // was not polling.
  absl::Duration linger_after_last_round = absl::Seconds(10);
  // For log lines: where the coordinator is.
  std::string coordinator_address;
  // Where the base model the coordinator sends (JoinResponse.base_model_sha256) is kept by its
  // address, so it is fetched once per device (the state directory). Empty: not kept.
  std::string base_model_dir;
  // Upload chunk size.
  size_t chunk_bytes = 1 << 20;
  // While working on a training task (fetch, train, upload) the daemon tells the coordinator it
  // is alive this often; keep it well under the coordinator's --heartbeat_timeout_s.
  absl::Duration heartbeat_interval = absl::Seconds(10);
  uint64_t jitter_seed = 0;
  // Fault injection for tests: called after each upload chunk is written with the round and the
  // bytes sent so far (a test stalls here to be killed mid-upload). Null in production.
  std::function<void(int64_t round, uint64_t bytes_sent)> on_upload_progress;
  // Fault injection for tests: called once a secure-aggregation reply of `phase` (1 shares,
  // 2 masked input, 3 unmasking) was accepted (a test stalls here to be killed mid-protocol).
  std::function<void(int64_t round, int phase)> on_secagg_reply;
};

// Runs until the coordinator says the experiment is finished (OK), or a permanent error.
absl::Status RunClientDaemon(const DaemonOptions& options, LocalTrainer& trainer);

}  // namespace tailor

#endif  // TAILOR_CLIENT_DAEMON_H_
