// `tailor generate --reward_config R`: best-of-N generation for one user or all of them
// (sim/aligned_selection.h). The language model of --config samples N candidates per group; the
// reward run R's global reward model and each user's own (its personal part, adapted as its
// algorithm does before an evaluation) each pick one. With simulated users
// (preference_fortunes) every pick is judged by the user's true utility, which no model sees.
//   tailor generate --config LM --reward_config R [--client_id N | --all_users]
//                   [--best_of 16] [--groups 8] [--selection_jsonl FILE]
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
#include "core/serialization.h"
#include "core/status_macros.h"
#include "sim/aligned_selection.h"
#include "sim/experiment.h"
#include "tools/commands.h"

ABSL_DECLARE_FLAG(int64_t, client_id);
ABSL_FLAG(std::string, reward_config, "",
          "generate: a reward-model experiment (a preference dataset) whose final run picks the "
          "best of --best_of samples: its global reward model and the user's own.");
ABSL_FLAG(int, best_of, 16, "generate: candidates per pick (with --reward_config).");
ABSL_FLAG(int, groups, 8, "generate: picks per user, each from fresh candidates.");
ABSL_FLAG(bool, all_users, false,
          "generate: every training client of --reward_config, judged by its simulated user's "
          "true utility, with a summary (instead of one --client_id's picks).");
ABSL_FLAG(std::string, selection_jsonl, "",
          "generate: write one JSON line per user (utilities of each rule's picks).");

namespace tailor {
namespace {

struct Judged {
  int64_t client;
  std::string name;
  bool minority;
  UserSelection outcome;
  // The hacking guards on this user's personal picks.
  double bits_per_byte = 0;
  double distinct2 = 0;
};

// The reward run's global model: its final shared parameters over the initial model.
absl::Status LoadGlobalReward(const config::ExperimentConfig& c, const Experiment& e, Env* env,
                              LocalTrainer& trainer, ParameterSet* global_shared) {
  const std::string path = c.output_dir() + "/final_shared.tlps";
  if (!env->FileExists(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " does not exist: run `tailor simulate` on the reward config first"));
  }
  TAILOR_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
  absl::StatusOr<ParameterSet> shared = DeserializeParameterSet(bytes);
  if (!shared.ok()) return Annotate(shared.status(), path);
  *global_shared = *std::move(shared);
  TAILOR_RETURN_IF_ERROR(trainer.Load(*e.initial_model));
  return Annotate(trainer.Load(*global_shared), path);
}

std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& ch : out) {
    if (ch == '\n') ch = '|';
  }
  return out.size() > 100 ? out.substr(0, 97) + "..." : out;
}

// One user's line; `global_guards` and `candidate_guards`: bits per byte and distinct-2 of the
// global model's picks and of all candidates (the same for every user).
std::string JsonLine(const Judged& j, const std::pair<double, double>& global_guards,
                     const std::pair<double, double>& candidate_guards) {
  const UserSelection& o = j.outcome;
  return absl::StrFormat(
      "{\"client\":%d,\"minority\":%s,\"personal\":%.6f,\"global\":%.6f,\"random\":%.6f,"
      "\"best\":%.6f,\"normalized_gain\":%.6f,\"global_normalized_gain\":%.6f,"
      "\"bpb\":%.4f,\"distinct2\":%.4f,\"global_bpb\":%.4f,\"global_distinct2\":%.4f,"
      "\"candidates_bpb\":%.4f,\"candidates_distinct2\":%.4f}",
      j.client, j.minority ? "true" : "false", o.personal, o.global, o.random, o.best,
      o.normalized_gain(), o.global_normalized_gain(), j.bits_per_byte, j.distinct2,
      global_guards.first, global_guards.second, candidate_guards.first, candidate_guards.second);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "tailor generate: %s\n", status.ToString().c_str());
  return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ||
                 absl::IsFailedPrecondition(status)
             ? 2
             : 1;
}

}  // namespace

