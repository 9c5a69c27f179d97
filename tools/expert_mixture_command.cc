// `tailor generate --config EXPERTS --users_config USERS --all_users --mix soup|mod`:
// Personalized Soups (Jang et al. 2023) and MOD (Shi et al. 2024) on the simulated users.
// EXPERTS is a finished run whose clients are the archetypes' labellers
// (data.preference.archetype_users) and whose algorithm gives each a personal adapter (byte_dpo
// with oppu): one expert language model per preference dimension, trained once. For each user of
// USERS (any preference_fortunes config: its seed and alpha give the users), the experts are
// mixed by that user's weights over the archetypes, with no training for the user:
//   soup  the adapters' weight deltas summed into one model (models/lora_soup.h);
//   mod   each byte from the experts' log-probabilities summed with the same weights.
// The weights are the ones the user declares, as in Personalized Soups (the simulator's
// archetype weights; weights below 1% dropped, the rest renormalized, so MOD runs the few
// experts a user cares about). The global row mixes the experts by the population's mean
// weights: one model for everyone. Every text is judged as `--all_users` judges tuned models.
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/client_runtime.h"
#include "client/personal_store.h"
#include "core/config_loader.h"
#include "core/status_macros.h"
#include "data/preference_scorers.h"
#include "models/lora_soup.h"
#include "sim/aligned_selection.h"
#include "sim/experiment.h"
#include "tools/commands.h"
#include "tools/reward_picker.h"
#include "tools/selection_report.h"

ABSL_DECLARE_FLAG(int, best_of);
ABSL_DECLARE_FLAG(int, groups);
ABSL_DECLARE_FLAG(std::string, selection_jsonl);
ABSL_FLAG(std::string, users_config, "",
          "generate: with --all_users and an archetype-expert --config, the simulated users to "
          "mix the experts for (a preference_fortunes config).");
ABSL_FLAG(std::string, mix, "soup",
          "generate: how --users_config's users mix the experts: soup (merged parameters) or "
          "mod (mixed log-probabilities at each byte).");

namespace tailor {
namespace {

// Weights below this share are dropped (and the rest renormalized).
constexpr double kSmallestWeight = 0.01;

std::vector<double> Renormalized(std::vector<double> w) {
  double sum = 0;
  for (double& v : w) {
    if (v < kSmallestWeight) v = 0;
    sum += v;
  }
  for (double& v : w) v = sum > 0 ? v / sum : 0;
  return w;
}

// The archetype experts of a finished run, one loaded model each, in Archetypes() order.
struct Experts {
  std::vector<std::unique_ptr<LocalTrainer>> models;
  std::vector<ParameterSet> parameters;
  double lora_scale = 0;
};

absl::StatusOr<Experts> LoadExperts(const config::ExperimentConfig& run, const Experiment& e,
                                    Env* env) {
  const size_t count = Archetypes().size();
  if (!e.data || e.data->simulated_users.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--config must be a run with one client per archetype (data.preference.archetype_users "
        "and data.num_clients ", count, "); it has ", e.data->simulated_users.size(),
        " simulated users"));
  }
  if (e.spec.options.lora.rank <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--config's model ", e.spec.architecture,
                                                   " has no LoRA adapters to mix"));
  }
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<PersonalStore> store,
                          PersonalStoreOf(run, *e.algorithm, env));
  TAILOR_ASSIGN_OR_RETURN(ParameterSet global_shared, ReadFinalShared(run, env));
  Experts out;
  out.lora_scale = e.spec.options.lora.alpha / e.spec.options.lora.rank;
  out.models.resize(count);
  out.parameters.resize(count);
  for (size_t client = 0; client < count; ++client) {
    const int archetype = e.data->simulated_users[client].archetype;
    if (archetype < 0 || static_cast<size_t>(archetype) >= count || out.models[archetype]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--config's client ", client, " is not the expert of a distinct archetype (set "
          "data.preference.archetype_users)"));
    }
    TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<LocalTrainer> model, LocalTrainer::Create(e.spec));
    TAILOR_RETURN_IF_ERROR(model->Load(*e.initial_model));
    ClientRuntime runtime(ClientContextFor(e, static_cast<int64_t>(client), store.get()));
    TAILOR_RETURN_IF_ERROR(Annotate(
        runtime.LoadPersonalizedModel(global_shared, TrainOptionsFrom(run), run.seed(), *model),
        absl::StrCat("expert ", Archetypes()[archetype].name)));
    out.parameters[archetype] = model->Snapshot();
    out.models[archetype] = std::move(model);
  }
  return out;
}

