#include "client/client_runtime.h"

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "core/update_codec.h"
#include "core/wire_update.h"
#include "privacy/clipping.h"

namespace tailor {

namespace {

constexpr char kResidualPrefix[] = "upload_residual/";

}  // namespace

ClientRuntime::DeviceState ClientRuntime::SplitStoredState(ParameterSet stored) {
  ClientRuntime::DeviceState state;
  const std::string prefix = kResidualPrefix;
  for (size_t i = 0; i < stored.size(); ++i) {
    NamedTensor& e = stored.entry(i);
    if (e.name.compare(0, prefix.size(), prefix) == 0) {
      (void)state.residual.Add(e.name.substr(prefix.size()), std::move(e.tensor));
    } else {
      (void)state.personal.Add(std::move(e.name), std::move(e.tensor));
    }
  }
  return state;
}

namespace {

absl::StatusOr<ParameterSet> JoinForStore(const ParameterSet& personal,
                                          const ParameterSet& residual) {
  ParameterSet out = personal;
  for (const auto& e : residual.entries()) {
    TAILOR_RETURN_IF_ERROR(out.Add(kResidualPrefix + e.name, e.tensor));
  }
  return out;
}

}  // namespace

absl::StatusOr<ClientRuntime::DeviceState> ClientRuntime::LoadModel(
    const ParameterSet& global_shared, LocalTrainer& trainer) {
  const PersonalizationPolicy& policy = ctx_.algorithm->policy();
  TAILOR_ASSIGN_OR_RETURN(std::optional<ParameterSet> stored, ctx_.store->Load(ctx_.client_id));
  DeviceState state;
  if (stored) {
    state = SplitStoredState(*std::move(stored));
  } else {
    state.personal = policy.Personal(*ctx_.initial_model);
  }
  const ParameterSet& personal = state.personal;
  // Every parameter comes from exactly one side: shared from the coordinator, personal from
  // this device. Only when the two do not cover the model (e.g. a buffer neither side owns) is
  // the initial model loaded first; skipping it saves a full model copy per task.
  if (global_shared.size() + personal.size() != ctx_.initial_model->size()) {
    TAILOR_RETURN_IF_ERROR(trainer.Load(*ctx_.initial_model));
  }
  TAILOR_RETURN_IF_ERROR(Annotate(trainer.Load(global_shared), "global shared parameters"));
  TAILOR_RETURN_IF_ERROR(Annotate(trainer.Load(personal), "personal parameters"));
  return state;
}

absl::StatusOr<UpdateUpload> ClientRuntime::Train(const TrainTask& task, LocalTrainer& trainer) {
  const PersonalizationPolicy& policy = ctx_.algorithm->policy();
  TAILOR_ASSIGN_OR_RETURN(DeviceState state, LoadModel(*task.global_shared, trainer));
  const uint64_t seed = DeriveSeed(task.seed, {static_cast<uint64_t>(ctx_.client_id)});
  TrainOptions options = task.options;
  // The proximal term anchors the shared parameters to the global model they started from.
  if (options.proximal_mu > 0 && !options.proximal) {
    options.proximal = [&policy](const std::string& name) { return !policy.IsPersonal(name); };
  }
  TAILOR_ASSIGN_OR_RETURN(TrainStats stats,
                          ctx_.algorithm->TrainLocally(trainer, ctx_.data, options, seed));
  PersonalizationPolicy::Parts after = policy.Split(trainer.Snapshot());

  UpdateUpload up;
  up.client_id = ctx_.client_id;
  up.round = task.round;
  up.stats = stats;
  up.weight = static_cast<double>(ctx_.data.train.size());
  // Δ over the shared parameters only, computed in place (Difference checks the schema against
  // the global set).
  TAILOR_ASSIGN_OR_RETURN(ParameterSet delta,
                          Difference(std::move(after.shared), *task.global_shared));
  if (options.clip_norm > 0) {
    // Before the codec: the residual of error feedback then carries clipped values only.
    TAILOR_ASSIGN_OR_RETURN(const double norm, ClipToNorm(&delta, options.clip_norm));
    up.within_clip_norm = norm <= options.clip_norm;
  }
  UpdateCodecOptions codec;
  codec.name = options.upload_codec;
  codec.topk_fraction = options.topk_fraction;
  const bool feedback = codec.name == "topk";
  // Error feedback from another model (a new experiment's schema) is dropped, not misapplied.
  if (!feedback || !delta.CheckSameSchema(state.residual, "residual").ok()) {
    state.residual = ParameterSet();
  }
  TAILOR_ASSIGN_OR_RETURN(
      ParameterSet wire,
      CompressUpdate(delta, codec, DeriveSeed(seed, {0x636f646563ULL /*"codec"*/}),
                     feedback ? &state.residual : nullptr));
  TAILOR_ASSIGN_OR_RETURN(ParameterSet to_store, JoinForStore(after.personal, state.residual));
  TAILOR_RETURN_IF_ERROR(ctx_.store->Save(ctx_.client_id, to_store));
  TAILOR_ASSIGN_OR_RETURN(up.payload, EncodeSharedUpdate(wire, policy));
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
