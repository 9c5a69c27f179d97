// Evaluation summaries over clients' local test sets, and the sink that collects reports.
#ifndef TAILOR_SERVER_EVALUATION_H_
#define TAILOR_SERVER_EVALUATION_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/task.h"
#include "server/transport.h"

namespace tailor {

// One evaluation over clients' local test sets, in the task's metric (core/task.h): accuracy
// for images, bits per byte for language models.
struct EvalSummary {
  TaskKind task = TaskKind::kImageClassification;
  const TaskMetric& metric() const { return MetricOf(task); }
  int64_t clients = 0;
  int64_t failed = 0;
  // The metric of the summed counts over all clients (Σ correct / Σ test samples: the
  // reference benchmark's accuracy; Σ nats / Σ tokens: the byte-weighted bits per byte).
  double micro = 0;
  // Mean of the per-client metric (each client counts once).
  double macro = 0;
  // Population standard deviation of the per-client metric.
  double spread = 0;
  // Mean metric of the worst ceil(10%) of clients (lowest accuracy, highest bits per byte).
  double worst10 = 0;
  // Σ loss / Σ samples.
  double mean_loss = 0;
  int64_t test_samples = 0;
  // client id -> metric, for reports of the distribution.
  std::map<int64_t, double> per_client;
  // The global model alone on the same sets (micro and macro), when every reporting client
  // evaluated it; -1 otherwise (e.g. a personal head: there is no global model to evaluate).
  double global_micro = -1;
  double global_macro = -1;
  // The same over each named test view (EvalReport::personalized_views): its micro metric, the
  // global model's when every client that reported the view evaluated it (-1 otherwise), and
  // how many samples and clients it covers.
  struct View {
    double micro = 0;
    double global_micro = -1;
    int64_t test_samples = 0;
    int64_t clients = 0;
    // client id -> the personalized metric on the view.
    std::map<int64_t, double> per_client;
  };
  std::map<std::string, View> views;
};

// Clients with an empty test set are left out of the per-client statistics.
EvalSummary SummarizeEval(const std::map<int64_t, EvalStats>& per_client, int64_t failed,
                          TaskKind task = TaskKind::kImageClassification);

// The most test samples one client may report: a larger count is not a test set but an attempt
// to outweigh every other client in the micro average.
inline constexpr int64_t kMaxEvalSamplesPerClient = int64_t{1} << 31;
inline constexpr size_t kMaxEvalViews = 16;

// Checks one report's numbers: counts in [0, kMaxEvalSamplesPerClient], correct <= count, a
// finite loss sum >= 0, and the global model's counts (if any) on the same test set, so the
// same count; at most kMaxEvalViews views, each named by 1-64 of [a-z0-9_], a subset of the
// test set (count <= its count), with the global model's views (if any) on the same ones.
// INVALID_ARGUMENT naming what is wrong.
absl::Status CheckEvalReport(const EvalReport& report);

// Collects the EvalReports of one evaluation from any thread, validating each in the round path
// shared by every transport:
//   - OK: accepted; also an exact repeat of an accepted report (an idempotent retry);
//   - PERMISSION_DENIED: the client was not asked in this evaluation;
//   - ALREADY_EXISTS: a different report from a client already heard (the first one counts);
//   - ABORTED: the client was already counted as failed, or the evaluation is over;
//   - INVALID_ARGUMENT: impossible numbers (CheckEvalReport); the client then counts as failed.
// WaitUntil() returns when every asked client is accounted for.
class EvalCollector : public EvalSink {
 public:
  explicit EvalCollector(std::vector<int64_t> asked,
                         TaskKind task = TaskKind::kImageClassification);
  absl::Status OnEvalReport(const EvalReport& report) override;
  void OnEvalFailure(int64_t client_id, const absl::Status& why) override;
  bool open() const override;
  // Returns when every asked client reported or failed, or at `deadline`
  // (absl::InfiniteFuture() to wait for all); missing clients count as failed. Later reports
  // are refused.
  EvalSummary WaitUntil(absl::Time deadline);

 private:
  const std::set<int64_t> asked_;
  const TaskKind task_;
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int64_t, EvalReport> reports_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> failed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailor

#endif  // TAILOR_SERVER_EVALUATION_H_
