// PFLlib's Dirichlet partition and per-client train/test split, reproduced bit for bit.
//
// PFLlib's dataset generators call np.random.seed(S), then separate_data(partition="dir") and
// split_data (scikit-learn's train_test_split, which draws from the same global RandomState).
// Given the same labels in the same order (train then test), the same S, alpha and minimum
// client size, this returns the identical clients, with the identical test sets. Verified
// against NumPy itself by tests/data/pfllib_partition_test.cc.
#ifndef TAILOR_DATA_PFLLIB_PARTITION_H_
#define TAILOR_DATA_PFLLIB_PARTITION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "data/partition.h"

namespace tailor {

struct PfllibDirichletOptions {
  double alpha = 0.1;
  // PFLlib's least_samples: redraw while any client has fewer samples.
  int least_samples = 40;
  double train_fraction = 0.75;
  uint32_t numpy_seed = 1;
  // Give up after this many redraws.
  int max_attempts = 1000;
};

absl::StatusOr<std::vector<ClientSplit>> PfllibDirichletSplit(const std::vector<uint8_t>& labels,
                                                              int num_classes, int num_clients,
                                                              const PfllibDirichletOptions& options);

}  // namespace tailor

#endif  // TAILOR_DATA_PFLLIB_PARTITION_H_
