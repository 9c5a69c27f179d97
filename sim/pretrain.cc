#include "sim/pretrain.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/local_trainer.h"
#include "core/personalization_policy.h"
#include "core/random.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "core/task.h"
#include "data/text_dataset.h"
#include "sim/experiment.h"
#include "sim/progress_printer.h"

namespace tailor {
namespace {

std::vector<uint32_t> Gather(const FederatedDataset& data, int64_t held_out, bool val) {
  std::vector<uint32_t> out;
  const int64_t seen = static_cast<int64_t>(data.clients.size()) - held_out;
  for (int64_t i = 0; i < seen; ++i) {
    const std::vector<uint32_t>& part = val ? data.clients[i].val : data.clients[i].train;
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// What a checkpoint says beside the model: how far it got.
struct PretrainState {
  int64_t steps = 0;
  double tokens = 0;
  double val_bpb = std::nan("");
};

std::string StatePath(const std::string& output) { return output + ".json"; }

absl::StatusOr<PretrainState> ReadCheckpoint(const std::string& output, Env* env) {
  TAILOR_ASSIGN_OR_RETURN(std::string text, env->ReadFile(StatePath(output)));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("steps") || !j["steps"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat(StatePath(output), ": not a pretraining checkpoint"));
  }
  PretrainState c;
  c.steps = j["steps"].get<int64_t>();
  if (j.contains("tokens") && j["tokens"].is_number()) c.tokens = j["tokens"].get<double>();
  if (j.contains("val_bpb") && j["val_bpb"].is_number()) c.val_bpb = j["val_bpb"].get<double>();
  return c;
}

}  // namespace

std::vector<uint32_t> PretrainingIndices(const FederatedDataset& data, int64_t held_out) {
  return Gather(data, held_out, /*val=*/false);
}

std::vector<uint32_t> PretrainingValidationIndices(const FederatedDataset& data,
                                                   int64_t held_out) {
  return Gather(data, held_out, /*val=*/true);
}

absl::StatusOr<int64_t> PretrainedSteps(const std::string& output, Env* env) {
  if (!env->FileExists(StatePath(output))) {
    return absl::NotFoundError(absl::StrCat("no pretraining checkpoint ", StatePath(output)));
  }
  TAILOR_ASSIGN_OR_RETURN(PretrainState state, ReadCheckpoint(output, env));
  return state.steps;
}

absl::StatusOr<PretrainResult> RunPretraining(const config::ExperimentConfig& c, Env* env,
                                              std::FILE* progress) {
  TAILOR_ASSIGN_OR_RETURN(Experiment e, BuildExperiment(c, env, /*load_data=*/true));
  if (e.spec.task != TaskKind::kCausalLanguageModel) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pretraining is for language models; model.architecture '", c.model().architecture(),
        "' is not one"));
  }
  const auto* pool = dynamic_cast<const TextDataset*>(e.data->pool.get());
  const int64_t held_out = c.eval().new_clients();
  std::vector<uint32_t> train = PretrainingIndices(*e.data, held_out);
  std::vector<uint32_t> val = PretrainingValidationIndices(*e.data, held_out);
  if (train.empty()) return absl::FailedPreconditionError("no training text to pretrain on");
  // Validation on a fixed sample, so its cost does not grow with the corpus.
  Rng sample_rng(DeriveSeed(c.seed(), {0x7072657661ULL /*"preva"*/}));
  sample_rng.Shuffle(&val);
  if (val.size() > 1000) val.resize(1000);

  const auto& p = c.pretrain();
  const int64_t total_steps = p.steps();
  const int64_t every = p.eval_every_steps();
  const std::string output =
      p.output().empty() ? absl::StrCat(c.output_dir(), "/pretrained.tlps") : p.output();
  TAILOR_RETURN_IF_ERROR(env->CreateDirs(output.substr(0, output.rfind('/') + 1)));

  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<LocalTrainer> trainer, LocalTrainer::Create(e.spec));
  TAILOR_RETURN_IF_ERROR(trainer->Load(*e.initial_model));
  PretrainResult result;
  result.output = output;
  PretrainState at;
  if (env->FileExists(output) && env->FileExists(StatePath(output))) {
    TAILOR_ASSIGN_OR_RETURN(at, ReadCheckpoint(output, env));
    TAILOR_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(output));
    TAILOR_ASSIGN_OR_RETURN(ParameterSet saved, DeserializeParameterSet(bytes));
    TAILOR_RETURN_IF_ERROR(Annotate(trainer->Load(saved), absl::StrCat("resuming from ", output)));
    result.resumed = true;
    if (progress != nullptr) {
      absl::FPrintF(progress, "[%s] pretrain: resuming at step %d from %s\n", c.name(),
                    at.steps, output);
    }
  }
  // The base only: LoRA adapters (if the model has them) stay at their initialization.
  const PersonalizationPolicy adapters(e.spec.lora_patterns);
  const TrainableFilter base = [&adapters](const std::string& name) {
    return !adapters.IsPersonal(name);
  };
  TrainOptions options = TrainOptionsFrom(c);
  options.learning_rate = p.learning_rate();
  options.momentum = p.momentum();
  options.epochs = 1;
  options.drop_last = true;
  const size_t batch = static_cast<size_t>(options.batch_size);
  const TaskMetric& bpb = MetricOf(TaskKind::kCausalLanguageModel);
  const absl::Time start = env->Now();
  double tokens_this_run = 0;
  int64_t steps_this_run = 0;
  // The training texts in a seeded order per pass; each chunk takes the next texts.
  std::vector<uint32_t> order;
  uint64_t pass = 0;
  size_t next = 0;
  auto refill = [&] {
    order = train;
    Rng rng(DeriveSeed(c.seed(), {0x7072657472ULL /*"pretr"*/, pass++}));
    rng.Shuffle(&order);
    next = 0;
  };
  refill();
  // Resume where the order was: skip what the checkpointed steps consumed.
  for (int64_t skipped = 0; skipped < at.steps; ++skipped) {
    next += batch;
    if (next + batch > order.size()) refill();
  }
  while (at.steps < total_steps) {
    const int64_t chunk = std::min(every, total_steps - at.steps);
    std::vector<uint32_t> texts;
    double tokens = 0;
    for (int64_t s = 0; s < chunk; ++s) {
      if (next + batch > order.size()) refill();
      for (size_t i = 0; i < batch; ++i) {
        texts.push_back(order[next + i]);
        tokens += static_cast<double>(pool->texts[order[next + i]].size() + 1);
      }
      next += batch;
    }
    TAILOR_ASSIGN_OR_RETURN(
        TrainStats stats,
        trainer->Train(*pool, texts, options, base,
                       DeriveSeed(c.seed(), {0x7374657073ULL /*"steps"*/,
                                             static_cast<uint64_t>(at.steps)})));
    at.steps += chunk;
    steps_this_run += chunk;
    at.tokens += tokens;
    tokens_this_run += tokens;
    TAILOR_ASSIGN_OR_RETURN(EvalStats v, trainer->Evaluate(*pool, val));
    at.val_bpb = bpb.Of(v.correct, v.count, v.loss_sum);
    // The checkpoint: the base model, then the step count (a crash between the two resumes
    // from the older count with the newer model: a few steps repeated, none lost).
    ParameterSet model = trainer->Snapshot();
    ParameterSet base_only;
    for (auto& entry : model.entries()) {
      if (base(entry.name)) (void)base_only.Add(entry.name, entry.tensor);
    }
    TAILOR_RETURN_IF_ERROR(env->WriteFileAtomically(output, SerializeParameterSet(base_only)));
    nlohmann::json state = {{"steps", at.steps}, {"tokens", at.tokens}, {"val_bpb", at.val_bpb}};
    TAILOR_RETURN_IF_ERROR(env->WriteFileAtomically(StatePath(output), state.dump() + "\n"));
    const double elapsed = absl::ToDoubleSeconds(env->Now() - start);
    result.tokens_per_second = elapsed > 0 ? tokens_this_run / elapsed : 0;
    if (progress != nullptr) {
      const double eta = elapsed / static_cast<double>(steps_this_run) *
                         static_cast<double>(total_steps - at.steps);
      absl::FPrintF(progress,
                    "[%s] pretrain step %d/%d | loss %.4f | val bpb %s | %.0f tokens/s | "
                    "elapsed %s | eta %s\n",
                    c.name(), at.steps, total_steps, stats.mean_loss, bpb.Format(at.val_bpb),
                    result.tokens_per_second, FormatDuration(elapsed),
                    FormatDuration(std::isfinite(eta) ? eta : 0));
    }
  }
  result.steps = at.steps;
  result.val_bpb = at.val_bpb;
  return result;
}

}  // namespace tailor
