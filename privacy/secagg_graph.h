// SecAgg+ (Bell et al., CCS 2020): each client masks with, and shares its secrets among, only
// its neighbours in a random k-regular graph instead of everyone, so a client's work grows
// with k = O(log n) rather than n. This file chooses k and the threshold t from the cohort
// size, the fraction of clients that may drop and the fraction that may be corrupt (colluding
// with the coordinator), and builds the graph.
//
// The rule (a union bound over the n clients, exact binomial tails; neighbours' fates taken
// independent, each dropping with probability `dropout` and corrupt with `corrupt`):
//   security:    n · P[Binomial(k, corrupt) >= t]        <= 2^-security_bits
//                (no client has t corrupt neighbours, who could rebuild both its secrets);
//   correctness: n · P[Binomial(k, dropout) > k - t]     <= 2^-correctness_bits
//                (every client keeps t surviving neighbours to rebuild what it needs).
// The smallest even k with some t in (k/2, k] meeting both; t > k/2 so that no two disjoint
// groups of neighbours can each rebuild a different secret of the same client. When no k < n
// meets them, every client is everyone's neighbour (plain SecAgg, k = n - 1) with the
// smallest t > (n - 1)/2 meeting correctness, if any; else FAILED_PRECONDITION.
#ifndef TAILOR_PRIVACY_SECAGG_GRAPH_H_
#define TAILOR_PRIVACY_SECAGG_GRAPH_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace tailor {

struct SecAggPlusParams {
  int neighbours = 0;  // k
  int threshold = 0;   // t
  // log2 of the union bounds achieved (<= -security_bits, <= -correctness_bits).
  double log2_security_failure = 0;
  double log2_correctness_failure = 0;
};

absl::StatusOr<SecAggPlusParams> ChooseSecAggPlus(int64_t clients, double dropout,
                                                  double corrupt, double security_bits = 40,
                                                  double correctness_bits = 20);

// Plain SecAgg (everyone is everyone's neighbour, k = n - 1): the smallest t > (n - 1)/2 that
// meets the correctness bound above; FAILED_PRECONDITION when none does (small cohorts at high
// dropout: the caller then sets t).
absl::StatusOr<SecAggPlusParams> ChooseSecAggThreshold(int64_t clients, double dropout,
                                                       double correctness_bits = 20);

// log2 P[Binomial(n, p) >= at_least], exact (summed in log space); -infinity when impossible.
double Log2BinomialTail(int n, double p, int at_least);

// The Harary graph H(k, n) over a seeded random order of the clients: each is joined to the k/2
// before and after it in that order (k even, 2 <= k < n; k = n - 1 joins everyone).
// neighbours[i] lists client i's, ascending. The same seed gives the same graph.
std::vector<std::vector<int64_t>> NeighbourGraph(int64_t clients, int k, uint64_t seed);

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECAGG_GRAPH_H_
