// Evaluation summaries over clients' local test sets, and the sink that collects reports.
#ifndef TAILOR_SERVER_EVALUATION_H_
#define TAILOR_SERVER_EVALUATION_H_

#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/transport.h"

namespace tailor {

struct EvalSummary {
  int64_t clients = 0;
  int64_t failed = 0;
  // Σ correct / Σ test samples over all clients (the reference benchmark's accuracy).
  double micro_accuracy = 0;
  // Mean of per-client accuracies.
  double macro_accuracy = 0;
  // Population standard deviation of per-client accuracies.
  double accuracy_std = 0;
  // Mean accuracy of the worst ceil(10%) of clients.
  double worst10_accuracy = 0;
  // Σ loss / Σ samples.
  double mean_loss = 0;
  int64_t test_samples = 0;
  // client id -> accuracy, for reports of the distribution.
  std::map<int64_t, double> per_client;
  // The global model alone on the same sets (micro and macro), when every reporting client
  // evaluated it; -1 otherwise (e.g. a personal head: there is no global model to evaluate).
  double global_micro_accuracy = -1;
  double global_macro_accuracy = -1;
};

// Clients with an empty test set are left out of the per-client statistics.
EvalSummary SummarizeEval(const std::map<int64_t, EvalStats>& per_client, int64_t failed);

// Collects EvalReports from any thread; WaitUntil() returns when `expected` were reported.
class EvalCollector : public EvalSink {
 public:
  explicit EvalCollector(int64_t expected) : expected_(expected) {}
  void OnEvalReport(const EvalReport& report) override;
  void OnEvalFailure(int64_t client_id, const absl::Status& why) override;
  // Returns when `expected` clients reported, or at `deadline` (absl::InfiniteFuture() to wait
  // for all); missing clients count as failed.
  EvalSummary WaitUntil(absl::Time deadline);

 private:
  const int64_t expected_;
  absl::Mutex mu_;
  std::map<int64_t, EvalStats> stats_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, EvalStats> global_ ABSL_GUARDED_BY(mu_);
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_EVALUATION_H_
