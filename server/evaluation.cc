#include "server/evaluation.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {

EvalSummary SummarizeEval(const std::map<int64_t, EvalStats>& per_client, int64_t failed,
                          TaskKind task) {
  EvalSummary s;
  s.task = task;
  s.failed = failed;
  const TaskMetric& metric = s.metric();
  int64_t correct = 0;
  double loss = 0;
  std::vector<double> values;
  for (const auto& [id, st] : per_client) {
    correct += st.correct;
    s.test_samples += st.count;
    loss += st.loss_sum;
    if (st.count > 0) {
      const double v = metric.Of(st.correct, st.count, st.loss_sum);
      values.push_back(v);
      s.per_client[id] = v;
    }
  }
  s.clients = static_cast<int64_t>(values.size());
  if (s.test_samples > 0) {
    s.micro = metric.Of(correct, s.test_samples, loss);
    s.mean_loss = loss / s.test_samples;
  }
  if (!values.empty()) {
    double sum = 0;
    for (double v : values) sum += v;
    s.macro = sum / values.size();
    double var = 0;
    for (double v : values) var += (v - s.macro) * (v - s.macro);
    s.spread = std::sqrt(var / values.size());
    // Worst first.
    std::sort(values.begin(), values.end(),
              [&metric](double a, double b) { return metric.Better(b, a); });
    const size_t worst = std::max<size_t>(1, (values.size() + 9) / 10);
    double wsum = 0;
    for (size_t i = 0; i < worst; ++i) wsum += values[i];
    s.worst10 = wsum / worst;
  }
  return s;
}

namespace {

absl::Status CheckCounts(const EvalStats& stats, const char* which) {
  if (stats.count < 0 || stats.count > kMaxEvalSamplesPerClient) {
    return absl::InvalidArgumentError(absl::StrCat(which, " test samples ", stats.count,
                                                   " outside [0, ", kMaxEvalSamplesPerClient,
                                                   "]"));
  }
  if (stats.correct < 0 || stats.correct > stats.count) {
    return absl::InvalidArgumentError(absl::StrCat(which, " correct ", stats.correct,
                                                   " outside [0, count = ", stats.count, "]"));
  }
  if (!std::isfinite(stats.loss_sum) || stats.loss_sum < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(which, " loss sum ", stats.loss_sum, " is not a finite number >= 0"));
  }
  return absl::OkStatus();
}

bool SameStats(const EvalStats& a, const EvalStats& b) {
  return a.correct == b.correct && a.count == b.count && a.loss_sum == b.loss_sum;
}

bool SameViews(const std::map<std::string, EvalStats>& a,
               const std::map<std::string, EvalStats>& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    if (i->first != j->first || !SameStats(i->second, j->second)) return false;
  }
  return true;
}

bool SameReport(const EvalReport& a, const EvalReport& b) {
  return SameStats(a.personalized, b.personalized) && a.global.has_value() == b.global.has_value() &&
         (!a.global || SameStats(*a.global, *b.global)) &&
         SameViews(a.personalized_views, b.personalized_views) &&
         SameViews(a.global_views, b.global_views);
}

