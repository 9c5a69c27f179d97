#include "tools/selection_report.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/serialization.h"
#include "core/status_macros.h"

namespace tailor {

int64_t SamplingPositions(const std::string& prompt, const std::string& text) {
  return 1 + static_cast<int64_t>(prompt.size() + text.size());
}

int64_t ScoringPositions(const std::string& prompt, const std::string& text) {
  return 2 + static_cast<int64_t>(text.size()) +
         (prompt.empty() ? 0 : static_cast<int64_t>(prompt.size()) + 1);
}

absl::Status WriteSelectionJsonl(const std::string& path, const std::vector<JudgedUser>& users,
                                 const TextGuards& global, const TextGuards& candidates,
                                 Env* env) {
  std::string lines;
  for (const JudgedUser& j : users) {
    const UserSelection& o = j.outcome;
    absl::StrAppendFormat(
        &lines,
        "{\"client\":%d,\"minority\":%s,\"personal\":%.6f,\"global\":%.6f,\"random\":%.6f,"
        "\"best\":%.6f,\"normalized_gain\":%.6f,\"global_normalized_gain\":%.6f,"
        "\"bpb\":%.4f,\"distinct2\":%.4f,\"global_bpb\":%.4f,\"global_distinct2\":%.4f,"
        "\"candidates_bpb\":%.4f,\"candidates_distinct2\":%.4f,\"positions_per_text\":%.1f}\n",
        j.client, j.minority ? "true" : "false", o.personal, o.global, o.random, o.best,
        o.normalized_gain(), o.global_normalized_gain(), j.bits_per_byte, j.distinct2,
        global.bits_per_byte, global.distinct2, candidates.bits_per_byte, candidates.distinct2,
        j.positions_per_text);
  }
  return env->WriteFileAtomically(path, lines);
}

std::string FormatSelectionSummary(const SelectionLabels& labels,
                                   const std::vector<JudgedUser>& users, const TextGuards& global,
                                   const TextGuards& candidates) {
  std::vector<UserSelection> outcomes;
  TextGuards personal;
  double positions = 0;
  for (const JudgedUser& j : users) {
    positions += j.positions_per_text / static_cast<double>(users.size());
    outcomes.push_back(j.outcome);
    personal.bits_per_byte += j.bits_per_byte / static_cast<double>(users.size());
    personal.distinct2 += j.distinct2 / static_cast<double>(users.size());
  }
  const SelectionSummary sum = SummarizeSelections(outcomes);
  std::string out = absl::StrFormat("%s\n%-28s %9s %9s %11s %9s %11s\n", labels.title, "text by",
                                    "utility", "gain", "beats glob.", "LM bpb", "distinct-2");
  const struct {
    std::string rule;
    double utility, gain, wins;
    TextGuards guards;
  } rows[] = {
      {labels.personal, sum.personal, sum.normalized_gain, sum.personal_beats_global, personal},
      {labels.global, sum.global, sum.global_normalized_gain, -1, global},
      {"the base model (random)", sum.random, 0, -1, candidates},
  };
  for (const auto& r : rows) {
    absl::StrAppendFormat(&out, "%-28s %9.3f %9.3f %11s %9.3f %11.3f\n", r.rule, r.utility,
                          r.gain, r.wins >= 0 ? absl::StrFormat("%.0f%%", 100 * r.wins) : "-",
                          r.guards.bits_per_byte, r.guards.distinct2);
  }
  absl::StrAppendFormat(&out, "%-28s %9.3f %9.3f\n", "the oracle (best of base)", sum.best,
                        1.0);
  absl::StrAppend(
      &out,
      "utility: the user's true utility (z-scored scorers, weighted by the user's taste), mean "
      "over texts and users. gain: (utility - random) / (oracle - random), random being the mean "
      "of the base model's candidates and oracle the best of each group of them. beats glob.: "
      "users whose own texts have a higher mean utility than the global rule's. LM bpb: bits per "
      "byte of the texts under the base language model. distinct-2: distinct word bigrams over "
      "all, among one user's texts (random: among all candidates).\n");
  if (positions > 0) {
    absl::StrAppendFormat(&out,
                          "compute: %.0f transformer positions per text of %s (generator and "
                          "reward model)\n",
                          positions, labels.personal);
  }
  return out;
}

int FinishSelectionReport(LocalTrainer& language_model, const std::vector<JudgedUser>& users,
                          const std::vector<std::string>& global_texts,
                          const std::vector<std::string>& candidates,
                          const SelectionLabels& labels, const std::string& jsonl, Env* env) {
  // The hacking guards: how natural the language model finds each rule's texts, and how varied
  // they are (a reward model that found a loophole picks odd or repetitive text).
  absl::StatusOr<double> global_bpb = BitsPerByte(language_model, global_texts);
  absl::StatusOr<double> candidates_bpb = BitsPerByte(language_model, candidates);
  if (!global_bpb.ok()) return FailGenerate(global_bpb.status());
  if (!candidates_bpb.ok()) return FailGenerate(candidates_bpb.status());
  const TextGuards global{*global_bpb, DistinctNgrams(global_texts, 2)};
  const TextGuards all{*candidates_bpb, DistinctNgrams(candidates, 2)};
  if (!jsonl.empty()) {
    absl::Status s = WriteSelectionJsonl(jsonl, users, global, all, env);
    if (!s.ok()) return FailGenerate(s);
  }
  std::printf("%s", FormatSelectionSummary(labels, users, global, all).c_str());
  return 0;
}

absl::StatusOr<ParameterSet> ReadFinalShared(const config::ExperimentConfig& run, Env* env) {
  const std::string path = run.output_dir() + "/final_shared.tlps";
  if (!env->FileExists(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " does not exist: run `tailor simulate` on ", run.name(), " first"));
  }
  TAILOR_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
  absl::StatusOr<ParameterSet> shared = DeserializeParameterSet(bytes);
  if (!shared.ok()) return Annotate(shared.status(), path);
  return shared;
}

