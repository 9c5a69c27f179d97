// `tailor generate --config RUN --all_users` for a language model tuned on simulated users'
// preferences (byte_dpo with a personal adapter, say): each training user's own model samples
// texts, so do the run's global model and the untuned base, and the user's true utility judges
// them all (tools/selection_report.h): the user's own model against the global one, the base's
// mean candidate and the best of each group of the base's candidates (best-of-N with an oracle).
#include <cstdio>
#include <memory>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "client/client_runtime.h"
#include "client/personal_store.h"
#include "core/status_macros.h"
#include "sim/aligned_selection.h"
#include "sim/experiment.h"
#include "tools/commands.h"
#include "tools/reward_picker.h"
#include "tools/selection_report.h"

ABSL_DECLARE_FLAG(int, best_of);
ABSL_DECLARE_FLAG(int, groups);
ABSL_DECLARE_FLAG(std::string, selection_jsonl);

namespace tailor {

int JudgeTunedModelsCommand(const config::ExperimentConfig& c, const SelectionOptions& base) {
  Env* env = Env::Default();
  absl::StatusOr<Experiment> e = BuildExperiment(c, env, /*load_data=*/true);
  if (!e.ok()) return FailGenerate(e.status());
  if (e->data->simulated_users.empty()) {
    return FailGenerate(absl::InvalidArgumentError(
        "--all_users judges texts by simulated users' true utility: the config's data must be "
        "preference_fortunes (or give --reward_config to pick with a reward run)"));
  }
  absl::StatusOr<std::unique_ptr<PersonalStore>> store = PersonalStoreOf(c, *e->algorithm, env);
  if (!store.ok()) return FailGenerate(store.status());
  absl::StatusOr<ModelSpec> lm_spec = BaseLanguageModel(e->spec);
  if (!lm_spec.ok()) return FailGenerate(lm_spec.status());
  absl::StatusOr<std::unique_ptr<LocalTrainer>> base_lm = LocalTrainer::Create(*lm_spec);
  absl::StatusOr<std::unique_ptr<LocalTrainer>> tuned = LocalTrainer::Create(e->spec);
  if (!base_lm.ok()) return FailGenerate(base_lm.status());
  if (!tuned.ok()) return FailGenerate(tuned.status());
  absl::Status s = (*base_lm)->Load(*e->initial_model);
  if (!s.ok()) return FailGenerate(s);

  SelectionOptions o = base;
  o.n = absl::GetFlag(FLAGS_best_of);
  o.groups = absl::GetFlag(FLAGS_groups);
  absl::StatusOr<std::vector<std::string>> candidates = SampleCandidates(**base_lm, o);
  if (!candidates.ok()) return FailGenerate(candidates.status());

  absl::StatusOr<ParameterSet> global_shared = ReadFinalShared(c, env);
  if (!global_shared.ok()) return FailGenerate(global_shared.status());
  s = (*tuned)->Load(*e->initial_model);
  if (s.ok()) s = (*tuned)->Load(*global_shared);
  if (!s.ok()) return FailGenerate(s);
  // With --pick_with, best of m of the tuned model's samples by the reward run's models.
  absl::StatusOr<std::unique_ptr<RewardPicker>> picker = PickerFromFlags(c, "--config", env);
  if (!picker.ok()) return FailGenerate(picker.status());
  const int m = SamplesPerPick();
  const uint64_t seed = o.generation.seed;
  absl::StatusOr<std::vector<std::string>> global_samples =
      Samples(**tuned, o, o.groups * m, seed + 1000003);
  if (!global_samples.ok()) return FailGenerate(global_samples.status());
  absl::StatusOr<PickedTexts> global_texts =
      PickOrKeep(picker->get(), -1, o.prompt, *global_samples, m, 1);
  if (!global_texts.ok()) return FailGenerate(global_texts.status());

  const ScoreNormalizer& z = *e->data->score_normalizer;
  const int64_t training_clients = c.data().num_clients() - c.eval().new_clients();
  std::vector<JudgedUser> results;
  for (int64_t client = 0; client < training_clients; ++client) {
    ClientRuntime runtime(ClientContextFor(*e, client, store->get()));
    s = runtime.LoadPersonalizedModel(*global_shared, TrainOptionsFrom(c), c.seed(), **tuned);
    if (!s.ok()) return FailGenerate(Annotate(s, absl::StrCat("client ", client)));
    absl::StatusOr<std::vector<std::string>> samples = Samples(
        **tuned, o, o.groups * m, seed + 2000003 + static_cast<uint64_t>(client * o.groups * m));
    if (!samples.ok()) return FailGenerate(samples.status());
    absl::StatusOr<PickedTexts> mine = PickOrKeep(picker->get(), client, o.prompt, *samples, m, 1);
    if (!mine.ok()) return FailGenerate(mine.status());
    absl::StatusOr<JudgedUser> j =
        JudgeUserTexts(client, e->data->simulated_users[static_cast<size_t>(client)], z,
                       *candidates, o.n, mine->texts, global_texts->texts, **base_lm);
    if (!j.ok()) return FailGenerate(j.status());
    j->positions_per_text = mine->positions_per_text;
    results.push_back(*std::move(j));
  }
  const SelectionLabels labels{
      absl::StrFormat("%d %s of each of %d users' own models (%s), judged by each user's "
                      "true utility; the oracle picks the best of %d base samples:",
                      o.groups,
                      m > 1 ? absl::StrFormat("picks (best of %d by --pick_with's reward models)", m)
                            : std::string("samples"),
                      results.size(), e->algorithm->name(), o.n),
      "the user's own model", "the global model"};
  return FinishSelectionReport(**base_lm, results, global_texts->texts, *candidates, labels,
                               absl::GetFlag(FLAGS_selection_jsonl), env);
}

}  // namespace tailor
