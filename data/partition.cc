#include "data/partition.h"

#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/random.h"

namespace tailor {
namespace {

absl::Status CheckClients(int num_clients) {
  if (num_clients < 1) {
    return absl::InvalidArgumentError(absl::StrCat("num_clients must be >= 1, got ", num_clients));
  }
  return absl::OkStatus();
}

std::vector<std::vector<uint32_t>> IndicesByClass(const std::vector<uint8_t>& labels,
                                                  int num_classes) {
  std::vector<std::vector<uint32_t>> by_class(static_cast<size_t>(num_classes));
  for (uint32_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  return by_class;
}

absl::Status CheckLabels(const std::vector<uint8_t>& labels, int num_classes) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("label ", static_cast<int>(labels[i]),
                                                     " at sample ", i, " is >= num_classes ",
                                                     num_classes));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Partition> PartitionIid(size_t num_samples, int num_clients, uint64_t seed) {
  if (auto s = CheckClients(num_clients); !s.ok()) return s;
  if (num_samples < static_cast<size_t>(num_clients)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot give each of ", num_clients, " clients a sample from ", num_samples));
  }
  std::vector<uint32_t> all(num_samples);
  std::iota(all.begin(), all.end(), 0u);
  Rng rng(seed);
  rng.Shuffle(&all);
  Partition out(static_cast<size_t>(num_clients));
  size_t begin = 0;
  for (int c = 0; c < num_clients; ++c) {
    size_t share = num_samples / num_clients + (static_cast<size_t>(c) < num_samples % num_clients);
    out[c].assign(all.begin() + begin, all.begin() + begin + share);
    begin += share;
  }
  return out;
}

absl::StatusOr<Partition> PartitionDirichletPerClient(const std::vector<uint8_t>& labels,
                                                      int num_classes, int num_clients,
                                                      double alpha, uint64_t seed) {
  if (auto s = CheckClients(num_clients); !s.ok()) return s;
  if (auto s = CheckLabels(labels, num_classes); !s.ok()) return s;
  if (!(alpha > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("dirichlet alpha must be > 0, got ", alpha));
  }
  const size_t n = labels.size();
  if (n < static_cast<size_t>(num_clients)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot give each of ", num_clients, " clients a sample from ", n));
  }
  Rng rng(seed);
  std::vector<std::vector<uint32_t>> pools = IndicesByClass(labels, num_classes);
  for (auto& pool : pools) rng.Shuffle(&pool);
  Partition out(static_cast<size_t>(num_clients));
  for (int c = 0; c < num_clients; ++c) {
    const size_t share = n / num_clients + (static_cast<size_t>(c) < n % num_clients);
    const std::vector<double> mix = rng.SymmetricDirichlet(alpha, num_classes);
    for (size_t drawn = 0; drawn < share; ++drawn) {
      // q_c restricted to the classes with samples left (the shares add up to n, so one is).
      double total = 0;
      for (int k = 0; k < num_classes; ++k) total += pools[k].empty() ? 0.0 : mix[k];
      int chosen = -1;
      if (total > 0) {
        double u = rng.Uniform() * total;
        for (int k = 0; k < num_classes; ++k) {
          if (pools[k].empty()) continue;
          chosen = k;
          if ((u -= mix[k]) < 0) break;
        }
      } else {
        // Every class this client favours is used up: take from the fullest remaining one.
        for (int k = 0; k < num_classes; ++k) {
          if (!pools[k].empty() && (chosen < 0 || pools[k].size() > pools[chosen].size())) {
            chosen = k;
          }
        }
      }
      out[c].push_back(pools[chosen].back());
      pools[chosen].pop_back();
    }
  }
  return out;
}

absl::StatusOr<Partition> PartitionDirichlet(const std::vector<uint8_t>& labels, int num_classes,
                                             int num_clients, const DirichletOptions& options,
                                             uint64_t seed) {
  if (auto s = CheckClients(num_clients); !s.ok()) return s;
  if (auto s = CheckLabels(labels, num_classes); !s.ok()) return s;
  if (!(options.alpha > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("dirichlet alpha must be > 0, got ",
                                                   options.alpha));
  }
  const size_t n = labels.size();
  if (static_cast<size_t>(options.min_samples_per_client) * num_clients > n) {
    return absl::FailedPreconditionError(
        absl::StrCat(num_clients, " clients x ", options.min_samples_per_client,
                     " minimum samples exceeds the ", n, " samples available"));
  }
  const auto by_class = IndicesByClass(labels, num_classes);
  const double cap = static_cast<double>(n) / num_clients;
  Rng rng(seed);
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    Partition part(static_cast<size_t>(num_clients));
    for (int k = 0; k < num_classes; ++k) {
      std::vector<uint32_t> idx = by_class[k];
      rng.Shuffle(&idx);
      std::vector<double> p = rng.SymmetricDirichlet(options.alpha, num_clients);
      double sum = 0;
      for (int c = 0; c < num_clients; ++c) {
        if (options.balance_cap && static_cast<double>(part[c].size()) >= cap) p[c] = 0;
        sum += p[c];
      }
      if (sum <= 0) {
        // Every client that drew mass is capped; spread over the uncapped ones instead.
        for (int c = 0; c < num_clients; ++c) {
          p[c] = static_cast<double>(part[c].size()) < cap ? 1.0 : 0.0;
          sum += p[c];
        }
        if (sum <= 0) p.assign(p.size(), 1.0), sum = num_clients;
      }
      // Cut points: floor(cumsum(p) · |class|), as PFLlib does with astype(int).
      double cumulative = 0;
      size_t begin = 0;
      for (int c = 0; c < num_clients; ++c) {
        size_t end;
        if (c + 1 == num_clients) {
          end = idx.size();
        } else {
          cumulative += p[c] / sum;
          end = std::min(idx.size(), static_cast<size_t>(cumulative * idx.size()));
          end = std::max(end, begin);
        }
        part[c].insert(part[c].end(), idx.begin() + begin, idx.begin() + end);
        begin = end;
      }
    }
    size_t min_size = n;
    for (const auto& c : part) min_size = std::min(min_size, c.size());
    if (min_size >= static_cast<size_t>(options.min_samples_per_client)) return part;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no Dirichlet(", options.alpha, ") partition gave every one of ", num_clients,
      " clients at least ", options.min_samples_per_client, " samples in ",
      options.max_attempts, " attempts; lower min_samples_per_client or raise alpha"));
}

