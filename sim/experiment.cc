#include "sim/experiment.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/config_loader.h"
#include "core/random.h"
#include "core/serialization.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr uint64_t kModelInitStream = 0x6d6f64656cULL;  // "model"

absl::Status CheckPatternsMatch(const PersonalizationPolicy& policy, const ParameterSet& model) {
  for (const std::string& pattern : policy.patterns()) {
    bool matched = false;
    for (const auto& e : model.entries()) matched = matched || GlobMatch(pattern, e.name);
    if (!matched) {
      return absl::InvalidArgumentError(absl::StrCat("algorithm.personal_patterns: '", pattern,
                                                     "' matches no parameter of the model"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParameterSet> InitialModel(const config::ExperimentConfig& c,
                                          const ModelSpec& spec, Env* env) {
  ParameterSet model = InitialParameters(spec, DeriveSeed(c.seed(), {kModelInitStream}));
  const std::string& path = c.model().initial_model();
  if (path.empty()) return model;
  absl::StatusOr<std::string> bytes = env->ReadFile(path);
  if (!bytes.ok()) {
    return Annotate(bytes.status(), absl::StrCat("model.initial_model ", path));
  }
  absl::StatusOr<ParameterSet> loaded = DeserializeParameterSet(*bytes);
  if (!loaded.ok()) return Annotate(loaded.status(), absl::StrCat("model.initial_model ", path));
  for (const auto& e : loaded->entries()) {
    Tensor* dst = model.FindMutable(e.name);
    if (dst == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("model.initial_model ", path, " holds '",
                                                     e.name, "', which model ",
                                                     spec.architecture, " does not have"));
    }
    if (dst->dtype() != e.tensor.dtype() || dst->shape() != e.tensor.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.initial_model ", path, ": '", e.name, "' is ", e.tensor.Describe(),
          ", model ", spec.architecture, " has ", dst->Describe(),
          " (was it pretrained with other model options?)"));
    }
    for (float v : e.tensor.f32()) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat("model.initial_model ", path, ": '",
                                                       e.name, "' holds a non-finite value"));
      }
    }
    *dst = e.tensor;
  }
  return model;
}

absl::StatusOr<Experiment> BuildExperiment(const config::ExperimentConfig& c, Env* env,
                                           bool load_data) {
  Experiment e;
  TAILOR_ASSIGN_OR_RETURN(e.spec, BuildModelSpec(ModelOptionsOf(c.model())));
  TAILOR_ASSIGN_OR_RETURN(e.algorithm, CreateClientAlgorithm(c.algorithm().name(), e.spec,
                                                             AlgorithmOptionsOf(c.algorithm())));
  e.reproducible_private_noise = c.privacy().noise() != "secure";
  TAILOR_ASSIGN_OR_RETURN(ParameterSet initial, InitialModel(c, e.spec, env));
  e.initial_model = std::make_shared<const ParameterSet>(std::move(initial));
  TAILOR_RETURN_IF_ERROR(CheckPatternsMatch(e.algorithm->policy(), *e.initial_model));
  if (load_data) {
    TAILOR_ASSIGN_OR_RETURN(
        FederatedDataset data,
        BuildFederatedDataset(c.data(), c.seed(), env, c.eval().new_clients()));
    if (data.pool->task() != e.spec.task) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model ", e.spec.architecture, " is for ", MetricOf(e.spec.task).task_name,
          " but data.dataset '", c.data().dataset(), "' is for ",
          MetricOf(data.pool->task()).task_name));
    }
    const auto* images = dynamic_cast<const ImageDataset*>(data.pool.get());
    if (images != nullptr && images->num_classes != e.spec.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("model ", e.spec.architecture, " predicts ",
                                                     e.spec.num_classes, " classes, dataset has ",
                                                     images->num_classes));
    }
    e.data = std::move(data);
  }
  return e;
}

TrainOptions TrainOptionsFrom(const config::ExperimentConfig& c) {
  TrainOptions t;
  t.learning_rate = c.train().learning_rate();
  t.batch_size = c.train().batch_size();
  t.epochs = c.train().local_epochs();
  t.momentum = c.train().momentum();
  t.weight_decay = c.train().weight_decay();
  t.drop_last = !c.train().keep_last_batch();
  t.proximal_mu = c.train().proximal_mu();
  t.upload_codec = c.upload().codec();
  t.topk_fraction = c.upload().topk_fraction();
  t.clip_norm = c.privacy().clip_norm();
  t.dp_sgd_clip_norm = c.train().dp_sgd().clip_norm();
  t.dp_sgd_noise_multiplier = c.train().dp_sgd().noise_multiplier();
  t.dp_sgd_delta = c.train().dp_sgd().delta();
  return t;
}

