#include "data/pfllib_partition.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "data/numpy_legacy_random.h"

namespace tailor {

absl::StatusOr<std::vector<ClientSplit>> PfllibDirichletSplit(
    const std::vector<uint8_t>& labels, int num_classes, int num_clients,
    const PfllibDirichletOptions& options) {
  if (num_clients < 1 || !(options.alpha > 0)) {
    return absl::InvalidArgumentError("PFLlib partition needs num_clients >= 1 and alpha > 0");
  }
  const size_t n = labels.size();
  if (static_cast<size_t>(options.least_samples) * num_clients > n) {
    return absl::FailedPreconditionError(absl::StrCat(
        num_clients, " clients x ", options.least_samples, " samples exceeds ", n));
  }
  std::vector<std::vector<uint32_t>> by_class(static_cast<size_t>(num_classes));
  for (uint32_t i = 0; i < n; ++i) {
    if (labels[i] >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("label ", static_cast<int>(labels[i]),
                                                     " is >= num_classes ", num_classes));
    }
    by_class[labels[i]].push_back(i);  // np.where(label == k): ascending
  }
  NumpyLegacyRandom rng(options.numpy_seed);
  const double cap = static_cast<double>(n) / num_clients;  // N / num_clients, a Python float
  const std::vector<double> alpha(static_cast<size_t>(num_clients), options.alpha);
  Partition part;
  size_t min_size = 0;
  for (int attempt = 0; min_size < static_cast<size_t>(options.least_samples); ++attempt) {
    if (attempt == options.max_attempts) {
      return absl::FailedPreconditionError(absl::StrCat(
          "PFLlib Dirichlet partition found no draw with every client >= ", options.least_samples,
          " samples in ", options.max_attempts, " attempts"));
    }
    part.assign(static_cast<size_t>(num_clients), {});
    for (int k = 0; k < num_classes; ++k) {
      std::vector<uint32_t> idx = by_class[k];
      rng.Shuffle(&idx);
      std::vector<double> p = rng.Dirichlet(alpha);
      for (int c = 0; c < num_clients; ++c) {
        p[c] = p[c] * (static_cast<double>(part[c].size()) < cap ? 1.0 : 0.0);
      }
      const double sum = NumpyPairwiseSum(p.data(), p.size());
      double cumulative = 0;
      size_t begin = 0;
      for (int c = 0; c < num_clients; ++c) {
        size_t end = idx.size();
        if (c + 1 < num_clients) {
          cumulative += p[c] / sum;
          // astype(int) truncates toward zero; np.split clamps to the array.
          end = std::min(idx.size(), static_cast<size_t>(cumulative * static_cast<double>(idx.size())));
        }
        if (end > begin) part[c].insert(part[c].end(), idx.begin() + begin, idx.begin() + end);
        begin = std::max(begin, end);
      }
      min_size = n;
      for (const auto& c : part) min_size = std::min(min_size, c.size());
    }
  }
  // split_data: train_test_split(train_size=f, shuffle=True) per client, in client order:
  // permutation = rng.permutation(m); test = perm[:m - floor(f m)], train = the rest.
  std::vector<ClientSplit> out(part.size());
  for (size_t c = 0; c < part.size(); ++c) {
    const uint32_t m = static_cast<uint32_t>(part[c].size());
    const std::vector<uint32_t> perm = rng.Permutation(m);
    const size_t n_train = static_cast<size_t>(std::floor(options.train_fraction * m));
    const size_t n_test = m - n_train;
    for (size_t i = 0; i < m; ++i) {
      (i < n_test ? out[c].test : out[c].train).push_back(part[c][perm[i]]);
    }
  }
  return out;
}

}  // namespace tailor
