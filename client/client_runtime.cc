#include "client/client_runtime.h"

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "core/wire_update.h"

namespace tailor {

absl::StatusOr<ParameterSet> ClientRuntime::LoadModel(const ParameterSet& global_shared,
                                                      LocalTrainer& trainer) {
  const PersonalizationPolicy& policy = ctx_.algorithm->policy();
  TAILOR_ASSIGN_OR_RETURN(std::optional<ParameterSet> stored, ctx_.store->Load(ctx_.client_id));
  ParameterSet personal = stored ? *std::move(stored) : policy.Personal(*ctx_.initial_model);
  // Every parameter comes from exactly one side: shared from the coordinator, personal from
  // this device. Only when the two do not cover the model (e.g. a buffer neither side owns) is
  // the initial model loaded first; skipping it saves a full model copy per task.
  if (global_shared.size() + personal.size() != ctx_.initial_model->size()) {
    TAILOR_RETURN_IF_ERROR(trainer.Load(*ctx_.initial_model));
  }
  TAILOR_RETURN_IF_ERROR(Annotate(trainer.Load(global_shared), "global shared parameters"));
  TAILOR_RETURN_IF_ERROR(Annotate(trainer.Load(personal), "personal parameters"));
  return personal;
}

absl::StatusOr<UpdateUpload> ClientRuntime::Train(const TrainTask& task, LocalTrainer& trainer) {
  const PersonalizationPolicy& policy = ctx_.algorithm->policy();
  TAILOR_RETURN_IF_ERROR(LoadModel(*task.global_shared, trainer).status());
  const uint64_t seed = DeriveSeed(task.seed, {static_cast<uint64_t>(ctx_.client_id)});
  TAILOR_ASSIGN_OR_RETURN(TrainStats stats,
                          ctx_.algorithm->TrainLocally(trainer, ctx_.data, task.options, seed));
  PersonalizationPolicy::Parts after = policy.Split(trainer.Snapshot());
  TAILOR_RETURN_IF_ERROR(ctx_.store->Save(ctx_.client_id, after.personal));

  UpdateUpload up;
  up.client_id = ctx_.client_id;
  up.round = task.round;
  up.stats = stats;
  up.weight = static_cast<double>(ctx_.data.train.size());
  // Δ over the shared parameters only, computed in place (Difference checks the schema against
  // the global set).
  TAILOR_ASSIGN_OR_RETURN(ParameterSet delta,
                          Difference(std::move(after.shared), *task.global_shared));
  TAILOR_ASSIGN_OR_RETURN(up.payload, EncodeSharedUpdate(delta, policy));
  return up;
}

absl::StatusOr<EvalReport> ClientRuntime::Evaluate(const EvalTask& task, LocalTrainer& trainer) {
  TAILOR_RETURN_IF_ERROR(LoadModel(*task.global_shared, trainer).status());
  EvalReport report;
  report.client_id = ctx_.client_id;
  TAILOR_ASSIGN_OR_RETURN(report.personalized, trainer.Evaluate(*ctx_.data.pool, ctx_.data.test));
  return report;
}

}  // namespace tailor
