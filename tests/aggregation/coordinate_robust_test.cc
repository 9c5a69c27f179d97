// Coordinate-wise median and trimmed mean against a direct computation, order independence,
// robustness to a malicious minority, and bad input.
#include "aggregation/coordinate_robust.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {3, 4}}, {"b", {4}}};

// The textbook definitions, written independently of the implementation.
double ReferenceMedian(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t k = v.size();
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}
double ReferenceTrimmedMean(std::vector<double> v, double beta) {
  std::sort(v.begin(), v.end());
  const size_t trim = static_cast<size_t>(beta * v.size());
  const std::vector<double> kept(v.begin() + trim, v.end() - trim);
  return std::accumulate(kept.begin(), kept.end(), 0.0) / kept.size();
}

ParameterSet Aggregate(const std::string& rule, const std::vector<ParameterSet>& updates,
                       const std::vector<double>& weights, double beta = 0.2) {
  AggregatorOptions o;
  o.name = rule;
  o.trim_fraction = beta;
  auto agg = *CreateAggregator(o);
  EXPECT_OK(agg->Begin(updates[0]));
  for (size_t i = 0; i < updates.size(); ++i) EXPECT_OK(agg->Add(updates[i], weights[i]));
  return *agg->Finalize();
}

TEST(CoordinateRobust, MatchDirectComputationForOddEvenAndSingleCohorts) {
  for (int k : {1, 2, 5, 6, 10}) {
    std::vector<ParameterSet> updates;
    for (int i = 0; i < k; ++i) updates.push_back(RandomSet(kSpec, 300 + i, 0.1));
    const std::vector<double> weights(k, 1.0);
    const ParameterSet median = Aggregate("median", updates, weights);
    const ParameterSet trimmed = Aggregate("trimmed_mean", updates, weights, 0.2);
    for (const std::string name : {"w", "b"}) {
      for (int64_t j = 0; j < updates[0].Find(name)->numel(); ++j) {
        std::vector<double> v;
        for (const auto& u : updates) v.push_back(u.Find(name)->f32()[j]);
        EXPECT_FLOAT_EQ(median.Find(name)->f32()[j], ReferenceMedian(v)) << k << name << j;
        EXPECT_FLOAT_EQ(trimmed.Find(name)->f32()[j], ReferenceTrimmedMean(v, 0.2))
            << k << name << j;
      }
    }
  }
}

TEST(CoordinateRobust, TiesAndWeightsDoNotMatter) {
  // Three identical updates and one other: the median is the repeated value, whatever weight
  // the outlier claims.
  const ParameterSet same = RandomSet(kSpec, 1, 0.1);
  const ParameterSet other = RandomSet(kSpec, 2, 0.1);
  const ParameterSet median = Aggregate("median", {same, other, same, same}, {1, 1000000, 1, 1});
  EXPECT_TRUE(median == same);
}

TEST(CoordinateRobust, ArrivalOrderLeavesTheResultBitwiseUnchanged) {
  std::vector<ParameterSet> updates;
  for (int i = 0; i < 7; ++i) updates.push_back(RandomSet(kSpec, 400 + i, 0.1));
  const std::vector<double> weights(7, 1.0);
  for (const std::string rule : {"median", "trimmed_mean"}) {
    const ParameterSet first = Aggregate(rule, updates, weights);
    std::vector<int> order(7);
    std::iota(order.begin(), order.end(), 0);
    for (int p = 0; p < 20; ++p) {
      std::next_permutation(order.begin(), order.end());
      std::vector<ParameterSet> permuted;
      for (int i : order) permuted.push_back(updates[i]);
      EXPECT_TRUE(Aggregate(rule, permuted, weights) == first) << rule << " permutation " << p;
    }
  }
}

TEST(CoordinateRobust, AMaliciousMinorityCannotMoveTheResultOutOfTheHonestRange) {
  std::vector<ParameterSet> updates;
  for (int i = 0; i < 8; ++i) updates.push_back(RandomSet(kSpec, 500 + i, 0.1));
  // Two of ten are sign-flipped and scaled x100 (the Byzantine test's attack).
  for (int i = 0; i < 2; ++i) {
    ParameterSet bad = updates[i];
    for (size_t t = 0; t < bad.size(); ++t) {
      for (float& v : bad.entry(t).tensor.f32()) v *= -100;
    }
    updates.push_back(bad);
  }
  const std::vector<double> weights(10, 1.0);
  for (const std::string rule : {"median", "trimmed_mean"}) {
    const ParameterSet r = Aggregate(rule, updates, weights, 0.2);
    for (const std::string name : {"w", "b"}) {
      for (int64_t j = 0; j < r.Find(name)->numel(); ++j) {
        float lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < 8; ++i) {
          lo = std::min(lo, updates[i].Find(name)->f32()[j]);
          hi = std::max(hi, updates[i].Find(name)->f32()[j]);
        }
        EXPECT_GE(r.Find(name)->f32()[j], lo) << rule << name << j;
        EXPECT_LE(r.Find(name)->f32()[j], hi) << rule << name << j;
      }
    }
  }
}

TEST(CoordinateRobust, BadInputIsRefusedAndLeavesTheAggregateUnchanged) {
  auto agg = *CreateAggregator("median");
  EXPECT_STATUS(agg->Finalize(), absl::StatusCode::kFailedPrecondition, "no updates");
  const ParameterSet good = RandomSet(kSpec, 7, 0.1);
  ASSERT_OK(agg->Begin(good));
  ASSERT_OK(agg->Add(good, 1));
  ParameterSet nan = good;
  nan.FindMutable("b")->f32()[2] = NAN;
  EXPECT_STATUS(agg->Add(nan, 1), absl::StatusCode::kInvalidArgument, "non-finite");
  EXPECT_STATUS(agg->Add(RandomSet({{"w", {4, 3}}, {"b", {4}}}, 8), 1),
                absl::StatusCode::kInvalidArgument, "'w'");
  EXPECT_STATUS(agg->Add(good, -1), absl::StatusCode::kInvalidArgument, "weight");
  EXPECT_EQ(agg->num_updates(), 1);
  EXPECT_TRUE(*agg->Finalize() == good);

  AggregatorOptions o;
  o.name = "trimmed_mean";
  for (double beta : {-0.1, 0.5, 0.7, static_cast<double>(NAN)}) {
    o.trim_fraction = beta;
    EXPECT_STATUS(CreateAggregator(o), absl::StatusCode::kInvalidArgument, "trim_fraction");
  }
  EXPECT_STATUS(CreateAggregator("bulyan"), absl::StatusCode::kInvalidArgument,
                "known: weighted_mean, median, trimmed_mean, krum, multi_krum");
}

TEST(Aggregators, EveryRuleRefusesANonFloatingSchemaNamingTheTensor) {
  ParameterSet schema = RandomSet(kSpec, 1, 0.1);
  ASSERT_OK(schema.Add("steps", Tensor(DType::kInt64, {1})));
  for (const std::string rule : {"weighted_mean", "median", "trimmed_mean", "krum", "multi_krum"}) {
    SCOPED_TRACE(rule);
    auto agg = *CreateAggregator(rule);
    EXPECT_STATUS(agg->Begin(schema), absl::StatusCode::kInvalidArgument,
                  "tensor 'steps' is int64; aggregation needs floating point");
  }
}

}  // namespace
}  // namespace tailor
