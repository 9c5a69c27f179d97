// `tailor generate`: text from a language model version, and from one client's personalized
// model beside it, so a user can see what personalization did.
//   tailor generate --config FILE [--model FILE] [--client_id N] [--prompt TEXT]
//                   [--samples 3] [--max_bytes 200] [--temperature 0.8] [--top_k 0]
//                   [--top_p 0.95] [--seed 1] [--samples_jsonl FILE]
// --samples_jsonl writes the model's samples as JSON Lines ({"user", "text"}) instead of printing
// them: e.g. the candidates simulated users judge (data.preference.candidates_path).
// With --reward_config, the best of N samples for a user (tools/best_of_n_command.cc); with
// --all_users alone, every simulated user's own tuned model (tools/tuned_generation_command.cc);
// with --all_users and --users_config, archetype experts mixed for each user
// (tools/expert_mixture_command.cc); either with --pick_with RUN --pick_from m, the best of m
// samples by RUN's reward models (tools/reward_picker.h).
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/client_runtime.h"
#include "core/env.h"
#include "client/personal_store.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "sim/aligned_selection.h"
#include "sim/experiment.h"
#include "tools/commands.h"

ABSL_DECLARE_FLAG(int64_t, client_id);
ABSL_DECLARE_FLAG(std::string, reward_config);
ABSL_DECLARE_FLAG(bool, all_users);
ABSL_DECLARE_FLAG(std::string, users_config);
ABSL_FLAG(std::string, model, "",
          "generate: the shared parameters to load (a .tlps file); default OUTPUT_DIR/"
          "final_shared.tlps when it exists, else the experiment's initial model.");
ABSL_FLAG(std::string, prompt, "", "generate: the text to continue.");
ABSL_FLAG(int, samples, 3, "generate: samples per model.");
ABSL_FLAG(int, max_bytes, 200, "generate: bytes per sample at most.");
ABSL_FLAG(double, temperature, 0.8, "generate: sampling temperature (0: greedy).");
ABSL_FLAG(int, top_k, 0, "generate: sample among the k most likely bytes (0: all).");
ABSL_FLAG(double, top_p, 0.95, "generate: nucleus sampling mass (1: all).");
ABSL_FLAG(uint64_t, sample_seed, 1, "generate: seed of the first sample (the next add 1).");
ABSL_FLAG(std::string, samples_jsonl, "",
          "generate: write the global model's --samples as JSON Lines ({\"user\": \"samples\", "
          "\"text\": ...}, data.preference.candidates_path's format) instead of printing them.");

namespace tailor {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "tailor generate: %s\n", status.ToString().c_str());
  return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
}

GenerationOptions GenerationOptionsFromFlags() {
  GenerationOptions o;
  o.temperature = absl::GetFlag(FLAGS_temperature);
  o.top_k = absl::GetFlag(FLAGS_top_k);
  o.top_p = absl::GetFlag(FLAGS_top_p);
  o.max_bytes = absl::GetFlag(FLAGS_max_bytes);
  o.seed = absl::GetFlag(FLAGS_sample_seed);
  return o;
}

