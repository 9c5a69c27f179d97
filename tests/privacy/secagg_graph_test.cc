// SecAgg+'s parameters and graph (privacy/secagg_graph.h): exact binomial tails, a rule whose
// bounds hold and grow k with the risks, and a k-regular symmetric graph per seed.
#include "privacy/secagg_graph.h"

#include <cmath>
#include <set>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(SecAggGraph, BinomialTailsAreExact) {
  // P[Binomial(10, 0.3) >= 4], summed directly.
  double direct = 0;
  for (int i = 4; i <= 10; ++i) {
    direct += std::tgamma(11) / (std::tgamma(i + 1) * std::tgamma(11 - i)) * std::pow(0.3, i) *
              std::pow(0.7, 10 - i);
  }
  EXPECT_NEAR(std::exp2(Log2BinomialTail(10, 0.3, 4)), direct, 1e-12);
  EXPECT_EQ(Log2BinomialTail(10, 0.3, 0), 0);
  EXPECT_TRUE(std::isinf(Log2BinomialTail(10, 0.3, 11)));
  EXPECT_TRUE(std::isinf(Log2BinomialTail(10, 0.0, 1)));
}

TEST(SecAggGraph, TheRuleMeetsItsBoundsAndGrowsWithTheRisks) {
  absl::StatusOr<SecAggPlusParams> p = ChooseSecAggPlus(1000, 0.1, 0.1);
  ASSERT_OK(p);
  EXPECT_LT(p->neighbours, 999);  // fewer than everyone: the point of SecAgg+
  EXPECT_GT(p->threshold, p->neighbours / 2);
  EXPECT_LE(p->log2_security_failure, -40);
  EXPECT_LE(p->log2_correctness_failure, -20);
  absl::StatusOr<SecAggPlusParams> riskier = ChooseSecAggPlus(1000, 0.3, 0.1);
  ASSERT_OK(riskier);
  EXPECT_GE(riskier->neighbours, p->neighbours);
  absl::StatusOr<SecAggPlusParams> larger = ChooseSecAggPlus(100000, 0.1, 0.1);
  ASSERT_OK(larger);
  EXPECT_GE(larger->neighbours, p->neighbours);  // the union bound grows with n
  EXPECT_STATUS(ChooseSecAggPlus(2, 0.1, 0.1), absl::StatusCode::kInvalidArgument, ">= 3");
  EXPECT_STATUS(ChooseSecAggPlus(100, 0.1, 0.5), absl::StatusCode::kInvalidArgument, "corrupt");
}

TEST(SecAggGraph, TheGraphIsKRegularSymmetricAndSeeded) {
  const int64_t n = 50;
  const int k = 8;
  const auto g = NeighbourGraph(n, k, 3);
  ASSERT_EQ(g.size(), static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const std::set<int64_t> mine(g[i].begin(), g[i].end());
    EXPECT_EQ(mine.size(), static_cast<size_t>(k)) << i;
    EXPECT_EQ(mine.count(i), 0u) << i;
    for (int64_t j : mine) {
      EXPECT_TRUE(std::count(g[j].begin(), g[j].end(), i)) << i << " - " << j;
    }
  }
  EXPECT_EQ(NeighbourGraph(n, k, 3), g);
  EXPECT_NE(NeighbourGraph(n, k, 4), g);
  const auto full = NeighbourGraph(6, 5, 1);
  for (const auto& mine : full) EXPECT_EQ(mine.size(), 5u);
}

}  // namespace
}  // namespace tailor
