// `tailor generate --reward_config R`: best-of-N generation for one user or all of them
// (sim/aligned_selection.h). The language model of --config samples N candidates per group; the
// reward run R's global reward model and each user's own (its personal part, adapted as its
// algorithm does before an evaluation) each pick one. With simulated users
// (preference_fortunes) every pick is judged by the user's true utility, which no model sees.
// With --global_reward_config G the global pick is G's global reward model instead (e.g. the
// FedAvg Bradley-Terry run of the same users: the baseline a personal method has to beat).
// With --guidance W the reward models steer each byte instead (ARGS), reading only the next
// bytes after a key/value cache of the text so far. Each user's line records the compute
// behind a text (transformer positions).
//   tailor generate --config LM --reward_config R [--client_id N | --all_users]
//                   [--global_reward_config G] [--best_of 16] [--groups 8]
//                   [--guidance W [--guide_top_k 8] [--guide_cache=false]]
//                   [--selection_jsonl FILE]
#include <cstdio>
#include <fstream>
#include <memory>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/client_runtime.h"
#include "client/personal_store.h"
#include "core/config_loader.h"
#include "core/status_macros.h"
#include "sim/aligned_selection.h"
#include "sim/experiment.h"
#include "tools/commands.h"
#include "tools/reward_picker.h"
#include "tools/selection_report.h"

ABSL_DECLARE_FLAG(int64_t, client_id);
ABSL_FLAG(std::string, reward_config, "",
          "generate: a reward-model experiment (a preference dataset) whose final run picks the "
          "best of --best_of samples: its global reward model and the user's own.");
ABSL_FLAG(std::string, global_reward_config, "",
          "generate: with --reward_config, the global pick is this run's global reward model "
          "(e.g. the FedAvg run of the same simulated users) instead of --reward_config's own.");
ABSL_FLAG(int, best_of, 16, "generate: candidates per pick (with --reward_config).");
ABSL_FLAG(int, groups, 8, "generate: picks per user, each from fresh candidates.");
ABSL_FLAG(bool, all_users, false,
          "generate: every training client of --reward_config, judged by its simulated user's "
          "true utility, with a summary (instead of one --client_id's picks).");
ABSL_FLAG(double, guidance, 0,
          "generate: with --reward_config, > 0 decodes each text guided by the reward model "
          "(ARGS: logit + guidance x reward of the text with each of the --guide_top_k most "
          "likely next bytes) instead of picking the best of --best_of samples.");
ABSL_FLAG(bool, oracle_selection, false,
          "generate: with --all_users, pick by the true utilities themselves (each user's own, and "
          "the mean over --reward_config's training users for the global pick) instead of reward "
          "models: what a perfect personal and a perfect global reward model would do with the same "
          "candidates (a ceiling for the comparison, not a method).");
ABSL_FLAG(int, guide_top_k, 8, "generate: next bytes rescored at each guided step.");
ABSL_FLAG(bool, guide_cache, true,
          "generate: with --guidance, the reward model keeps a key/value cache of the text so "
          "far and reads only each next byte and an end token (the same rewards); false rescores "
          "whole texts at every step (slower; for comparison).");
ABSL_FLAG(std::string, selection_jsonl, "",
          "generate: write one JSON line per user (utilities of each rule's picks).");

