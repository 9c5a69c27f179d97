// Simulated users whose tastes come from real attributes of real text (issue 16), following
// PersonalLLM (Zollo et al. 2025): a user's utility is a mixture, with weights pi ~ Dir(alpha),
// of archetypes that come in conflicting pairs (brief vs raconteur, cheerful vs cynic, ...),
// each a weighting of fixed, z-scored scorers (data/preference_scorers.h), plus a little noise.
// One axis splits the population into a majority and a minority (as P-DPO and PAL do with
// summary length). Labels follow Bradley-Terry: P(x preferred to x') = sigmoid(beta (u(x) -
// u(x'))), beta set so that the best possible accuracy on the test pairs is `target_ceiling`;
// or, in the deterministic variant, the higher utility always wins.
//
// Pairs are real fortunes: 1-5 users per fortune file, each judging pairs of that file's
// fortunes (its train and val pairs from one half of the file, its test pairs from the other,
// so a test pair never reuses a text a user trained on). The pool a model sees holds the texts
// and the choices only; the scorers, weights and utilities stay here, for labelling and for
// judging generated text with the user's true utility.
#ifndef TAILOR_DATA_SIMULATED_USERS_H_
#define TAILOR_DATA_SIMULATED_USERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/partition.h"
#include "data/preference_dataset.h"
#include "data/preference_scorers.h"
#include "data/text_dataset.h"

namespace tailor {

inline constexpr size_t kMinCandidateTexts = 100;

struct SimulatedUserOptions {
  // Dirichlet concentration of a user's archetype weights (0.05: nearly one archetype each; 1:
  // broad mixtures).
  double alpha = 0.3;
  // Standard deviation of the Gaussian noise on each scorer weight.
  double weight_noise = 0.05;
  // The majority/minority axis: each user puts `axis_weight` of its weight on `axis` (majority)
  // or on its opposite (minority, a share `minority_fraction` of users).
  std::string axis = "brief";
  double minority_fraction = 0.3;
  double axis_weight = 0.5;
  // A taste every user shares besides its own (cheerful, quoted and calm fortunes, equally),
  // with this weight against 1 for the user's own mixture: real preferences agree on most
  // pairs and split on some. 0: no shared taste (archetypes are opposite pairs, so nearly every
  // pair splits the population).
  double consensus_weight = 1;
  // A pair is controversial when at least this share of the users prefers each side.
  double controversial_share = 0.25;
  int min_users_per_file = 1;
  int max_users_per_file = 5;
  // A user's training pairs are drawn in [min, max]; a held-out user gets max (its few-shot
  // curve runs up to it).
  int min_train_pairs = 10;
  int max_train_pairs = 50;
  int test_pairs = 200;
  // Files with fewer distinct fortunes are skipped (and listed).
  int min_texts_per_file = 50;
  double target_ceiling = 0.9;
  bool deterministic_labels = false;
  // Instead of users of the fortune files, one user per archetype (its name
  // "archetype:<name>", all its weight on that archetype, plus the shared taste; no noise),
  // judging max_train_pairs pairs drawn from every file: labellers of the preference dimensions
  // that Personalized Soups (Jang et al. 2023) trains one expert each on.
  bool archetype_users = false;
  // When not empty, every user's pairs are drawn from these texts instead of its fortune
  // file's (the first half for training and validation pairs, the second for test pairs): e.g.
  // a language model's own samples, so that reward models learn to judge what a generator
  // writes, as labellers compare a policy's samples in RLHF. The users, their tastes and the
  // z-scoring stay the fortunes'. At least kMinCandidateTexts distinct texts.
  std::vector<std::string> candidate_texts;
  // Users that become clients (0: all), and how many of them are held out (the last ids).
  int num_users = 0;
  int held_out = 0;
  uint64_t seed = 1;
};

struct SimulatedUser {
  std::string name;  // "<fortune file>#<k>"
  std::vector<double> archetype_weights;  // over Archetypes(), the axis included
  Scores weights{};                       // over the z-scored scorers
  bool minority = false;
  // The archetype an archetype user (SimulatedUserOptions::archetype_users) labels for, or -1.
  int archetype = -1;
};

struct SimulatedPreferences {
  std::shared_ptr<const PreferenceDataset> pool;
  // Per user, in client order: indices into pool->pairs.
  std::vector<ClientSplit> clients;
  std::vector<SimulatedUser> users;
  // Per pair of the pool: controversial, the population is split on it (at least
  // controversial_share of the users prefer each side, by their true utilities).
  std::vector<bool> controversial;
  double beta = 0;
  // The best accuracy any model can reach on the test pairs (mean of max(p, 1 - p)); 1 with
  // deterministic labels.
  double ceiling = 1;
  std::vector<std::string> notes;
  // The z-scoring of the candidate pool, for judging generated text.
  std::shared_ptr<const ScoreNormalizer> normalizer;
};

// A user's true utility of any text.
double TrueUtility(const SimulatedUser& user, const ScoreNormalizer& normalizer,
                   absl::string_view text);

// INVALID_ARGUMENT "<option>: <why>" for the first option out of range.
absl::Status ValidateSimulatedUserOptions(const SimulatedUserOptions& options);

// INVALID_ARGUMENT for options out of range (as ValidateSimulatedUserOptions);
// FAILED_PRECONDITION when too few users can be simulated.
absl::StatusOr<SimulatedPreferences> SimulatePreferences(const TextCorpus& corpus,
                                                         const SimulatedUserOptions& options);

}  // namespace tailor

#endif  // TAILOR_DATA_SIMULATED_USERS_H_