absl::StatusOr<std::unique_ptr<PersonalStore>> PersonalStoreOf(
    const config::ExperimentConfig& run, const ClientAlgorithm& algorithm, Env* env) {
  const std::string& dir = run.simulation().personal_state_dir();
  if (dir.empty()) {
    if (!algorithm.policy().patterns().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          run.name(), "'s ", algorithm.name(), " keeps a personal part on each device, and the "
          "run kept none: set simulation.personal_state_dir and run it again"));
    }
    return std::unique_ptr<PersonalStore>(new InMemoryPersonalStore());
  }
  return std::unique_ptr<PersonalStore>(new DirectoryPersonalStore(dir, env));
}

std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& ch : out) {
    if (ch == '\n') ch = '|';
  }
  return out.size() > 100 ? out.substr(0, 97) + "..." : out;
}

int FailGenerate(const absl::Status& status) {
  std::fprintf(stderr, "tailor generate: %s\n", status.ToString().c_str());
  return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ||
                 absl::IsFailedPrecondition(status)
             ? 2
             : 1;
}

absl::StatusOr<ModelSpec> BaseLanguageModel(const ModelSpec& tuned) {
  ModelOptions o = tuned.options;
  o.architecture = absl::StrReplaceAll(o.architecture, {{"byte_dpo", "byte_transformer"}});
  o.reward = RewardOptions();
  return BuildModelSpec(o);
}

absl::StatusOr<std::vector<std::string>> Samples(LocalTrainer& model, const SelectionOptions& base,
                                                 int count, uint64_t seed) {
  SelectionOptions o = base;
  o.n = 1;
  o.groups = count;
  o.generation.seed = seed;
  return SampleCandidates(model, o);
}

namespace {

double MeanUtility(const SimulatedUser& user, const ScoreNormalizer& z,
                   const std::vector<std::string>& texts) {
  double sum = 0;
  for (const std::string& t : texts) sum += TrueUtility(user, z, t);
  return texts.empty() ? 0 : sum / static_cast<double>(texts.size());
}

}  // namespace

absl::StatusOr<JudgedUser> JudgeUserTexts(int64_t client, const SimulatedUser& user,
                                          const ScoreNormalizer& z,
                                          const std::vector<std::string>& candidates, int n,
                                          const std::vector<std::string>& mine,
                                          const std::vector<std::string>& global_texts,
                                          LocalTrainer& base_lm) {
  std::vector<double> utility;
  for (const std::string& t : candidates) utility.push_back(TrueUtility(user, z, t));
  JudgedUser j;
  j.client = client;
  j.minority = user.minority;
  // The base's mean candidate and the oracle's pick of each group, as best-of-N judges them.
  j.outcome = JudgeSelection(utility, utility, utility, n);
  j.outcome.personal = MeanUtility(user, z, mine);
  j.outcome.global = MeanUtility(user, z, global_texts);
  TAILOR_ASSIGN_OR_RETURN(j.bits_per_byte, BitsPerByte(base_lm, mine));
  j.distinct2 = DistinctNgrams(mine, 2);
  return j;
}

}  // namespace tailor