namespace tailor {
namespace {

// The global baseline run of --global_reward_config: a reward model judged by the same
// simulated users (the same data options, seed and held-out users, hence the same users in the
// same client order).
absl::StatusOr<std::unique_ptr<LocalTrainer>> LoadBaselineReward(
    const std::string& path, const config::ExperimentConfig& personal_run, Env* env) {
  TAILOR_ASSIGN_OR_RETURN(config::ExperimentConfig run, LoadExperimentConfig(path, env, {}));
  TAILOR_RETURN_IF_ERROR(
      CheckSameUsers(run, personal_run, "--global_reward_config", path, "--reward_config"));
  TAILOR_ASSIGN_OR_RETURN(Experiment e, BuildExperiment(run, env, /*load_data=*/false));
  if (e.spec.task != TaskKind::kPairwisePreference) {
    return absl::InvalidArgumentError(absl::StrCat("--global_reward_config's model ",
                                                   e.spec.architecture, " is not a reward model"));
  }
  TAILOR_ASSIGN_OR_RETURN(ParameterSet final_shared, ReadFinalShared(run, env));
  return LoadGlobalReward(e, final_shared);
}

}  // namespace

int BestOfNCommand(LocalTrainer& language_model, const SelectionOptions& base) {
  Env* env = Env::Default();
  absl::StatusOr<config::ExperimentConfig> rc =
      LoadExperimentConfig(absl::GetFlag(FLAGS_reward_config), env, {});
  if (!rc.ok()) return FailGenerate(rc.status());
  absl::StatusOr<Experiment> e = BuildExperiment(*rc, env, /*load_data=*/true);
  if (!e.ok()) return FailGenerate(e.status());
  if (e->spec.task != TaskKind::kPairwisePreference) {
    return FailGenerate(absl::InvalidArgumentError(absl::StrCat(
        "--reward_config's model ", e->spec.architecture, " is not a reward model")));
  }
  const int64_t training_clients = rc->data().num_clients() - rc->eval().new_clients();
  const int64_t only = absl::GetFlag(FLAGS_client_id);
  const bool all = absl::GetFlag(FLAGS_all_users);
  if (all == (only >= 0) || only >= training_clients) {
    return FailGenerate(absl::InvalidArgumentError(absl::StrCat(
        "give either --all_users or one --client_id in [0, ", training_clients,
        ") of --reward_config's training clients")));
  }
  absl::StatusOr<std::unique_ptr<PersonalStore>> store = PersonalStoreOf(*rc, *e->algorithm, env);
  if (!store.ok()) return FailGenerate(store.status());
  const bool judged = !e->data->simulated_users.empty();
  if (all && !judged) {
    return FailGenerate(absl::InvalidArgumentError(
        "--all_users judges picks by simulated users' true utility: --reward_config's data "
        "must be preference_fortunes"));
  }
  SelectionOptions o = base;
  o.n = absl::GetFlag(FLAGS_best_of);
  o.groups = absl::GetFlag(FLAGS_groups);
  absl::StatusOr<std::vector<std::string>> candidates = SampleCandidates(language_model, o);
  if (!candidates.ok()) return FailGenerate(candidates.status());

  // The reward run's global model: its final shared parameters over the initial model; each
  // user's model is this one with the user's personal part.
  absl::StatusOr<ParameterSet> global_shared = ReadFinalShared(*rc, env);
  if (!global_shared.ok()) return FailGenerate(global_shared.status());
  absl::StatusOr<std::unique_ptr<LocalTrainer>> reward = LoadGlobalReward(*e, *global_shared);
  if (!reward.ok()) return FailGenerate(reward.status());
  // The global pick's model: that one, or the baseline run's.
  const std::string baseline_path = absl::GetFlag(FLAGS_global_reward_config);
  absl::StatusOr<std::unique_ptr<LocalTrainer>> baseline =
      baseline_path.empty() ? absl::StatusOr<std::unique_ptr<LocalTrainer>>(nullptr)
                            : LoadBaselineReward(baseline_path, *rc, env);
  if (!baseline.ok()) return FailGenerate(baseline.status());
  LocalTrainer& global_reward = *baseline != nullptr ? **baseline : **reward;
  absl::StatusOr<std::vector<double>> global_scores = global_reward.Reward(o.prompt, *candidates);
  if (!global_scores.ok()) return FailGenerate(global_scores.status());
  absl::Status s;
  // The oracle: true utilities instead of reward scores (a benchmark's ceiling).
  const bool oracle = absl::GetFlag(FLAGS_oracle_selection);
  if (oracle && (!all || !judged || absl::GetFlag(FLAGS_guidance) > 0 || !baseline_path.empty())) {
    return FailGenerate(absl::InvalidArgumentError(
        "--oracle_selection needs --all_users over simulated users, without --guidance or "
        "--global_reward_config"));
  }
  std::vector<std::vector<double>> true_utility;
  if (oracle) {
    std::vector<double> mean(candidates->size(), 0.0);
    for (int64_t client = 0; client < training_clients; ++client) {
      const SimulatedUser& user = e->data->simulated_users[static_cast<size_t>(client)];
      std::vector<double> u;
      for (const std::string& text : *candidates) {
        u.push_back(TrueUtility(user, *e->data->score_normalizer, text));
      }
      for (size_t i = 0; i < u.size(); ++i) mean[i] += u[i] / static_cast<double>(training_clients);
      true_utility.push_back(std::move(u));
    }
    *global_scores = std::move(mean);
  }
  const std::vector<size_t> global_picks = PickBest(*global_scores, o.n);
  // Reward-guided decoding instead of picking: `groups` texts, each step steered by the loaded
  // reward model; the same seeds for every reward model, so only the guide differs. Adds the
  // guide's positions to *guide_positions.
  const double guidance = absl::GetFlag(FLAGS_guidance);
  auto guided_texts = [&](LocalTrainer& guide_model,
                          int64_t* guide_positions) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> texts;
    for (int g = 0; g < o.groups; ++g) {
      std::unique_ptr<TextGuide> guide;
      if (absl::GetFlag(FLAGS_guide_cache)) {
        TAILOR_ASSIGN_OR_RETURN(guide, guide_model.RewardGuide(o.prompt));
      } else {
        guide = WholeTextGuide(
            [&](const std::vector<std::string>& t) { return guide_model.Reward(o.prompt, t); },
            ScoringPositions(o.prompt, ""));
      }
      GenerationOptions gen = o.generation;
      gen.seed = o.generation.seed + 7000003 + static_cast<uint64_t>(g);
      gen.guide_weight = guidance;
      gen.guide_top_k = absl::GetFlag(FLAGS_guide_top_k);
      TAILOR_ASSIGN_OR_RETURN(std::string text, language_model.GenerateGuided(o.prompt, gen, *guide));
      *guide_positions += guide->positions();
      texts.push_back(std::move(text));
    }
    return texts;
  };
  // Best-of-N's compute per pick: every candidate sampled, and scored by the user's model.
  int64_t candidate_positions = 0;
  for (const std::string& c : *candidates) {
    candidate_positions += SamplingPositions(o.prompt, c) + ScoringPositions(o.prompt, c);
  }
  std::vector<std::string> global_texts;
  if (guidance > 0) {
    int64_t unused = 0;
    absl::StatusOr<std::vector<std::string>> texts = guided_texts(global_reward, &unused);
    if (!texts.ok()) return FailGenerate(texts.status());
    global_texts = *std::move(texts);
  } else {
    for (size_t pick : global_picks) global_texts.push_back((*candidates)[pick]);
  }

