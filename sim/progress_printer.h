// A live progress line per round: round, clients done, train loss, accuracy, timing.
#ifndef TAILOR_SIM_PROGRESS_PRINTER_H_
#define TAILOR_SIM_PROGRESS_PRINTER_H_

#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/coordinator.h"

namespace tailor {

class ProgressPrinter : public RoundObserver {
 public:
  // In-round counters are redrawn in place only when `out` is a terminal.
  ProgressPrinter(std::FILE* out, std::string run_name, int64_t total_rounds,
                  bool has_global_model);
  void OnClientProgress(int64_t round, int64_t done, int64_t total) override;
  void OnRoundComplete(const RoundRecord& record) override;

 private:
  std::FILE* out_;
  std::string run_name_;
  int64_t total_rounds_;
  bool has_global_model_;
  bool interactive_;
  absl::Mutex mu_;
  int64_t rounds_seen_ ABSL_GUARDED_BY(mu_) = 0;
};

// "93.41%" or "—".
std::string FormatPercent(double fraction);
// "1h02m", "3m05s", "12.3s".
std::string FormatDuration(double seconds);

}  // namespace tailor

#endif  // TAILOR_SIM_PROGRESS_PRINTER_H_
