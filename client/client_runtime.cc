#include "client/client_runtime.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/few_shot.h"
#include "core/parameter_math.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "core/update_codec.h"
#include "core/wire_update.h"
#include "privacy/clipping.h"
#include "privacy/rdp_accountant.h"
#include "privacy/secure_random.h"

namespace tailor {

namespace {

constexpr char kResidualPrefix[] = "upload_residual/";
constexpr char kDpSgdPrefix[] = "dp_sgd/";
constexpr char kDpSgdCurve[] = "rdp";
constexpr char kAlgorithmPrefix[] = "algorithm/";

bool StartsWith(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

}  // namespace

ClientRuntime::DeviceState ClientRuntime::SplitStoredState(ParameterSet stored) {
  ClientRuntime::DeviceState state;
  for (size_t i = 0; i < stored.size(); ++i) {
    NamedTensor& e = stored.entry(i);
    if (StartsWith(e.name, kResidualPrefix)) {
      (void)state.residual.Add(e.name.substr(std::strlen(kResidualPrefix)), std::move(e.tensor));
    } else if (StartsWith(e.name, kDpSgdPrefix)) {
      (void)state.dp_sgd.Add(e.name.substr(std::strlen(kDpSgdPrefix)), std::move(e.tensor));
    } else if (StartsWith(e.name, kAlgorithmPrefix)) {
      (void)state.algorithm.Add(e.name.substr(std::strlen(kAlgorithmPrefix)),
                                std::move(e.tensor));
    } else {
      (void)state.personal.Add(std::move(e.name), std::move(e.tensor));
    }
  }
  return state;
}

namespace {

absl::StatusOr<ParameterSet> JoinForStore(const ParameterSet& personal,
                                          const ClientRuntime::DeviceState& state) {
  ParameterSet out = personal;
  for (const auto& [prefix, part] : {std::pair<const char*, const ParameterSet*>{
                                         kResidualPrefix, &state.residual},
                                     {kDpSgdPrefix, &state.dp_sgd},
                                     {kAlgorithmPrefix, &state.algorithm}}) {
    for (const auto& e : part->entries()) {
      TAILOR_RETURN_IF_ERROR(out.Add(prefix + e.name, e.tensor));
    }
  }
  return out;
}

// DP-SGD's coins from a SecureRandom.
class SecureCoins : public PrivateCoins {
 public:
  explicit SecureCoins(std::unique_ptr<SecureRandom> random) : random_(std::move(random)) {}
  bool Bernoulli(double p) override { return random_->BernoulliRate(p); }
  void FillStandardNormal(float* out, size_t n) override { random_->FillStandardNormal(out, n); }

