#include "sim/cross_evaluation.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "client/client_runtime.h"
#include "client/personal_store.h"
#include "sim/experiment.h"
#include "core/status_macros.h"

namespace tailor {

absl::StatusOr<CrossEvaluation> CrossEvaluate(const Experiment& e,
                                              const ParameterSet& global_shared,
                                              PersonalStore* store, const TrainOptions& options,
                                              uint64_t seed, int64_t count) {
  if (!e.data) return absl::FailedPreconditionError("cross-evaluation needs the clients' data");
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<LocalTrainer> trainer, LocalTrainer::Create(e.spec));
  CrossEvaluation x;
  x.task = e.spec.task;
  const TaskMetric& metric = MetricOf(x.task);
  for (int64_t i = 0; i < count; ++i) {
    x.clients.push_back(i);
    x.names.push_back(e.data->client_names.empty() ? absl::StrCat("client ", i)
                                                   : e.data->client_names[i]);
  }
  for (int64_t i = 0; i < count; ++i) {
    ClientRuntime runtime(ClientContextFor(e, i, store));
    TAILOR_RETURN_IF_ERROR(runtime.LoadPersonalizedModel(global_shared, options, seed, *trainer));
    std::vector<double> row;
    for (int64_t j = 0; j < count; ++j) {
      TAILOR_ASSIGN_OR_RETURN(EvalStats s,
                              trainer->Evaluate(*e.data->pool, e.data->clients[j].test));
      row.push_back(metric.Of(s.correct, s.count, s.loss_sum));
    }
    x.metric.push_back(std::move(row));
  }
  return x;
}

}  // namespace tailor
