// Norm bounding: updates above the bound enter the mean scaled to the bound, those below
// unchanged; order independence is kept; bad settings are refused.
#include "aggregation/norm_bounded.h"

#include <cmath>

#include "core/parameter_math.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {3, 4}}, {"b", {4}}};

TEST(NormBounded, ScalesOnlyUpdatesAboveTheBoundThenTakesTheWeightedMean) {
  const ParameterSet small = RandomSet(kSpec, 1, 0.01);  // norm ~0.03
  ParameterSet big = RandomSet(kSpec, 2, 0.1);
  for (size_t t = 0; t < big.size(); ++t) {
    for (float& v : big.entry(t).tensor.f32()) v *= 1000;  // norm ~300
  }
  const double bound = 1.0;
  ASSERT_LT(L2Norm(small), bound);
  ASSERT_GT(L2Norm(big), bound);
  AggregatorOptions o;
  o.norm_bound = bound;
  auto agg = *CreateAggregator(o);
  ASSERT_OK(agg->Begin(small));
  ASSERT_OK(agg->Add(small, 3));
  ASSERT_OK(agg->Add(big, 1));
  auto mean = agg->Finalize();
  ASSERT_OK(mean);
  const double scale = bound / L2Norm(big);
  for (const std::string name : {"w", "b"}) {
    for (int64_t j = 0; j < small.Find(name)->numel(); ++j) {
      const double want = (3 * small.Find(name)->f32()[j] + scale * big.Find(name)->f32()[j]) / 4;
      EXPECT_NEAR(mean->Find(name)->f32()[j], want, 1e-6) << name << j;
    }
  }
  // The attacker's pull on the aggregate is at most its weight share times the bound.
  ParameterSet diff = *Difference(*mean, RandomSet(kSpec, 1, 0.01));
  EXPECT_LE(L2Norm(diff), 0.25 * bound + 0.75 * L2Norm(small) + 1e-6);
}

TEST(NormBounded, ArrivalOrderLeavesTheResultBitwiseUnchanged) {
  std::vector<ParameterSet> updates;
  for (int i = 0; i < 5; ++i) updates.push_back(RandomSet(kSpec, 20 + i, i % 2 ? 10.0 : 0.01));
  AggregatorOptions o;
  o.norm_bound = 0.5;
  auto run = [&](std::vector<int> order) {
    auto agg = *CreateAggregator(o);
    EXPECT_OK(agg->Begin(updates[0]));
    for (int i : order) EXPECT_OK(agg->Add(updates[i], 1 + i));
    return *agg->Finalize();
  };
  EXPECT_TRUE(run({0, 1, 2, 3, 4}) == run({4, 2, 0, 3, 1}));
}

TEST(NormBounded, BadUpdatesAndSettingsAreRefused) {
  AggregatorOptions o;
  o.norm_bound = 1;
  auto agg = *CreateAggregator(o);
  const ParameterSet good = RandomSet(kSpec, 3, 0.01);
  ASSERT_OK(agg->Begin(good));
  ParameterSet nan = good;
  nan.FindMutable("w")->f32()[0] = NAN;
  EXPECT_STATUS(agg->Add(nan, 1), absl::StatusCode::kInvalidArgument, "non-finite");
  EXPECT_EQ(agg->num_updates(), 0);
  for (double bad : {-1.0, static_cast<double>(INFINITY), static_cast<double>(NAN)}) {
    o.norm_bound = bad;
    EXPECT_STATUS(CreateAggregator(o), absl::StatusCode::kInvalidArgument, "norm_bound");
  }
  o.norm_bound = 1;
  o.name = "median";
  EXPECT_STATUS(CreateAggregator(o), absl::StatusCode::kInvalidArgument,
                "applies to weighted_mean");
}

}  // namespace
}  // namespace tailor