  std::vector<JudgedUser> results;
  for (int64_t client = all ? 0 : only; client < (all ? training_clients : only + 1); ++client) {
    ClientRuntime runtime(ClientContextFor(*e, client, store->get()));
    s = runtime.LoadPersonalizedModel(*global_shared, TrainOptionsFrom(*rc), rc->seed(), **reward);
    if (!s.ok()) return FailGenerate(Annotate(s, absl::StrCat("client ", client)));
    absl::StatusOr<std::vector<double>> personal =
        oracle ? absl::StatusOr<std::vector<double>>(true_utility[static_cast<size_t>(client)])
               : (*reward)->Reward(o.prompt, *candidates);
    if (!personal.ok()) return FailGenerate(personal.status());
    const std::vector<size_t> picks = PickBest(*personal, o.n);
    std::vector<std::string> mine;
    int64_t positions = candidate_positions;
    if (guidance > 0) {
      positions = 0;
      absl::StatusOr<std::vector<std::string>> texts = guided_texts(**reward, &positions);
      if (!texts.ok()) return FailGenerate(texts.status());
      mine = *std::move(texts);
      for (const std::string& t : mine) positions += SamplingPositions(o.prompt, t);
    } else {
      for (size_t pick : picks) mine.push_back((*candidates)[pick]);
    }
    std::vector<double> utility;
    if (judged) {
      const SimulatedUser& user = e->data->simulated_users[static_cast<size_t>(client)];
      for (const std::string& text : *candidates) {
        utility.push_back(TrueUtility(user, *e->data->score_normalizer, text));
      }
      JudgedUser j{client, user.minority, JudgeSelection(utility, *personal, *global_scores, o.n)};
      if (guidance > 0) {  // the guided texts' own utilities; random and oracle as before
        j.outcome.personal = j.outcome.global = 0;
        for (const std::string& t : mine) {
          j.outcome.personal += TrueUtility(user, *e->data->score_normalizer, t) / mine.size();
        }
        for (const std::string& t : global_texts) {
          j.outcome.global += TrueUtility(user, *e->data->score_normalizer, t) / global_texts.size();
        }
      }
      absl::StatusOr<double> bpb = BitsPerByte(language_model, mine);
      if (!bpb.ok()) return FailGenerate(bpb.status());
      j.bits_per_byte = *bpb;
      j.distinct2 = DistinctNgrams(mine, 2);
      j.positions_per_text = static_cast<double>(positions) / static_cast<double>(mine.size());
      results.push_back(std::move(j));
    }
    if (all) continue;
    std::printf("== %s for client %d (%s), %d texts\n",
                guidance > 0 ? "reward-guided decoding" : absl::StrCat("best of ", o.n).c_str(),
                static_cast<int>(client), e->data->client_names[static_cast<size_t>(client)].c_str(),
                o.groups);
    const SimulatedUser* user =
        judged ? &e->data->simulated_users[static_cast<size_t>(client)] : nullptr;
    for (size_t g = 0; g < mine.size(); ++g) {
      for (const auto& [rule, text] : {std::make_pair("personal", &mine[g]),
                                       std::make_pair("global", &global_texts[g])}) {
        std::printf("%-8s %s%s\n", rule,
                    user != nullptr
                        ? absl::StrFormat("[utility %+.2f] ",
                                          TrueUtility(*user, *e->data->score_normalizer, *text))
                              .c_str()
                        : "",
                    OneLine(*text).c_str());
      }
    }
  }
  if (!judged) return 0;

  const std::string global_source =
      baseline_path.empty() ? "" : absl::StrCat(" (global model: ", baseline_path, ")");
  const SelectionLabels labels{
      guidance > 0
          ? absl::StrFormat("reward-guided decoding (weight %g, %d next bytes rescored a step), "
                            "%d texts for each of %d users, judged by each user's true utility; "
                            "the oracle picks the best of %d base samples%s:",
                            guidance, absl::GetFlag(FLAGS_guide_top_k), o.groups, results.size(),
                            o.n, global_source)
          : absl::StrFormat("best of %d, %d picks for each of %d users, judged by each user's "
                            "true utility%s:",
                            o.n, o.groups, results.size(), global_source),
      guidance > 0 ? "guided by the user's model" : "the user's reward model",
      guidance > 0 ? "guided by the global model" : "the global reward model"};
  return FinishSelectionReport(language_model, results, global_texts, *candidates, labels,
                               absl::GetFlag(FLAGS_selection_jsonl), env);
}

}  // namespace tailor
