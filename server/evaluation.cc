#include "server/evaluation.h"

#include <algorithm>
#include <cmath>

namespace tailor {

EvalSummary SummarizeEval(const std::map<int64_t, EvalStats>& per_client, int64_t failed) {
  EvalSummary s;
  s.failed = failed;
  int64_t correct = 0;
  double loss = 0;
  std::vector<double> accs;
  for (const auto& [id, st] : per_client) {
    correct += st.correct;
    s.test_samples += st.count;
    loss += st.loss_sum;
    if (st.count > 0) {
      const double acc = static_cast<double>(st.correct) / st.count;
      accs.push_back(acc);
      s.per_client[id] = acc;
    }
  }
  s.clients = static_cast<int64_t>(accs.size());
  if (s.test_samples > 0) {
    s.micro_accuracy = static_cast<double>(correct) / s.test_samples;
    s.mean_loss = loss / s.test_samples;
  }
  if (!accs.empty()) {
    double sum = 0;
    for (double a : accs) sum += a;
    s.macro_accuracy = sum / accs.size();
    double var = 0;
    for (double a : accs) var += (a - s.macro_accuracy) * (a - s.macro_accuracy);
    s.accuracy_std = std::sqrt(var / accs.size());
    std::sort(accs.begin(), accs.end());
    const size_t worst = std::max<size_t>(1, (accs.size() + 9) / 10);
    double wsum = 0;
    for (size_t i = 0; i < worst; ++i) wsum += accs[i];
    s.worst10_accuracy = wsum / worst;
  }
  return s;
}

void EvalCollector::OnEvalReport(const EvalReport& report) {
  absl::MutexLock lock(&mu_);
  stats_[report.client_id] = report.personalized;
  if (report.global) global_[report.client_id] = *report.global;
}

void EvalCollector::OnEvalFailure(int64_t client_id, const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  ++failed_;
}

EvalSummary EvalCollector::WaitUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  const bool all = mu_.AwaitWithDeadline(
      absl::Condition(
          +[](EvalCollector* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return static_cast<int64_t>(c->stats_.size()) + c->failed_ >= c->expected_;
          },
          this),
      deadline);
  const int64_t missing =
      all ? 0 : expected_ - static_cast<int64_t>(stats_.size()) - failed_;
  EvalSummary summary = SummarizeEval(stats_, failed_ + missing);
  if (!global_.empty() && global_.size() == stats_.size()) {
    const EvalSummary global = SummarizeEval(global_, 0);
    summary.global_micro_accuracy = global.micro_accuracy;
    summary.global_macro_accuracy = global.macro_accuracy;
  }
  return summary;
}

}  // namespace tailor