// `count` texts from the experts mixed by `weights`, seeds from `seed` on.
absl::StatusOr<std::vector<std::string>> MixtureSamples(const std::string& mix, Experts& experts,
                                                        const std::vector<double>& weights,
                                                        LocalTrainer& soup_model,
                                                        const SelectionOptions& o, int count,
                                                        uint64_t seed) {
  if (mix == "soup") {
    std::vector<const ParameterSet*> sets;
    for (const ParameterSet& p : experts.parameters) sets.push_back(&p);
    TAILOR_ASSIGN_OR_RETURN(ParameterSet soup,
                            MergeLoraExperts(sets, weights, experts.lora_scale));
    // The language model takes the folded weights (the expert model's extra tensors, none
    // for byte_dpo, would have no place in it).
    const ParameterSet places = soup_model.Snapshot();
    ParameterSet known;
    for (const NamedTensor& t : soup.entries()) {
      if (places.Find(t.name) != nullptr) {
        TAILOR_RETURN_IF_ERROR(known.Add(t.name, t.tensor));
      }
    }
    TAILOR_RETURN_IF_ERROR(soup_model.Load(known));
    return Samples(soup_model, o, count, seed);
  }
  std::vector<LocalTrainer*> models;
  std::vector<double> used;
  for (size_t k = 0; k < weights.size(); ++k) {
    if (weights[k] == 0) continue;
    models.push_back(experts.models[k].get());
    used.push_back(weights[k]);
  }
  std::vector<std::string> texts;
  GenerationOptions g = o.generation;
  for (int i = 0; i < count; ++i) {
    g.seed = seed + static_cast<uint64_t>(i);
    TAILOR_ASSIGN_OR_RETURN(std::string text, GenerateMixture(models, used, o.prompt, g));
    texts.push_back(std::move(text));
  }
  return texts;
}

