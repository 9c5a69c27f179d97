// Partitioners: how a pooled dataset is split across clients, and each client's split into
// local train and local test. All deterministic in their seed.
#ifndef TAILOR_DATA_PARTITION_H_
#define TAILOR_DATA_PARTITION_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tailor {

// Partition[c] lists the sample indices held by client c.
using Partition = std::vector<std::vector<uint32_t>>;

// Shuffle, then equal contiguous shares (sizes differ by at most one).
absl::StatusOr<Partition> PartitionIid(size_t num_samples, int num_clients, uint64_t seed);

struct DirichletOptions {
  // Dirichlet concentration; > 0.
  double alpha = 0.1;
  // Redraw the whole partition until every client holds at least this many samples.
  int min_samples_per_client = 40;
  // PFLlib's balance cap: while splitting a class, a client already holding >= N/num_clients
  // samples gets none of it.
  bool balance_cap = true;
  // FAILED_PRECONDITION after this many redraws without meeting the minimum.
  int max_attempts = 1000;
};

// Per class k: shuffle its samples, draw p ~ Dir(alpha · 1), zero capped clients, renormalize,
// and cut the class at the cumulative proportions (PFLlib's "dir" partition, as in the
// reference benchmark of DESIGN.md).
absl::StatusOr<Partition> PartitionDirichlet(const std::vector<uint8_t>& labels, int num_classes,
                                             int num_clients, const DirichletOptions& options,
                                             uint64_t seed);

// Per client (Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution for
// Federated Visual Classification", 2019): client c draws its label mix q_c ~ Dir(alpha · 1)
// and gets an equal share of the samples (sizes differ by at most one), each drawn from class
// k with probability q_c[k] among the classes not yet used up. Every client holds data however
// large the population, which the per-class split cannot promise (10,000 clients of 70,000
// samples leave most clients empty there). The last clients take what earlier draws left, so
// their mix departs from q_c when classes run out: negligible for large populations.
absl::StatusOr<Partition> PartitionDirichletPerClient(const std::vector<uint8_t>& labels,
                                                      int num_classes, int num_clients,
                                                      double alpha, uint64_t seed);

// Pathological non-IID: every client gets samples of `classes_per_client` classes; each class
// is split evenly among the ceil(num_clients / num_classes · classes_per_client) first clients
// that still need classes (PFLlib's balanced "pat").
absl::StatusOr<Partition> PartitionShards(const std::vector<uint8_t>& labels, int num_classes,
                                          int num_clients, int classes_per_client, uint64_t seed);

struct ClientSplit {
  std::vector<uint32_t> train;
  std::vector<uint32_t> test;
  // Held out of training for choices such as how many personal fine-tuning steps to take
  // (never the test set); empty where the data has no validation split.
  std::vector<uint32_t> val;
  // Named subsets of `test` also evaluated on their own and reported beside it (e.g.
  // "controversial": the preference pairs the population is split on).
  std::map<std::string, std::vector<uint32_t>> test_views;
};

// Shuffles each client's samples and puts ceil((1 - train_fraction) · n) in test, the rest in
// train (scikit-learn's train_test_split rounding, which PFLlib uses).
std::vector<ClientSplit> SplitTrainTest(const Partition& partition, double train_fraction,
                                        uint64_t seed);

}  // namespace tailor

#endif  // TAILOR_DATA_PARTITION_H_