// --samples of the loaded model into a JSON Lines file, one {"user", "text"} object a line.
absl::Status WriteSamples(LocalTrainer& trainer, const std::string& path) {
  GenerationOptions o = GenerationOptionsFromFlags();
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  std::string lines;
  const int samples = absl::GetFlag(FLAGS_samples);
  for (int i = 0; i < samples; ++i) {
    o.seed = absl::GetFlag(FLAGS_sample_seed) + static_cast<uint64_t>(i);
    TAILOR_ASSIGN_OR_RETURN(std::string text, trainer.Generate(prompt, o));
    // A byte model may write bytes that are not UTF-8; JSON holds text, so those become U+FFFD.
    lines += nlohmann::json{{"user", "samples"}, {"text", prompt + text}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    lines += '\n';
  }
  TAILOR_RETURN_IF_ERROR(Env::Default()->WriteFileAtomically(path, lines));
  std::printf("wrote %d samples to %s\n", samples, path.c_str());
  return absl::OkStatus();
}

absl::Status PrintSamples(LocalTrainer& trainer, const std::string& heading) {
  std::printf("== %s\n", heading.c_str());
  GenerationOptions o = GenerationOptionsFromFlags();
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  for (int i = 0; i < absl::GetFlag(FLAGS_samples); ++i) {
    o.seed = absl::GetFlag(FLAGS_sample_seed) + static_cast<uint64_t>(i);
    absl::StatusOr<std::string> text = trainer.Generate(prompt, o);
    if (!text.ok()) return text.status();
    std::printf("--- sample %d (seed %llu)\n%s%s\n", i + 1,
                static_cast<unsigned long long>(o.seed), prompt.c_str(), text->c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tailor

int tailor::GenerateCommand() {
  auto loaded = LoadConfigsFromFlags("generate");
  if (!loaded.ok()) return 2;
  const config::ExperimentConfig& c = loaded->front();
  Env* env = Env::Default();
  if (absl::GetFlag(FLAGS_all_users) && absl::GetFlag(FLAGS_reward_config).empty()) {
    SelectionOptions o;
    o.prompt = absl::GetFlag(FLAGS_prompt);
    o.generation = GenerationOptionsFromFlags();
    return absl::GetFlag(FLAGS_users_config).empty() ? JudgeTunedModelsCommand(c, o)
                                                     : JudgeExpertMixturesCommand(c, o);
  }
  // With a reward run, --client_id names one of its users (best-of-N picks for that user).
  const bool best_of_n = !absl::GetFlag(FLAGS_reward_config).empty();
  const int64_t client = best_of_n ? -1 : absl::GetFlag(FLAGS_client_id);
  if (client >= c.data().num_clients()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--client_id must be in [0, ", c.data().num_clients(), ")")));
  }
  absl::StatusOr<Experiment> e = BuildExperiment(c, env, /*load_data=*/client >= 0);
  if (!e.ok()) return Fail(e.status());
  absl::StatusOr<std::unique_ptr<LocalTrainer>> trainer = LocalTrainer::Create(e->spec);
  if (!trainer.ok()) return Fail(trainer.status());
  // The model version: a file named on the command line, the run's final model, or the start.
  std::string source = absl::GetFlag(FLAGS_model);
  const std::string final_model = c.output_dir() + "/final_shared.tlps";
  if (source.empty() && env->FileExists(final_model)) source = final_model;
  ParameterSet global_shared = e->algorithm->policy().Shared(*e->initial_model);
  if (!source.empty()) {
    absl::StatusOr<std::string> bytes = env->ReadFile(source);
    if (!bytes.ok()) return Fail(bytes.status());
    absl::StatusOr<ParameterSet> loaded_model = DeserializeParameterSet(*bytes);
    if (!loaded_model.ok()) return Fail(Annotate(loaded_model.status(), source));
    global_shared = *std::move(loaded_model);
  }
  absl::Status s = (*trainer)->Load(*e->initial_model);
  if (s.ok()) s = Annotate((*trainer)->Load(global_shared), source);
  if (s.ok() && best_of_n) {
    SelectionOptions o;
    o.prompt = absl::GetFlag(FLAGS_prompt);
    o.generation = GenerationOptionsFromFlags();
    return BestOfNCommand(**trainer, o);
  }
  const std::string samples_jsonl = absl::GetFlag(FLAGS_samples_jsonl);
  if (s.ok() && !samples_jsonl.empty()) {
    if (client >= 0) {
      return Fail(absl::InvalidArgumentError(
          "--samples_jsonl writes the global model's samples; leave out --client_id"));
    }
    s = WriteSamples(**trainer, samples_jsonl);
  } else if (s.ok()) {
    s = PrintSamples(**trainer,
                     absl::StrCat("global model (", source.empty() ? "initial model" : source, ")"));
  }
  if (!s.ok()) return Fail(s);
  if (client < 0) return 0;
  // The client's own model: its stored personal part (simulation.personal_state_dir; without
  // one, a fresh device's) adapted as its algorithm does before an evaluation.
  std::unique_ptr<PersonalStore> store;
  if (c.simulation().personal_state_dir().empty()) {
    store = std::make_unique<InMemoryPersonalStore>();
  } else {
    store = std::make_unique<DirectoryPersonalStore>(c.simulation().personal_state_dir(), env);
  }
  ClientRuntime runtime(ClientContextFor(*e, client, store.get()));
  s = runtime.LoadPersonalizedModel(global_shared, TrainOptionsFrom(c), c.seed(), **trainer);
  if (s.ok()) {
    const std::string name = e->data->client_names.empty()
                                 ? ""
                                 : absl::StrCat(" (", e->data->client_names[client], ")");
    s = PrintSamples(**trainer, absl::StrCat("client ", client, name, ", personalized by ",
                                             e->algorithm->name()));
  }
  return s.ok() ? 0 : Fail(s);
}