 private:
  std::unique_ptr<SecureRandom> random_;
};

// Composes this round's DP-SGD steps into the device's RDP curve; returns ε at `delta`.
absl::StatusOr<double> AccountDpSgd(ParameterSet* curve_state, double rate, double z,
                                    int64_t steps, double delta) {
  RdpAccountant accountant;
  if (const Tensor* stored = curve_state->Find(kDpSgdCurve); stored != nullptr) {
    if (stored->dtype() != DType::kFloat64 ||
        stored->numel() != static_cast<int64_t>(DefaultRdpOrders().size())) {
      return absl::DataLossError("the device's DP-SGD accountant state is malformed");
    }
    TAILOR_ASSIGN_OR_RETURN(
        accountant, RdpAccountant::FromCurve(DefaultRdpOrders(),
                                             std::vector<double>(stored->f64().begin(),
                                                                 stored->f64().end())));
  }
  TAILOR_RETURN_IF_ERROR(accountant.AddSteps(rate, z, steps));
  Tensor curve(DType::kFloat64, {static_cast<int64_t>(accountant.rdp().size())});
  std::copy(accountant.rdp().begin(), accountant.rdp().end(), curve.f64().begin());
  *curve_state = ParameterSet();
  TAILOR_RETURN_IF_ERROR(curve_state->Add(kDpSgdCurve, std::move(curve)));
  TAILOR_ASSIGN_OR_RETURN(PrivacySpent spent, accountant.Epsilon(delta));
  return spent.epsilon;
}

}  // namespace

namespace {

// The task's options with the policy's frozen base held fixed.
TrainOptions WithFrozenBase(TrainOptions options, const PersonalizationPolicy& policy) {
  if (!policy.frozen_patterns().empty() && !options.frozen) {
    options.frozen = [&policy](const std::string& name) { return policy.IsFrozen(name); };
  }
  return options;
}

}  // namespace

absl::StatusOr<ClientRuntime::DeviceState> ClientRuntime::LoadModel(
    const ParameterSet& global_shared, int64_t as_of_round, LocalTrainer& trainer) {
  const PersonalizationPolicy& policy = ctx_.algorithm->policy();
  TAILOR_ASSIGN_OR_RETURN(std::optional<ParameterSet> stored,
                          ctx_.store->Load(ctx_.client_id, as_of_round));
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
  // The state as of the last committed round: a re-run of this round starts where its first run
  // started (PersonalStore).
  TAILOR_ASSIGN_OR_RETURN(DeviceState state,
                          LoadModel(*task.global_shared, task.round - 1, trainer));
  const uint64_t seed = DeriveSeed(task.seed, {static_cast<uint64_t>(ctx_.client_id)});
  TrainOptions options = WithFrozenBase(task.options, policy);
  // The proximal term anchors the shared parameters to the global model they started from.
  if (options.proximal_mu > 0 && !options.proximal) {
    options.proximal = [&policy](const std::string& name) { return !policy.IsPersonal(name); };
  }
  std::unique_ptr<SecureCoins> coins;
  if (options.dp_sgd_clip_norm != 0) {
    if (!(options.dp_sgd_clip_norm > 0) || !std::isfinite(options.dp_sgd_clip_norm) ||
        !(options.dp_sgd_noise_multiplier > 0) || !std::isfinite(options.dp_sgd_noise_multiplier)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DP-SGD needs a finite clip norm and noise multiplier > 0, got ",
          options.dp_sgd_clip_norm, " and ", options.dp_sgd_noise_multiplier));
    }
    std::unique_ptr<SecureRandom> random;
    if (ctx_.reproducible_private_noise) {
      random = SecureRandom::FromSeed(seed, 0x6470736764ULL /*"dpsgd"*/);
    } else {
      TAILOR_ASSIGN_OR_RETURN(random, SecureRandom::FromOsEntropy());
    }
    coins = std::make_unique<SecureCoins>(std::move(random));
    options.dp_sgd_coins = coins.get();
    // The record-level accountant never goes back: a first run of this round may have released
    // its update before the round was re-run, so its steps stay counted.
    TAILOR_ASSIGN_OR_RETURN(std::optional<ParameterSet> newest,
                            ctx_.store->Load(ctx_.client_id, PersonalStore::kNewest));
    if (newest) state.dp_sgd = SplitStoredState(*std::move(newest)).dp_sgd;
  }
  TAILOR_ASSIGN_OR_RETURN(TrainStats stats,
                          ctx_.algorithm->TrainLocally(trainer, ctx_.data, options, seed,
                                                               &state.algorithm));
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
  // Any non-zero norm is applied (NaN and negatives are refused by ClipToNorm, not ignored).
  if (options.clip_norm != 0) {
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
  if (coins) {
    TAILOR_ASSIGN_OR_RETURN(
        up.record_epsilon,
        AccountDpSgd(&state.dp_sgd, DpSgdSamplingRate(options.batch_size, ctx_.data.train.size()),
                     options.dp_sgd_noise_multiplier, stats.steps, options.dp_sgd_delta));
  }
  TAILOR_ASSIGN_OR_RETURN(ParameterSet to_store, JoinForStore(after.personal, state));
  TAILOR_RETURN_IF_ERROR(ctx_.store->Save(ctx_.client_id, task.round, to_store));
  TAILOR_ASSIGN_OR_RETURN(up.payload, EncodeSharedUpdate(wire, policy));
  return up;
}

absl::StatusOr<EvalReport> ClientRuntime::Evaluate(const EvalTask& task, LocalTrainer& trainer) {
  if (task.new_client_epochs > 0) return EvaluateAsNewClient(task, trainer);
  // Round `task.round` is committed before it is evaluated: its state counts.
  TAILOR_ASSIGN_OR_RETURN(DeviceState state, LoadModel(*task.global_shared, task.round, trainer));
  EvalReport report;
  report.client_id = ctx_.client_id;
  const ClientAlgorithm& algorithm = *ctx_.algorithm;
  if (algorithm.policy().patterns().empty() && algorithm.adapts_before_evaluation()) {
    // The global model, before this client adapts its copy.
    TAILOR_ASSIGN_OR_RETURN(report.global, EvaluateTest(trainer, &report.global_views));
  }
  TAILOR_RETURN_IF_ERROR(EvaluateAdapted(task, state.algorithm, trainer, &report));
  // Without adaptation and with nothing personal, the evaluated model is the global one.
  if (algorithm.has_global_model()) {
    report.global = report.personalized;
    report.global_views = report.personalized_views;
  }
  return report;
}

absl::StatusOr<EvalStats> ClientRuntime::EvaluateTest(
    LocalTrainer& trainer, std::map<std::string, EvalStats>* views) const {
  const auto& named = ctx_.data.test_views;
  if (named.empty()) return trainer.Evaluate(*ctx_.data.pool, ctx_.data.test);
  // Each test example is scored once: the test set is cut into groups by the views an example
  // belongs to (a bit per view), and the whole and every view are sums of groups.
  std::map<uint32_t, uint32_t> membership;  // example -> its views' bits
  uint32_t bit = 1;
  for (const auto& [name, indices] : named) {
    for (uint32_t i : indices) membership[i] |= bit;
    (*views)[name] = EvalStats();
    bit <<= 1;
  }
  std::map<uint32_t, std::vector<uint32_t>> groups;
  for (uint32_t i : ctx_.data.test) {
    auto it = membership.find(i);
    groups[it == membership.end() ? 0 : it->second].push_back(i);
  }
  auto add = [](const EvalStats& from, EvalStats* to) {
    to->correct += from.correct;
    to->count += from.count;
    to->loss_sum += from.loss_sum;
  };
  EvalStats whole;
  for (const auto& [bits, indices] : groups) {
    TAILOR_ASSIGN_OR_RETURN(EvalStats part, trainer.Evaluate(*ctx_.data.pool, indices));
    add(part, &whole);
    uint32_t view_bit = 1;
    for (auto& [name, stats] : *views) {
      if (bits & view_bit) add(part, &stats);
      view_bit <<= 1;
    }
  }
  return whole;
}

absl::Status ClientRuntime::LoadPersonalizedModel(const ParameterSet& global_shared,
                                                  const TrainOptions& options, uint64_t seed,
                                                  LocalTrainer& trainer) {
  TAILOR_ASSIGN_OR_RETURN(DeviceState state,
                          LoadModel(global_shared, PersonalStore::kNewest, trainer));
  return Annotate(ctx_.algorithm->PrepareEvaluation(
                      trainer, ctx_.data, WithFrozenBase(options, ctx_.algorithm->policy()),
                      DeriveSeed(seed, {static_cast<uint64_t>(ctx_.client_id)}), state.algorithm),
                  "adapting the model before generating");
}

absl::StatusOr<EvalReport> ClientRuntime::EvaluateAsNewClient(const EvalTask& task,
                                                              LocalTrainer& trainer) {
  const ClientAlgorithm& algorithm = *ctx_.algorithm;
  // A fresh device: the initial model's personal part, no algorithm state, nothing stored.
  TAILOR_RETURN_IF_ERROR(trainer.Load(*ctx_.initial_model));
  if (algorithm.federated()) {
    TAILOR_RETURN_IF_ERROR(Annotate(trainer.Load(*task.global_shared), "global shared parameters"));
  }
  EvalReport report;
  report.client_id = ctx_.client_id;
  if (algorithm.federated() && algorithm.policy().patterns().empty()) {
    // The global model as a new client receives it.
    TAILOR_ASSIGN_OR_RETURN(report.global, EvaluateTest(trainer, &report.global_views));
  }
  TrainOptions options = WithFrozenBase(task.options, algorithm.policy());
  options.epochs = task.new_client_epochs;
  // Nothing leaves the device: no DP-SGD, no upload clipping.
  options.dp_sgd_clip_norm = 0;
  options.clip_norm = 0;
  if (options.proximal_mu > 0 && !options.proximal) {
    const PersonalizationPolicy& policy = algorithm.policy();
    options.proximal = [&policy](const std::string& name) { return !policy.IsPersonal(name); };
  }
  const uint64_t seed = DeriveSeed(task.seed, {static_cast<uint64_t>(ctx_.client_id), 1});
  ParameterSet algorithm_state;
  TAILOR_RETURN_IF_ERROR(Annotate(
      algorithm.TrainLocally(trainer, ctx_.data, options, seed, &algorithm_state).status(),
      "a new client's personalization"));
  TAILOR_RETURN_IF_ERROR(EvaluateAdapted(task, algorithm_state, trainer, &report));
  TAILOR_RETURN_IF_ERROR(EvaluateFewShot(task, options, trainer, &report));
  return report;
}

absl::Status ClientRuntime::EvaluateFewShot(const EvalTask& task, const TrainOptions& options,
                                            LocalTrainer& trainer, EvalReport* report) {
  if (task.new_client_shots.empty()) return absl::OkStatus();
  TAILOR_RETURN_IF_ERROR(Annotate(CheckFewShotPoints(task.new_client_shots),
                                  "the coordinator's few-shot points"));
  const ClientAlgorithm& algorithm = *ctx_.algorithm;
  const PersonalizationPolicy& policy = algorithm.policy();
  // What a newcomer fits: its personal part; the whole model when the algorithm keeps nothing
  // personal but tunes before it evaluates (FedAvg + fine-tuning, Ditto); nothing when the
  // global model is what the algorithm evaluates (FedAvg): its curve is flat by design.
  const bool fits = !(algorithm.federated() && algorithm.has_global_model());
  TrainableFilter trainable;
  if (!policy.patterns().empty()) {
    trainable = [&policy](const std::string& name) { return policy.IsPersonal(name); };
  }
  const size_t all = ctx_.data.train.size();
  const size_t batch = static_cast<size_t>(std::max(1, options.batch_size));
  const auto batches = [batch](size_t examples) { return (examples + batch - 1) / batch; };
  // Every point gets the optimizer steps of the full adaptation: fewer examples, more epochs,
  // so the curve measures the examples and not the compute.
  const size_t steps = static_cast<size_t>(options.epochs) *
                      std::max<size_t>(1, options.drop_last ? all / batch : batches(all));
  for (int shots : task.new_client_shots) {
    // A fresh device each time: the points are independent of each other and of the full
    // adaptation before them.
    TAILOR_RETURN_IF_ERROR(trainer.Load(*ctx_.initial_model));
    if (algorithm.federated()) {
      TAILOR_RETURN_IF_ERROR(
          Annotate(trainer.Load(*task.global_shared), "global shared parameters"));
    }
    const size_t n = std::min(all, static_cast<size_t>(shots));
    if (fits && n > 0) {
      TrainOptions few = options;
      few.drop_last = false;  // fewer examples than a batch still train
      few.epochs = static_cast<int>(std::max<size_t>(1, (steps + batches(n) - 1) / batches(n)));
      TAILOR_RETURN_IF_ERROR(Annotate(
          trainer
              .Train(*ctx_.data.pool, ctx_.data.train.subspan(0, n), few, trainable,
                     DeriveSeed(task.seed, {static_cast<uint64_t>(ctx_.client_id), 2,
                                            static_cast<uint64_t>(shots)}))
              .status(),
          absl::StrCat("fitting a new client on ", n, " examples")));
    }
    TAILOR_ASSIGN_OR_RETURN(report->personalized_views[FewShotViewName(shots)],
                            trainer.Evaluate(*ctx_.data.pool, ctx_.data.test));
  }
  return absl::OkStatus();
}

absl::Status ClientRuntime::EvaluateAdapted(const EvalTask& task,
                                            const ParameterSet& algorithm_state,
                                            LocalTrainer& trainer, EvalReport* report) {
  TAILOR_RETURN_IF_ERROR(Annotate(
      ctx_.algorithm->PrepareEvaluation(
          trainer, ctx_.data, WithFrozenBase(task.options, ctx_.algorithm->policy()),
          DeriveSeed(task.seed, {static_cast<uint64_t>(ctx_.client_id)}), algorithm_state),
      "adapting the model before evaluation"));
  TAILOR_ASSIGN_OR_RETURN(report->personalized,
                          EvaluateTest(trainer, &report->personalized_views));
  return absl::OkStatus();
}

}  // namespace tailor
