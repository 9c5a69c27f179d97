// What `tailor generate` prints and writes when simulated users judge generated text
// (tools/best_of_n_command.cc, tools/tuned_generation_command.cc): one JSON line per user and
// a summary table of each rule's true utility, gain and hacking guards.
#ifndef TAILOR_TOOLS_SELECTION_REPORT_H_
#define TAILOR_TOOLS_SELECTION_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/algorithm.h"
#include "client/personal_store.h"
#include "core/env.h"
#include "core/parameter_set.h"
#include "data/simulated_users.h"
#include "models/model_spec.h"
#include "sim/aligned_selection.h"
#include "tailor/config.pb.h"

namespace tailor {

struct JudgedUser {
  int64_t client = 0;
  bool minority = false;
  UserSelection outcome;
  // The hacking guards on this user's own texts: bits per byte under the base language model
  // and distinct word bigrams among them.
  double bits_per_byte = 0;
  double distinct2 = 0;
  // The compute behind each of the user's texts: transformer positions evaluated by the
  // generator(s) and any reward model, per text (SamplingPositions, ScoringPositions). The
  // models are the same tiny byte transformer, so a position costs about the same in each.
  double positions_per_text = 0;
};

// Transformer positions a language model evaluates to sample `text` after `prompt` with its
// key/value cache: BOS, the prompt, and each byte fed back.
int64_t SamplingPositions(const std::string& prompt, const std::string& text);
// Positions a reward model reads to score `text` as an answer to `prompt` (BOS, the prompt and
// its BOS, the text, EOS).
int64_t ScoringPositions(const std::string& prompt, const std::string& text);

// The same guards for a set of texts every user shares (the global rule's, all candidates).
struct TextGuards {
  double bits_per_byte = 0;
  double distinct2 = 0;
};

// What the rows of the summary are called.
struct SelectionLabels {
  std::string title;     // the line above the table
  std::string personal;  // e.g. "the user's reward model"
  std::string global;    // e.g. "the global reward model"
};

// One JSON line per user (keys: client, minority, personal, global, random, best,
// normalized_gain, global_normalized_gain, bpb, distinct2, global_bpb, global_distinct2,
// candidates_bpb, candidates_distinct2, positions_per_text), written atomically.
absl::Status WriteSelectionJsonl(const std::string& path, const std::vector<JudgedUser>& users,
                                 const TextGuards& global, const TextGuards& candidates, Env* env);

// The summary table and its legend.
std::string FormatSelectionSummary(const SelectionLabels& labels,
                                   const std::vector<JudgedUser>& users, const TextGuards& global,
                                   const TextGuards& candidates);

// The guards of the global rule's texts and of all candidates under `language_model`, the JSON
// lines (when `jsonl` is not empty) and the summary on stdout. Returns the exit code.
int FinishSelectionReport(LocalTrainer& language_model, const std::vector<JudgedUser>& users,
                          const std::vector<std::string>& global_texts,
                          const std::vector<std::string>& candidates,
                          const SelectionLabels& labels, const std::string& jsonl, Env* env);

// A finished run's models: its final shared parameters (FAILED_PRECONDITION naming the file
// when the run has not finished), and where its users' personal parts are (FAILED_PRECONDITION
// when the algorithm keeps a personal part and the run kept none: judging fresh parts would
// be judging nobody's model).
absl::StatusOr<ParameterSet> ReadFinalShared(const config::ExperimentConfig& run, Env* env);
absl::StatusOr<std::unique_ptr<PersonalStore>> PersonalStoreOf(
    const config::ExperimentConfig& run, const ClientAlgorithm& algorithm, Env* env);

// The language model under a preference-tuned one (byte_dpo → byte_transformer, same options,
// no reward): with the adapters at zero it is the base, and it scores text as a language model.
absl::StatusOr<ModelSpec> BaseLanguageModel(const ModelSpec& tuned);

// `count` samples of the loaded model, seeds from `seed` on.
absl::StatusOr<std::vector<std::string>> Samples(LocalTrainer& model, const SelectionOptions& base,
                                                 int count, uint64_t seed);

// One user's texts (`mine`) judged by its true utility against the texts everyone got
// (`global_texts`), the base's mean candidate and the best of each group of `n` candidates
// (best-of-N with an oracle), with the hacking guards under `base_lm`.
absl::StatusOr<JudgedUser> JudgeUserTexts(int64_t client, const SimulatedUser& user,
                                          const ScoreNormalizer& z,
                                          const std::vector<std::string>& candidates, int n,
                                          const std::vector<std::string>& mine,
                                          const std::vector<std::string>& global_texts,
                                          LocalTrainer& base_lm);

// A text on one line for a listing: newlines as '|', at most 100 bytes.
std::string OneLine(const std::string& text);

// Prints "tailor generate: <status>" and returns the exit code (2: the invocation or the
// inputs are wrong; 1: the run failed).
int FailGenerate(const absl::Status& status);

}  // namespace tailor

#endif  // TAILOR_TOOLS_SELECTION_REPORT_H_