absl::Status Run(const config::ExperimentConfig& run, const SelectionOptions& base, Env* env) {
  const std::string mix = absl::GetFlag(FLAGS_mix);
  if (mix != "soup" && mix != "mod") {
    return absl::InvalidArgumentError(absl::StrCat("--mix must be soup or mod, got '", mix, "'"));
  }
  TAILOR_ASSIGN_OR_RETURN(Experiment e, BuildExperiment(run, env, /*load_data=*/true));
  TAILOR_ASSIGN_OR_RETURN(Experts experts, LoadExperts(run, e, env));
  TAILOR_ASSIGN_OR_RETURN(config::ExperimentConfig users_run,
                          LoadExperimentConfig(absl::GetFlag(FLAGS_users_config), env, {}));
  TAILOR_ASSIGN_OR_RETURN(Experiment u, BuildExperiment(users_run, env, /*load_data=*/true));
  if (!u.data || u.data->simulated_users.empty()) {
    return absl::InvalidArgumentError("--users_config's data must be preference_fortunes");
  }
  TAILOR_ASSIGN_OR_RETURN(ModelSpec lm_spec, BaseLanguageModel(e.spec));
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<LocalTrainer> base_lm, LocalTrainer::Create(lm_spec));
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<LocalTrainer> soup_model, LocalTrainer::Create(lm_spec));
  TAILOR_RETURN_IF_ERROR(base_lm->Load(*e.initial_model));
  TAILOR_RETURN_IF_ERROR(soup_model->Load(*e.initial_model));

  SelectionOptions o = base;
  o.n = absl::GetFlag(FLAGS_best_of);
  o.groups = absl::GetFlag(FLAGS_groups);
  TAILOR_ASSIGN_OR_RETURN(std::vector<std::string> candidates, SampleCandidates(*base_lm, o));

  // The same users and seeds as `--all_users` on a tuned run of USERS.
  const int64_t training_clients = users_run.data().num_clients() - users_run.eval().new_clients();
  std::vector<double> mean(Archetypes().size(), 0.0);
  for (int64_t client = 0; client < training_clients; ++client) {
    const auto& w = u.data->simulated_users[static_cast<size_t>(client)].archetype_weights;
    for (size_t a = 0; a < mean.size(); ++a) {
      mean[a] += w[a] / static_cast<double>(training_clients);
    }
  }
  // With --pick_with, best of m of the mixture's samples by the reward run's models.
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<RewardPicker> picker,
                          PickerFromFlags(users_run, "--users_config", env));
  const int m = SamplesPerPick();
  // Language models each sampled byte runs: one soup, or MOD's experts with weight.
  auto models_per_byte = [&](const std::vector<double>& w) {
    int used = 0;
    for (double v : w) used += v > 0;
    return mix == "soup" ? 1 : used;
  };
  const uint64_t seed = o.generation.seed;
  const std::vector<double> population = Renormalized(mean);
  TAILOR_ASSIGN_OR_RETURN(std::vector<std::string> global_samples,
                          MixtureSamples(mix, experts, population, *soup_model, o, o.groups * m,
                                         seed + 1000003));
  TAILOR_ASSIGN_OR_RETURN(PickedTexts global_texts,
                          PickOrKeep(picker.get(), -1, o.prompt, global_samples, m,
                                     models_per_byte(population)));
  // Z-scoring by the users' own candidate pool (the experts' is the same fortunes).
  const ScoreNormalizer& z = *u.data->score_normalizer;
  std::vector<JudgedUser> results;
  for (int64_t client = 0; client < training_clients; ++client) {
    const SimulatedUser& user = u.data->simulated_users[static_cast<size_t>(client)];
    const std::vector<double> weights = Renormalized(user.archetype_weights);
    TAILOR_ASSIGN_OR_RETURN(
        std::vector<std::string> samples,
        MixtureSamples(mix, experts, weights, *soup_model, o, o.groups * m,
                       seed + 2000003 + static_cast<uint64_t>(client * o.groups * m)));
    TAILOR_ASSIGN_OR_RETURN(PickedTexts mine, PickOrKeep(picker.get(), client, o.prompt, samples,
                                                         m, models_per_byte(weights)));
    TAILOR_ASSIGN_OR_RETURN(JudgedUser j, JudgeUserTexts(client, user, z, candidates, o.n,
                                                         mine.texts, global_texts.texts, *base_lm));
    j.positions_per_text = mine.positions_per_text;
    results.push_back(std::move(j));
  }
  const SelectionLabels labels{
      absl::StrFormat("%d %s for each of %d users from %d archetype experts (%s) mixed by "
                      "the user's weights, judged by each user's true utility; the oracle picks "
                      "the best of %d base samples:",
                      o.groups,
                      m > 1 ? absl::StrFormat("picks (best of %d by --pick_with's reward models)", m)
                            : std::string("samples"),
                      results.size(), experts.models.size(),
                      mix == "soup" ? "Personalized Soups" : "MOD decoding", o.n),
      "the user's mixture", "the population's mixture"};
  const int code = FinishSelectionReport(*base_lm, results, global_texts.texts, candidates, labels,
                                         absl::GetFlag(FLAGS_selection_jsonl), env);
  return code == 0 ? absl::OkStatus() : absl::InternalError("the report failed");
}

}  // namespace

int JudgeExpertMixturesCommand(const config::ExperimentConfig& run, const SelectionOptions& base) {
  absl::Status s = Run(run, base, Env::Default());
  return s.ok() ? 0 : FailGenerate(s);
}

}  // namespace tailor
