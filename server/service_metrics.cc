// CoordinatorService's Prometheus text (format 0.0.4).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/grpc_status.h"
#include "server/grpc_service.h"

namespace tailor {

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
  // A metric with one unlabelled sample.
  auto one = [&](const char* name, const char* type, const char* help, double value) {
    metric(name, type, help, sample(name, value));
  };
  // Clients heard from (any RPC, including a parked long poll) within two poll periods.
  const absl::Time now = Now();
  int64_t connected = 0;
  for (const auto& [id, slot] : clients_) {
    if (slot.waiter != nullptr || now - slot.last_seen < 2 * options_.long_poll) ++connected;
  }
  metric("tailor_experiment_info", "gauge", "The experiment this coordinator runs.",
         sample("tailor_experiment_info", 1,
                absl::StrCat("experiment=\"", options_.experiment, "\"")));
  one("tailor_rounds_completed", "gauge", "Rounds completed and committed.",
      static_cast<double>(completed_rounds_));
  one("tailor_rounds_configured", "gauge", "Rounds the experiment runs.",
      static_cast<double>(total_rounds_));
  one("tailor_current_round", "gauge", "The round whose training was last dispatched.",
      static_cast<double>(train_round_));
  one("tailor_clients_registered", "gauge", "Clients allowed to join.",
      static_cast<double>(sessions_.client_tokens().size()));
  one("tailor_clients_connected", "gauge", "Clients heard from within two long-poll periods.",
      static_cast<double>(connected));
  one("tailor_rate_limited_total", "counter", "Requests refused by the per-client rate limit.",
      static_cast<double>(stats_.rate_limited));
  one("tailor_joins_total", "counter", "Successful joins.", static_cast<double>(stats_.joins));
  one("tailor_joins_refused_total", "counter",
      "Joins refused (unknown client, wrong token, revoked, wrong certificate).",
      static_cast<double>(stats_.joins_refused));
  one("tailor_joins_throttled_total", "counter",
      "Joins refused unchecked because their peer host failed too many.",
      static_cast<double>(stats_.joins_throttled));
  one("tailor_sessions_live", "gauge", "Clients with a live session (one per client).",
      static_cast<double>(sessions_.live_sessions()));
  one("tailor_sessions_expired_total", "counter", "Sessions expired unused.",
      static_cast<double>(stats_.sessions_expired));
  one("tailor_log_lines_suppressed_total", "counter",
      "Repetitive log lines left out by the log sampler.",
      static_cast<double>(log_.suppressed_total()));
  // Under DP that releases only what ε covers, how many took part is not published: these
  // counters change by exactly a round's participants.
  if (!options_.withhold_participation) {
    one("tailor_clients_lost_total", "counter",
        "Clients holding a training task that went silent past the heartbeat timeout.",
        static_cast<double>(stats_.clients_lost));
    one("tailor_model_bytes_sent_total", "counter", "Model bytes streamed to clients.",
        static_cast<double>(model_bytes_sent_.load()));
    one("tailor_upload_bytes_accepted_total", "counter", "Bytes of accepted updates.",
        static_cast<double>(stats_.upload_bytes_accepted));
    one("tailor_uploads_accepted_total", "counter", "Updates accepted into a round.",
        static_cast<double>(stats_.uploads_accepted));
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
  one("tailor_last_round_duration_seconds", "gauge", "Wall time of the last completed round.",
      stats_.last_round_seconds);
  if (evaluation_) {
    // One gauge per model evaluated, labelled by the task's metric.
    const v1::EvaluationStatus& e = *evaluation_;
    std::string samples =
        sample("tailor_evaluation", e.personalized(),
               absl::StrCat("metric=\"", e.metric(), "\",model=\"personalized\""));
    if (e.has_global()) {
      samples += sample("tailor_evaluation", e.global(),
                        absl::StrCat("metric=\"", e.metric(), "\",model=\"global\""));
    }
    if (e.has_new_clients()) {
      samples += sample("tailor_evaluation", e.new_clients(),
                        absl::StrCat("metric=\"", e.metric(), "\",model=\"new_clients\""));
    }
    metric("tailor_evaluation", "gauge",
           "The last evaluation on clients' test sets, in the task's metric (accuracy as a "
           "fraction, or bits per byte).",
           samples);
    one("tailor_evaluation_round", "gauge", "The round of tailor_evaluation.",
        static_cast<double>(e.round()));
  }
  if (privacy_) {
    one("tailor_privacy_epsilon", "gauge",
        "Epsilon spent by the committed rounds (client-level DP, at tailor_privacy_delta).",
        privacy_->epsilon());
    one("tailor_privacy_delta", "gauge", "The delta of tailor_privacy_epsilon.", privacy_->delta());
    one("tailor_privacy_epsilon_budget", "gauge", "The epsilon that stops training (0: none).",
        privacy_->epsilon_budget());
    one("tailor_privacy_clip_norm", "gauge", "The clip norm of the next round.",
        privacy_->clip_norm());
  }
  return out;
}

}  // namespace tailor