CoordinatorOptions CoordinatorOptionsFrom(const config::ExperimentConfig& c, const Experiment& e) {
  CoordinatorOptions co;
  co.num_clients = c.data().num_clients();
  co.rounds = c.rounds();
  co.clients_per_round = c.server().clients_per_round();
  co.min_updates = c.server().min_updates();
  co.short_round = c.server().short_round() == "skip" ? CoordinatorOptions::ShortRound::kSkip
                                                      : CoordinatorOptions::ShortRound::kRetry;
  co.max_round_attempts = c.server().max_round_attempts();
  co.aggregator.name = c.server().aggregator();
  if (c.server().has_trim_fraction()) co.aggregator.trim_fraction = c.server().trim_fraction();
  co.aggregator.norm_bound = c.server().norm_bound();
  if (c.server().has_byzantine_clients()) {
    co.aggregator.byzantine_clients = c.server().byzantine_clients();
  }
  co.aggregator.multi_krum_selected = c.server().multi_krum_selected();
  co.aggregator.buffer_bytes = c.server().aggregation_buffer_mb() << 20;
  co.server_optimizer.name = c.server().optimizer();
  co.server_optimizer.learning_rate = c.server().server_learning_rate();
  co.server_optimizer.momentum = c.server().server_momentum();
  co.server_optimizer.beta1 = c.server().beta1();
  co.server_optimizer.beta2 = c.server().beta2();
  co.server_optimizer.tau = c.server().tau();
  co.eval_every = c.eval().every_rounds();
  co.eval_at_start = c.eval().at_start();
  co.task = e.spec.task;
  co.new_clients = c.eval().new_clients();
  co.new_client_epochs = c.eval().new_client_epochs();
  co.new_client_shots.assign(c.eval().new_client_shots().begin(),
                             c.eval().new_client_shots().end());
  co.seed = c.seed();
  co.train = TrainOptionsFrom(c);
  co.initial_shared = e.algorithm->policy().Shared(*e.initial_model);
  if (PrivacyEnabled(c)) {
    const auto& p = c.privacy();
    DpFedAvgOptions dp;
    dp.clip_norm = p.clip_norm();
    dp.noise_multiplier = p.noise_multiplier();
    dp.target_epsilon = p.target_epsilon();
    dp.sampling_rate = p.sampling_rate();
    dp.delta = p.delta();
    dp.epsilon_budget = p.epsilon_budget();
    dp.adaptive_clipping = p.adaptive_clipping().enabled();
    dp.target_quantile = p.adaptive_clipping().target_quantile();
    dp.clip_learning_rate = p.adaptive_clipping().learning_rate();
    dp.count_stddev = p.adaptive_clipping().count_stddev();
    // A simulation is reproducible unless told otherwise; `tailor coordinator` overrides this.
    dp.reproducible_noise = p.noise() != "secure";
    dp.seed = c.seed();
    co.privacy = dp;
    co.withhold_unprotected = !p.release_unprotected_metrics();
  }
  if (const auto& s = c.secure_aggregation(); !s.mode().empty()) {
    SecureAggregationOptions sa;
    sa.plus = s.mode() == "secagg_plus";
    sa.threshold = s.threshold();
    sa.neighbours = s.neighbours();
    sa.dropout = s.dropout();
    sa.corrupt = s.corrupt();
    sa.clip_norm = s.clip_norm();
    sa.max_weight = s.max_weight();
    sa.distributed_noise = s.distributed_noise();
    if (s.phase_timeout_seconds() > 0) sa.phase_timeout = absl::Seconds(s.phase_timeout_seconds());
    co.secure_aggregation = sa;
  }
  return co;
}

std::string UnprotectedMetricsNotice(const config::ExperimentConfig& c) {
  if (!PrivacyEnabled(c) || !c.privacy().release_unprotected_metrics()) return "";
  return "privacy.release_unprotected_metrics is on: the training loss, exact cohort and "
         "participation counts, upload bytes, DP-SGD's record epsilon, evaluation accuracies "
         "(per client too) and client ids in the log are released without noise; epsilon does "
         "not cover them";
}

ClientContext ClientContextFor(const Experiment& e, int64_t id, PersonalStore* store) {
  const ClientSplit& split = e.data->clients[static_cast<size_t>(id)];
  ClientContext ctx;
  ctx.client_id = id;
  ctx.algorithm = e.algorithm.get();
  ctx.store = store;
  ctx.data.pool = e.data->pool.get();
  ctx.data.train = split.train;
  ctx.data.test = split.test;
  ctx.data.val = split.val;
  for (const auto& [name, indices] : split.test_views) ctx.data.test_views[name] = indices;
  ctx.initial_model = e.initial_model;
  // In a simulation the private coins follow the seed unless privacy.noise says "secure".
  ctx.reproducible_private_noise = e.reproducible_private_noise;
  return ctx;
}

absl::Status CheckInMemoryDeviceState(int64_t num_clients, const ClientAlgorithm& algorithm,
                                      const ParameterSet& model, uint64_t memory_bytes) {
  const double per_client =
      static_cast<double>(algorithm.policy().Personal(model).TotalBytes()) +
      algorithm.model_copies_in_state() * static_cast<double>(model.TotalBytes());
  const double total = per_client * static_cast<double>(num_clients);
  if (total <= 0.5 * static_cast<double>(memory_bytes)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s keeps %.1f MB per client on the device; %d clients need %.1f GB in memory, more than "
      "half of this machine's %.1f GB: set simulation.personal_state_dir to keep it on disk",
      algorithm.name(), per_client / 1e6, num_clients, total / 1e9,
      static_cast<double>(memory_bytes) / 1e9));
}

}  // namespace tailor