absl::StatusOr<Partition> PartitionShards(const std::vector<uint8_t>& labels, int num_classes,
                                          int num_clients, int classes_per_client,
                                          uint64_t seed) {
  if (auto s = CheckClients(num_clients); !s.ok()) return s;
  if (auto s = CheckLabels(labels, num_classes); !s.ok()) return s;
  if (classes_per_client < 1 || classes_per_client > num_classes) {
    return absl::InvalidArgumentError(absl::StrCat("classes_per_client must be in [1, ",
                                                   num_classes, "], got ", classes_per_client));
  }
  auto by_class = IndicesByClass(labels, num_classes);
  Rng rng(seed);
  std::vector<int> classes_left(static_cast<size_t>(num_clients), classes_per_client);
  const int per_class = static_cast<int>(
      std::ceil(static_cast<double>(num_clients) / num_classes * classes_per_client));
  Partition part(static_cast<size_t>(num_clients));
  for (int k = 0; k < num_classes; ++k) {
    std::vector<int> chosen;
    for (int c = 0; c < num_clients && static_cast<int>(chosen.size()) < per_class; ++c) {
      if (classes_left[c] > 0) chosen.push_back(c);
    }
    if (chosen.empty()) continue;
    std::vector<uint32_t>& idx = by_class[k];
    rng.Shuffle(&idx);
    const size_t share = idx.size() / chosen.size();
    size_t begin = 0;
    for (size_t j = 0; j < chosen.size(); ++j) {
      size_t end = j + 1 == chosen.size() ? idx.size() : begin + share;
      part[chosen[j]].insert(part[chosen[j]].end(), idx.begin() + begin, idx.begin() + end);
      begin = end;
      --classes_left[chosen[j]];
    }
  }
  for (int c = 0; c < num_clients; ++c) {
    if (part[c].empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "shard partition left client ", c, " without samples: ", num_clients, " clients x ",
          classes_per_client, " classes need more classes or fewer clients"));
    }
  }
  return part;
}

std::vector<ClientSplit> SplitTrainTest(const Partition& partition, double train_fraction,
                                        uint64_t seed) {
  std::vector<ClientSplit> out(partition.size());
  for (size_t c = 0; c < partition.size(); ++c) {
    std::vector<uint32_t> idx = partition[c];
    Rng rng(DeriveSeed(seed, {c}));
    rng.Shuffle(&idx);
    const size_t n = idx.size();
    // 1e-9 guards against 0.25 * n landing a hair above an integer in floating point.
    size_t n_test = static_cast<size_t>(std::ceil((1.0 - train_fraction) * n - 1e-9));
    n_test = std::min(n_test, n);
    out[c].train.assign(idx.begin(), idx.end() - n_test);
    out[c].test.assign(idx.end() - n_test, idx.end());
  }
  return out;
}

}  // namespace tailor
