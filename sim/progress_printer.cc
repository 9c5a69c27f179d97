#include "sim/progress_printer.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/str_format.h"

namespace tailor {

std::string FormatPercent(double fraction) { return absl::StrFormat("%.2f%%", 100.0 * fraction); }

std::string FormatDuration(double seconds) {
  if (seconds < 60) return absl::StrFormat("%.1fs", seconds);
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

ProgressPrinter::ProgressPrinter(std::FILE* out, std::string run_name, int64_t total_rounds,
                                 bool has_global_model)
    : out_(out),
      run_name_(std::move(run_name)),
      total_rounds_(total_rounds),
      has_global_model_(has_global_model),
      interactive_(isatty(fileno(out)) != 0) {}

void ProgressPrinter::OnClientProgress(int64_t round, int64_t done, int64_t total) {
  if (!interactive_) return;
  absl::MutexLock lock(&mu_);
  absl::FPrintF(out_, "\r[%s] round %d/%d  clients %d/%d   ", run_name_, round, total_rounds_,
                done, total);
  std::fflush(out_);
}

void ProgressPrinter::OnRoundComplete(const RoundRecord& r) {
  absl::MutexLock lock(&mu_);
  std::string acc = "-";
  if (r.eval) {
    const TaskMetric& m = r.eval->metric();
    acc = absl::StrFormat("pers %s %s", m.label, m.Format(r.eval->micro));
    if (has_global_model_) {
      acc += " (= global)";
    } else if (r.eval->global_micro >= 0) {
      acc += absl::StrFormat(" global %s", m.Format(r.eval->global_micro));
    }
  }
  if (r.new_client_eval) {
    acc += absl::StrFormat(" | new clients %s",
                           r.new_client_eval->metric().Format(r.new_client_eval->micro));
  }
  if (r.round == 0) {  // eval.at_start: the initial model, before any training
    absl::FPrintF(out_, "%s[%s] initial model | %s | %.1fs\n", interactive_ ? "\r" : "",
                  run_name_, acc, r.round_seconds);
    std::fflush(out_);
    return;
  }
  // Rounds run by this process: after a coordinator restart, elapsed time starts again while
  // round numbers continue.
  ++rounds_seen_;
  const double per_round = r.elapsed_seconds / static_cast<double>(rounds_seen_);
  const double eta = per_round * static_cast<double>(total_rounds_ - r.round);
  std::string privacy;
  if (r.privacy) {
    privacy = absl::StrFormat(" | eps %.3f (delta %g, clip %.3g)", r.privacy->epsilon,
                              r.privacy->delta, r.privacy->clip_norm);
  }
  if (r.record_epsilon_max >= 0) {
    privacy += absl::StrFormat(" | record eps <= %.3f", r.record_epsilon_max);
  }
  if (const auto& s = r.secure_aggregation) {
    privacy += absl::StrFormat(" | secagg %d/%d summed, %d dropouts recovered", s->masked_inputs,
                               s->advertised, s->recovered_dropouts);
  }
  // A private run that releases only what ε covers has no counts, loss or accuracy to show.
  const std::string training =
      r.withheld ? "counts and loss withheld (privacy)"
                 : absl::StrFormat("clients %d/%d | train loss %.4f", r.accepted, r.cohort_size,
                                   r.train_loss);
  absl::FPrintF(out_, "%s[%s] round %d/%d | %s | %s%s | %.1fs/round | elapsed %s | eta %s\n",
                interactive_ ? "\r" : "", run_name_, r.round, total_rounds_, training, acc,
                privacy, r.round_seconds, FormatDuration(r.elapsed_seconds),
                FormatDuration(eta));
  std::fflush(out_);
}

}  // namespace tailor