absl::Status CheckViews(const EvalReport& report) {
  if (report.personalized_views.size() > kMaxEvalViews) {
    return absl::InvalidArgumentError(absl::StrCat(report.personalized_views.size(),
                                                   " test views, more than ", kMaxEvalViews));
  }
  for (const auto& [name, stats] : report.personalized_views) {
    if (name.empty() || name.size() > 64 ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("test view name '", name.substr(0, 64), "' is not 1-64 of [a-z0-9_]"));
    }
    const std::string which = absl::StrCat("view '", name, "'");
    TAILOR_RETURN_IF_ERROR(CheckCounts(stats, which.c_str()));
    if (stats.count > report.personalized.count) {
      return absl::InvalidArgumentError(absl::StrCat(which, " has ", stats.count,
                                                     " samples, more than the test set's ",
                                                     report.personalized.count));
    }
  }
  if (report.global_views.empty()) return absl::OkStatus();
  if (!report.global) {
    return absl::InvalidArgumentError("test views of a global model that was not evaluated");
  }
  // Every global view is one of the personalized model's; not every personalized one has a
  // global twin (a new client's few-shot points are its own model's only).
  for (const auto& [name, stats] : report.global_views) {
    auto mine = report.personalized_views.find(name);
    if (mine == report.personalized_views.end() || mine->second.count != stats.count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the global model's view '", name, "' is not the personalized model's"));
    }
    TAILOR_RETURN_IF_ERROR(CheckCounts(stats, "global view"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEvalReport(const EvalReport& report) {
  TAILOR_RETURN_IF_ERROR(CheckCounts(report.personalized, "personalized"));
  if (report.global) {
    TAILOR_RETURN_IF_ERROR(CheckCounts(*report.global, "global"));
    if (report.global->count != report.personalized.count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the global model was evaluated on ", report.global->count,
          " samples and the personalized one on ", report.personalized.count,
          "; both use the same test set"));
    }
  }
  return CheckViews(report);
}

EvalCollector::EvalCollector(std::vector<int64_t> asked, TaskKind task)
    : asked_(asked.begin(), asked.end()), task_(task) {}

absl::Status EvalCollector::OnEvalReport(const EvalReport& report) {
  const std::string who = absl::StrCat("client ", report.client_id);
  absl::MutexLock lock(&mu_);
  if (!asked_.count(report.client_id)) {
    return absl::PermissionDeniedError(absl::StrCat(who, " was not asked in this evaluation"));
  }
  if (auto it = reports_.find(report.client_id); it != reports_.end()) {
    if (SameReport(it->second, report)) return absl::OkStatus();  // a retry
    return absl::AlreadyExistsError(
        absl::StrCat(who, " already reported a different evaluation; the first one counts"));
  }
  if (closed_ || failed_.count(report.client_id)) {
    return absl::AbortedError(absl::StrCat(
        who, closed_ ? ": the evaluation is over" : " was already counted as failed"));
  }
  if (absl::Status valid = CheckEvalReport(report); !valid.ok()) {
    failed_.insert(report.client_id);
    return Annotate(valid, who);
  }
  reports_[report.client_id] = report;
  return absl::OkStatus();
}

void EvalCollector::OnEvalFailure(int64_t client_id, const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (closed_ || !asked_.count(client_id) || reports_.count(client_id)) return;
  failed_.insert(client_id);
}

bool EvalCollector::open() const {
  absl::MutexLock lock(&mu_);
  return !closed_;
}

EvalSummary EvalCollector::WaitUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(
      absl::Condition(
          +[](EvalCollector* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return c->reports_.size() + c->failed_.size() >= c->asked_.size();
          },
          this),
      deadline);
  closed_ = true;
  const int64_t failed = static_cast<int64_t>(asked_.size() - reports_.size());
  std::map<int64_t, EvalStats> personalized, global;
  for (const auto& [id, report] : reports_) {
    personalized[id] = report.personalized;
    if (report.global) global[id] = *report.global;
  }
  EvalSummary summary = SummarizeEval(personalized, failed, task_);
  if (!global.empty() && global.size() == personalized.size()) {
    const EvalSummary g = SummarizeEval(global, 0, task_);
    summary.global_micro = g.micro;
    summary.global_macro = g.macro;
  }
  std::map<std::string, std::map<int64_t, EvalStats>> view_personalized, view_global;
  for (const auto& [id, report] : reports_) {
    for (const auto& [name, stats] : report.personalized_views) view_personalized[name][id] = stats;
    for (const auto& [name, stats] : report.global_views) view_global[name][id] = stats;
  }
  for (const auto& [name, per_client] : view_personalized) {
    const EvalSummary v = SummarizeEval(per_client, 0, task_);
    EvalSummary::View& view = summary.views[name];
    view.micro = v.micro;
    view.test_samples = v.test_samples;
    view.clients = v.clients;
    view.per_client = v.per_client;
    if (view_global[name].size() == per_client.size()) {
      view.global_micro = SummarizeEval(view_global[name], 0, task_).micro;
    }
  }
  return summary;
}

}  // namespace tailor
