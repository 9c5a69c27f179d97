// Tasks: what a model's examples are, the loss it trains, and the metric a client and a run
// are judged by. Nothing above models/ and the trainer branches on the task; everything that
// reports (metrics.jsonl, the progress line, the summary table, plots, the HTML report) asks
// the task's metric for its name, direction and format.
//
// Every task reports the same three sums per client, read by the task:
//   image classification   correct predictions, test images, summed cross-entropy (nats);
//   causal language model  next tokens predicted exactly, scored tokens (a text's bytes plus
//                          its terminator, each scored from the beginning-of-text token),
//                          summed negative log-likelihood (nats);
//   pairwise preference    pairs whose preferred text the model scores higher, pairs, summed
//                          Bradley-Terry log-loss -log sigmoid(r(chosen) - r(rejected)) (nats).
// So the wire, the evaluation collector and its checks are the same for both.
#ifndef TAILOR_CORE_TASK_H_
#define TAILOR_CORE_TASK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tailor {

enum class TaskKind { kImageClassification, kCausalLanguageModel, kPairwisePreference };

struct TaskMetric {
  TaskKind task;
  // "image_classification" / "causal_lm" / "pairwise_preference".
  const char* task_name;
  // The metric's key in metrics.jsonl ("accuracy", "bpb") and its label in tables.
  const char* name;
  const char* label;
  bool higher_is_better;
  // Shown as a percentage (accuracy) or as a number with three decimals (bits per byte).
  bool percent;
  // The metric from a client's (or a cohort's summed) evaluation.
  double Of(int64_t correct, int64_t count, double loss_sum) const;
  // "83.2%" or "2.314".
  std::string Format(double value) const;
  // True when `a` is better than `b`.
  bool Better(double a, double b) const { return higher_is_better ? a > b : a < b; }
};

const TaskMetric& MetricOf(TaskKind task);
// The task named by metrics.jsonl's "metric" field; INVALID_ARGUMENT for an unknown name.
absl::StatusOr<TaskKind> TaskWithMetric(absl::string_view metric_name);

}  // namespace tailor

#endif  // TAILOR_CORE_TASK_H_
