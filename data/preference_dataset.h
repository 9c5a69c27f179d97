// Users' pairwise preferences (issue 16): a prompt, two candidate texts, the one the user chose.
// One client = one user. Pairs come from JSONL (the layout of public preference datasets plus a
// user id) or from simulated users (data/simulated_users.h).
#ifndef TAILOR_DATA_PREFERENCE_DATASET_H_
#define TAILOR_DATA_PREFERENCE_DATASET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "data/example_pool.h"
#include "data/partition.h"

namespace tailor {

// Indices into PreferenceDataset::texts.
struct PreferencePair {
  uint32_t prompt = 0;
  uint32_t chosen = 0;
  uint32_t rejected = 0;
};

// The pool a client's index lists point into: what a model may see (texts and which was
// chosen), nothing else.
struct PreferenceDataset : public ExamplePool {
  TaskKind task() const override { return TaskKind::kPairwisePreference; }
  size_t size() const override { return pairs.size(); }
  // Each distinct text once (prompts and candidates).
  std::vector<std::string> texts;
  std::vector<PreferencePair> pairs;
};

struct PreferenceUser {
  std::string name;
  struct Pair {
    std::string prompt, chosen, rejected;
  };
  std::vector<Pair> pairs;
};

// JSON Lines, one object per pair with string fields "user", "prompt" (may be empty),
// "chosen" and "rejected". INVALID_ARGUMENT naming the line for a malformed line, a missing
// field, text that is not UTF-8, or a pair whose two candidates are the same text.
absl::StatusOr<std::vector<PreferenceUser>> LoadPreferenceJsonl(const std::string& path,
                                                                Env* env);

struct PreferenceFederationOptions {
  // Users with fewer pairs are dropped (and listed).
  int min_pairs_per_user = 10;
  double val_fraction = 0.1;
  double test_fraction = 0.2;
  // How many users become clients (0: all that qualify), drawn by `seed`; the last `held_out`
  // of them are held out of training (their ids last), as for text clients.
  int num_clients = 0;
  int held_out = 0;
  uint64_t seed = 1;
};

struct PreferenceFederation {
  std::shared_ptr<const PreferenceDataset> pool;
  // Per client: indices into pool->pairs.
  std::vector<ClientSplit> clients;
  std::vector<std::string> names;
  std::vector<std::string> dropped;
};

// Interns every text, drops users below min_pairs_per_user, draws the clients and splits each
// user's pairs into train / val / test (ceil of the fractions for val and test) after a shuffle
// seeded by (seed, user name).
absl::StatusOr<PreferenceFederation> FederatePreferences(
    const std::vector<PreferenceUser>& users, const PreferenceFederationOptions& options);

}  // namespace tailor

#endif  // TAILOR_DATA_PREFERENCE_DATASET_H_