int BestOfNCommand(LocalTrainer& language_model, const SelectionOptions& base) {
  Env* env = Env::Default();
  absl::StatusOr<config::ExperimentConfig> rc =
      LoadExperimentConfig(absl::GetFlag(FLAGS_reward_config), env, {});
  if (!rc.ok()) return Fail(rc.status());
  absl::StatusOr<Experiment> e = BuildExperiment(*rc, env, /*load_data=*/true);
  if (!e.ok()) return Fail(e.status());
  if (e->spec.task != TaskKind::kPairwisePreference) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--reward_config's model ", e->spec.architecture, " is not a reward model")));
  }
  const int64_t training_clients = rc->data().num_clients() - rc->eval().new_clients();
  const int64_t only = absl::GetFlag(FLAGS_client_id);
  const bool all = absl::GetFlag(FLAGS_all_users);
  if (all == (only >= 0) || only >= training_clients) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "give either --all_users or one --client_id in [0, ", training_clients,
        ") of --reward_config's training clients")));
  }
  if (!e->algorithm->policy().patterns().empty() && rc->simulation().personal_state_dir().empty()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "--reward_config's ", e->algorithm->name(), " keeps a personal part on each device, and "
        "its run kept none: set simulation.personal_state_dir and run it again")));
  }
  const bool judged = !e->data->simulated_users.empty();
  if (all && !judged) {
    return Fail(absl::InvalidArgumentError(
        "--all_users judges picks by simulated users' true utility: --reward_config's data "
        "must be preference_fortunes"));
  }
  SelectionOptions o = base;
  o.n = absl::GetFlag(FLAGS_best_of);
  o.groups = absl::GetFlag(FLAGS_groups);
  absl::StatusOr<std::vector<std::string>> candidates = SampleCandidates(language_model, o);
  if (!candidates.ok()) return Fail(candidates.status());

  absl::StatusOr<std::unique_ptr<LocalTrainer>> reward = LocalTrainer::Create(e->spec);
  if (!reward.ok()) return Fail(reward.status());
  ParameterSet global_shared;
  absl::Status s = LoadGlobalReward(*rc, *e, env, **reward, &global_shared);
  if (!s.ok()) return Fail(s);
  absl::StatusOr<std::vector<double>> global_scores = (*reward)->Reward(o.prompt, *candidates);
  if (!global_scores.ok()) return Fail(global_scores.status());
  const std::vector<size_t> global_picks = PickBest(*global_scores, o.n);

  std::unique_ptr<PersonalStore> store;
  if (rc->simulation().personal_state_dir().empty()) {
    store = std::make_unique<InMemoryPersonalStore>();
  } else {
    store = std::make_unique<DirectoryPersonalStore>(rc->simulation().personal_state_dir(), env);
  }
  std::vector<Judged> results;
  for (int64_t client = all ? 0 : only; client < (all ? training_clients : only + 1); ++client) {
    ClientRuntime runtime(ClientContextFor(*e, client, store.get()));
    s = runtime.LoadPersonalizedModel(global_shared, TrainOptionsFrom(*rc), rc->seed(), **reward);
    if (!s.ok()) return Fail(Annotate(s, absl::StrCat("client ", client)));
    absl::StatusOr<std::vector<double>> personal = (*reward)->Reward(o.prompt, *candidates);
    if (!personal.ok()) return Fail(personal.status());
    const std::vector<size_t> picks = PickBest(*personal, o.n);
    std::vector<std::string> mine;
    for (size_t pick : picks) mine.push_back((*candidates)[pick]);
    std::vector<double> utility;
    if (judged) {
      const SimulatedUser& user = e->data->simulated_users[static_cast<size_t>(client)];
      for (const std::string& text : *candidates) {
        utility.push_back(TrueUtility(user, *e->data->score_normalizer, text));
      }
      Judged j{client, user.name, user.minority,
               JudgeSelection(utility, *personal, *global_scores, o.n)};
      absl::StatusOr<double> bpb = BitsPerByte(language_model, mine);
      if (!bpb.ok()) return Fail(bpb.status());
      j.bits_per_byte = *bpb;
      j.distinct2 = DistinctNgrams(mine, 2);
      results.push_back(std::move(j));
    }
    if (all) continue;
    std::printf("== best of %d for client %d (%s), %d picks\n", o.n, static_cast<int>(client),
                e->data->client_names[static_cast<size_t>(client)].c_str(), o.groups);
    for (size_t g = 0; g < picks.size(); ++g) {
      for (const auto& [rule, pick] : {std::make_pair("personal", picks[g]),
                                       std::make_pair("global", global_picks[g])}) {
        std::printf("%-8s %s%s\n", rule,
                    judged ? absl::StrFormat("[utility %+.2f] ", utility[pick]).c_str() : "",
                    OneLine((*candidates)[pick]).c_str());
      }
    }
  }
  if (!judged) return 0;

  // The hacking guards: how natural the language model finds each rule's picks, and how varied
  // they are (a reward model that found a loophole picks odd or repetitive text). The global
  // model picks the same texts for every user.
  std::vector<std::string> global_texts;
  for (size_t pick : global_picks) global_texts.push_back((*candidates)[pick]);
  absl::StatusOr<double> global_bpb = BitsPerByte(language_model, global_texts);
  absl::StatusOr<double> candidates_bpb = BitsPerByte(language_model, *candidates);
  if (!global_bpb.ok()) return Fail(global_bpb.status());
  if (!candidates_bpb.ok()) return Fail(candidates_bpb.status());
  const std::pair<double, double> global_guards = {*global_bpb, DistinctNgrams(global_texts, 2)};
  const std::pair<double, double> candidate_guards = {*candidates_bpb,
                                                      DistinctNgrams(*candidates, 2)};
  const std::string jsonl = absl::GetFlag(FLAGS_selection_jsonl);
  if (!jsonl.empty()) {
    std::string lines;
    for (const Judged& j : results) {
      absl::StrAppend(&lines, JsonLine(j, global_guards, candidate_guards), "\n");
    }
    s = env->WriteFileAtomically(jsonl, lines);
    if (!s.ok()) return Fail(s);
  }
  std::vector<UserSelection> outcomes;
  double personal_bpb = 0, personal_distinct = 0;
  for (const Judged& j : results) {
    outcomes.push_back(j.outcome);
    personal_bpb += j.bits_per_byte / static_cast<double>(results.size());
    personal_distinct += j.distinct2 / static_cast<double>(results.size());
  }
  const SelectionSummary sum = SummarizeSelections(outcomes);
  std::printf(
      "best of %d, %d picks for each of %zu users, judged by each user's true utility:\n"
      "%-28s %9s %9s %11s %9s %11s\n",
      o.n, o.groups, sum.users, "pick by", "utility", "gain", "beats glob.", "LM bpb",
      "distinct-2");
  const struct {
    const char* rule;
    double utility, gain, wins, bpb, distinct;
  } rows[] = {
      {"the user's reward model", sum.personal, sum.normalized_gain, sum.personal_beats_global,
       personal_bpb, personal_distinct},
      {"the global reward model", sum.global, sum.global_normalized_gain, -1, global_guards.first,
       global_guards.second},
      {"none (a random candidate)", sum.random, 0, -1, candidate_guards.first,
       candidate_guards.second},
  };
  for (const auto& r : rows) {
    std::printf("%-28s %9.3f %9.3f %11s %9.3f %11.3f\n", r.rule, r.utility, r.gain,
                r.wins >= 0 ? absl::StrFormat("%.0f%%", 100 * r.wins).c_str() : "-", r.bpb,
                r.distinct);
  }
  std::printf("%-28s %9.3f %9.3f\n", "the oracle (true utility)", sum.best, 1.0);
  std::printf(
      "utility: the user's true utility (z-scored scorers, weighted by the user's taste) of the "
      "pick, mean over picks and users. gain: (pick - random) / (oracle - random). beats glob.: "
      "users whose own reward model's picks have a higher mean utility than the global one's. LM "
      "bpb: bits per byte of the picks under the language model. distinct-2: distinct word "
      "bigrams over all, among one user's picks (random: among all candidates).\n");
  return 0;
}

}  // namespace tailor
