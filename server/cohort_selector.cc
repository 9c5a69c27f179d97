#include "server/cohort_selector.h"

#include <algorithm>
#include <numeric>

#include "core/random.h"

namespace tailor {

std::vector<int64_t> SelectFixedCohort(int64_t num_clients, int64_t k, uint64_t seed,
                                       int64_t round, const std::set<int64_t>& excluded) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(num_clients));
  for (int64_t id = 0; id < num_clients; ++id) {
    if (!excluded.count(id)) ids.push_back(id);
  }
  num_clients = static_cast<int64_t>(ids.size());
  if (k <= 0 || k >= num_clients) return ids;
  // Partial Fisher–Yates: the first k positions are a uniform sample without replacement.
  Rng rng(DeriveSeed(seed, {0x636f686f7274ULL /*"cohort"*/, static_cast<uint64_t>(round)}));
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(num_clients - i)));
    std::swap(ids[i], ids[j]);
  }
  ids.resize(static_cast<size_t>(k));
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace tailor
