#include "privacy/secagg_graph.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/random.h"

namespace tailor {

double Log2BinomialTail(int n, double p, int at_least) {
  if (at_least <= 0) return 0;
  if (at_least > n || p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return 0;
  // log-sum-exp of log C(n, i) + i log p + (n - i) log(1 - p), i >= at_least.
  std::vector<double> terms;
  for (int i = at_least; i <= n; ++i) {
    terms.push_back(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) +
                    i * std::log(p) + (n - i) * std::log1p(-p));
  }
  const double top = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return (top + std::log(sum)) / std::log(2.0);
}

absl::StatusOr<SecAggPlusParams> ChooseSecAggPlus(int64_t clients, double dropout,
                                                  double corrupt, double security_bits,
                                                  double correctness_bits) {
  if (clients < 3 || !(dropout >= 0 && dropout < 1) || !(corrupt >= 0 && corrupt < 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SecAgg+ needs >= 3 clients, a dropout fraction in [0, 1) and a corrupt fraction in "
        "[0, 0.5), got ", clients, ", ", dropout, " and ", corrupt));
  }
  const double log2_n = std::log2(static_cast<double>(clients));
  auto bounds = [&](int k, int t, SecAggPlusParams* out) {
    out->neighbours = k;
    out->threshold = t;
    out->log2_security_failure = log2_n + Log2BinomialTail(k, corrupt, t);
    out->log2_correctness_failure = log2_n + Log2BinomialTail(k, dropout, k - t + 1);
  };
  SecAggPlusParams p;
  for (int k = 2; k < clients - 1; k += 2) {
    for (int t = k / 2 + 1; t <= k; ++t) {
      bounds(k, t, &p);
      if (p.log2_security_failure <= -security_bits &&
          p.log2_correctness_failure <= -correctness_bits) {
        return p;
      }
    }
  }
  absl::StatusOr<SecAggPlusParams> full = ChooseSecAggThreshold(clients, dropout, correctness_bits);
  if (full.ok()) {
    full->log2_security_failure = log2_n + Log2BinomialTail(full->neighbours, corrupt, full->threshold);
  }
  return full;
}

absl::StatusOr<SecAggPlusParams> ChooseSecAggThreshold(int64_t clients, double dropout,
                                                       double correctness_bits) {
  if (clients < 3 || !(dropout >= 0 && dropout < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SecAgg needs >= 3 clients and a dropout fraction in [0, 1), got ", clients, " and ",
        dropout));
  }
  const double log2_n = std::log2(static_cast<double>(clients));
  const int k = static_cast<int>(clients - 1);
  SecAggPlusParams p;
  for (int t = k / 2 + 1; t <= k; ++t) {
    p.neighbours = k;
    p.threshold = t;
    p.log2_security_failure = -std::numeric_limits<double>::infinity();  // no corrupt bound
    p.log2_correctness_failure = log2_n + Log2BinomialTail(k, dropout, k - t + 1);
    if (p.log2_correctness_failure <= -correctness_bits) return p;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no threshold keeps ", clients, " clients' rounds alive at a dropout fraction of ",
      dropout, " with failure probability 2^-", correctness_bits,
      ": set the threshold yourself (a majority of the cohort at least)"));
}

std::vector<std::vector<int64_t>> NeighbourGraph(int64_t clients, int k, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(clients));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  rng.Shuffle(&order);
  std::vector<std::vector<int64_t>> neighbours(static_cast<size_t>(clients));
  const int64_t half = k >= clients - 1 ? clients : k / 2;
  for (int64_t pos = 0; pos < clients; ++pos) {
    auto& mine = neighbours[static_cast<size_t>(order[static_cast<size_t>(pos)])];
    if (k >= clients - 1) {
      for (int64_t c = 0; c < clients; ++c) {
        if (c != order[static_cast<size_t>(pos)]) mine.push_back(c);
      }
      continue;
    }
    for (int64_t step = 1; step <= half; ++step) {
      mine.push_back(order[static_cast<size_t>((pos + step) % clients)]);
      mine.push_back(order[static_cast<size_t>((pos - step + clients) % clients)]);
    }
    std::sort(mine.begin(), mine.end());
  }
  return neighbours;
}

}  // namespace tailor
