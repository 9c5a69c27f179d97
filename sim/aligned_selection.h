// Generation aligned to one user at inference time, judged by the user's true taste (issue 16,
// part 4): best-of-N, where a language model samples N candidates and a reward model picks one.
// The picks of the user's personal reward model and of the global one are compared by the
// simulated user's true utility (data/simulated_users.h), which no model ever sees, with the
// hacking guards beside them: how likely the base language model finds the picked texts (a
// reward model that prefers garbage shows up as high bits per byte) and how varied they are.
// Torch-free: the models are behind LocalTrainer.
#ifndef TAILOR_SIM_ALIGNED_SELECTION_H_
#define TAILOR_SIM_ALIGNED_SELECTION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/local_trainer.h"
#include "models/generation_options.h"

namespace tailor {

struct SelectionOptions {
  int n = 16;       // candidates per group, of which one is picked
  int groups = 8;   // independent groups; a user's figures are means over them
  std::string prompt;
  // Sampling; sample k of the run uses seed generation.seed + k.
  GenerationOptions generation;
};

// groups · n samples of the loaded language model, group after group. INVALID_ARGUMENT for
// n < 1 or groups < 1.
absl::StatusOr<std::vector<std::string>> SampleCandidates(LocalTrainer& language_model,
                                                          const SelectionOptions& options);

// For each consecutive group of n scores, the index (into `scores`) of the highest; the first
// of equal ones.
std::vector<size_t> PickBest(const std::vector<double>& scores, int n);

// One user's outcome: means over the groups of the true utility of the text each rule picks.
struct UserSelection {
  double personal = 0;  // the user's own reward model's pick
  double global = 0;    // the global reward model's pick
  double random = 0;    // the mean candidate (a uniformly random pick, in expectation)
  double best = 0;      // the best candidate by the true utility (the oracle)
  // (personal - random) / (best - random): 1 is the oracle, 0 no better than chance; 0 when no
  // pick can beat chance (all candidates equal).
  double normalized_gain() const;
  double global_normalized_gain() const;
};

// `utility`: the user's true utility of each candidate; the scores of its personal and of the
// global reward model, all in SampleCandidates' order.
UserSelection JudgeSelection(const std::vector<double>& utility,
                             const std::vector<double>& personal_scores,
                             const std::vector<double>& global_scores, int n);

// Over users: means of each rule's utility and normalized gain, and the share of users whose
// personal picks beat the global ones (strictly higher mean utility).
struct SelectionSummary {
  size_t users = 0;
  double personal = 0, global = 0, random = 0, best = 0;
  double normalized_gain = 0, global_normalized_gain = 0;
  double personal_beats_global = 0;
};
SelectionSummary SummarizeSelections(const std::vector<UserSelection>& users);

// distinct-k of a set of texts: distinct word k-grams over all word k-grams (words split on
// white space); 0 when there are none.
double DistinctNgrams(const std::vector<std::string>& texts, int k);

// Bits per byte of `texts` under the loaded language model (each text BOS .. EOS, as in
// training): how natural the base model finds them.
absl::StatusOr<double> BitsPerByte(LocalTrainer& language_model,
                                   const std::vector<std::string>& texts);

}  // namespace tailor

#endif  // TAILOR_SIM_ALIGNED_SELECTION_H_
