// A dataset split into clients as an experiment config describes it.
#ifndef TAILOR_DATA_FEDERATED_DATASET_H_
#define TAILOR_DATA_FEDERATED_DATASET_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "data/simulated_users.h"
#include "data/image_dataset.h"
#include "data/partition.h"
#include "tailor/config.pb.h"

namespace tailor {

struct FederatedDataset {
  // Immutable after construction; shared read-only by every client and worker thread.
  std::shared_ptr<const ExamplePool> pool;
  std::vector<ClientSplit> clients;
  // Text datasets: each client's user name, and what the loader left out and why.
  std::vector<std::string> client_names;
  std::vector<std::string> notes;
  // preference_fortunes: each client's simulated user and the candidate pool's z-scoring, to
  // judge generated text by a user's true utility (sim/aligned_selection.h). Never given to a
  // model, a trainer or a wire message.
  std::vector<SimulatedUser> simulated_users;
  std::shared_ptr<const ScoreNormalizer> score_normalizer;
};

// Loads the configured dataset, applies max_samples, partitions and splits it. The partition
// seed is data.seed, or derived from `experiment_seed` when that is 0.
// `held_out_clients`: for text, how many users are held out of training (eval.new_clients),
// drawn by the seed and given the last ids.
absl::StatusOr<FederatedDataset> BuildFederatedDataset(const config::DataConfig& config,
                                                       uint64_t experiment_seed, Env* env,
                                                       int held_out_clients = 0);

// The simulated users of a preference_fortunes config (data.preference; num_clients users, the
// last `held_out` held out, drawn with `seed`). The config loader checks them with it.
SimulatedUserOptions SimulatedUserOptionsOf(const config::PreferenceDataConfig& preference,
                                            const config::DataConfig& data, int held_out,
                                            uint64_t seed);

// Same, over an already loaded pool (tests build pools in memory).
absl::StatusOr<FederatedDataset> PartitionPool(std::shared_ptr<const ImageDataset> pool,
                                               const config::DataConfig& config,
                                               uint64_t experiment_seed);

}  // namespace tailor

#endif  // TAILOR_DATA_FEDERATED_DATASET_H_
