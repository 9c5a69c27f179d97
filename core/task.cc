#include "core/task.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailor {
namespace {

const TaskMetric kMetrics[] = {
    {TaskKind::kImageClassification, "image_classification", "accuracy", "acc",
     /*higher_is_better=*/true, /*percent=*/true},
    {TaskKind::kCausalLanguageModel, "causal_lm", "bpb", "bpb", /*higher_is_better=*/false,
     /*percent=*/false},
    {TaskKind::kPairwisePreference, "pairwise_preference", "pair_accuracy", "pair acc",
     /*higher_is_better=*/true, /*percent=*/true},
};

}  // namespace

double TaskMetric::Of(int64_t correct, int64_t count, double loss_sum) const {
  if (count <= 0) return std::nan("");
  if (task != TaskKind::kCausalLanguageModel) {  // accuracy: of images, of pairs
    return static_cast<double>(correct) / static_cast<double>(count);
  }
  // Bits per scored token: nats / ln 2, over the bytes and terminators.
  return loss_sum / (std::log(2.0) * static_cast<double>(count));
}

std::string TaskMetric::Format(double value) const {
  if (!std::isfinite(value)) return "-";
  return percent ? absl::StrFormat("%.2f%%", 100.0 * value) : absl::StrFormat("%.3f", value);
}

const TaskMetric& MetricOf(TaskKind task) {
  for (const TaskMetric& m : kMetrics) {
    if (m.task == task) return m;
  }
  return kMetrics[0];
}

absl::StatusOr<TaskKind> TaskWithMetric(absl::string_view metric_name) {
  for (const TaskMetric& m : kMetrics) {
    if (m.name == metric_name) return m.task;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown metric '", metric_name, "'"));
}

}  // namespace tailor
