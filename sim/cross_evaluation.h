// Cross-evaluation: every training client's own model on every training client's test set,
// in the task's metric. The diagonal is each client's personalized result; a row shows how a
// client's model transfers to others, a column how other clients' models do on one client's
// data (a language model tuned to a German author, on Spanish proverbs). Written as
// cross_eval.json beside a run and drawn as a heat map in its report.
#ifndef TAILOR_SIM_CROSS_EVALUATION_H_
#define TAILOR_SIM_CROSS_EVALUATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/local_trainer.h"
#include "core/task.h"

namespace tailor {

struct CrossEvaluation {
  TaskKind task = TaskKind::kImageClassification;
  // Client ids and their names (user names for text, "client N" otherwise).
  std::vector<int64_t> clients;
  std::vector<std::string> names;
  // metric[i][j]: client i's model on client j's test set.
  std::vector<std::vector<double>> metric;
};

struct Experiment;
class PersonalStore;
// Over clients [0, count) (the training clients), each model built as an evaluation builds it
// (global shared + the client's stored personal part, adapted by its algorithm). In
// tailor_sim (it trains); the rest of this header is tailor_sim_output's.
absl::StatusOr<CrossEvaluation> CrossEvaluate(const Experiment& experiment,
                                              const ParameterSet& global_shared,
                                              PersonalStore* store, const TrainOptions& options,
                                              uint64_t seed, int64_t count);

std::string CrossEvaluationToJson(const CrossEvaluation& x);
// INVALID_ARGUMENT naming what is wrong for a malformed file.
absl::StatusOr<CrossEvaluation> CrossEvaluationFromJson(const std::string& text);

// A heat map: rows are models, columns test sets; darker is better.
std::string CrossEvaluationSvg(const CrossEvaluation& x, const std::string& title);

}  // namespace tailor

#endif  // TAILOR_SIM_CROSS_EVALUATION_H_
