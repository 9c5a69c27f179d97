// Cohort selection: which clients train in a round. Deterministic in (seed, round).
#ifndef TAILOR_SERVER_COHORT_SELECTOR_H_
#define TAILOR_SERVER_COHORT_SELECTOR_H_

#include <cstdint>
#include <set>
#include <vector>

namespace tailor {

// A uniformly random subset of `k` of the ids [0, num_clients) not in `excluded`, sorted
// ascending; every such client when k <= 0 or k >= their number.
std::vector<int64_t> SelectFixedCohort(int64_t num_clients, int64_t k, uint64_t seed,
                                       int64_t round, const std::set<int64_t>& excluded = {});

}  // namespace tailor

#endif  // TAILOR_SERVER_COHORT_SELECTOR_H_
