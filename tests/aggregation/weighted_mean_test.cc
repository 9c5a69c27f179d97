#include "aggregation/weighted_mean.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {3, 4}}, {"b", {4}}};

TEST(WeightedMean, MatchesDirectComputation) {
  std::vector<ParameterSet> updates;
  std::vector<double> weights = {3, 1, 7, 2};
  for (int i = 0; i < 4; ++i) updates.push_back(RandomSet(kSpec, 100 + i, 0.1));
  WeightedMeanAggregator agg;
  ASSERT_OK(agg.Begin(updates[0]));
  for (int i = 0; i < 4; ++i) ASSERT_OK(agg.Add(updates[i], weights[i]));
  auto mean = agg.Finalize();
  ASSERT_OK(mean);
  const double total = 13;
  for (const std::string name : {"w", "b"}) {
    for (int64_t j = 0; j < updates[0].Find(name)->numel(); ++j) {
      double want = 0;
      for (int i = 0; i < 4; ++i) want += weights[i] * updates[i].Find(name)->f32()[j];
      want /= total;
      EXPECT_NEAR(mean->Find(name)->f32()[j], want, 1e-7) << name << "[" << j << "]";
    }
  }
}

TEST(WeightedMean, SingleClientIsItsUpdate) {
  ParameterSet u = RandomSet(kSpec, 5, 0.01);
  WeightedMeanAggregator agg;
  ASSERT_OK(agg.Begin(u));
  ASSERT_OK(agg.Add(u, 42));
  auto mean = agg.Finalize();
  ASSERT_OK(mean);
  for (int64_t j = 0; j < 12; ++j)
    EXPECT_NEAR(mean->Find("w")->f32()[j], u.Find("w")->f32()[j], 1e-9);
}

TEST(WeightedMean, ArrivalOrderDoesNotChangeABit) {
  std::vector<ParameterSet> updates;
  std::vector<double> weights;
  for (int i = 0; i < 9; ++i) {
    updates.push_back(RandomSet(kSpec, 200 + i, std::pow(10.0, -(i % 5))));
    weights.push_back(1 + (i * 37) % 11);
  }
  auto run = [&](const std::vector<int>& order) {
    WeightedMeanAggregator agg;
    EXPECT_OK(agg.Begin(updates[0]));
    for (int i : order) EXPECT_OK(agg.Add(updates[i], weights[i]));
    return *agg.Finalize();
  };
  std::vector<int> order(9);
  std::iota(order.begin(), order.end(), 0);
  const ParameterSet reference = run(order);
  Rng rng(1);
  for (int trial = 0; trial < 20; ++trial) {
    rng.Shuffle(&order);
    EXPECT_TRUE(run(order) == reference) << "permutation " << trial << " changed the result";
  }
}

TEST(WeightedMean, EmptyCohortIsAClearError) {
  WeightedMeanAggregator agg;
  ASSERT_OK(agg.Begin(RandomSet(kSpec, 1)));
  EXPECT_STATUS(agg.Finalize(), absl::StatusCode::kFailedPrecondition, "empty cohort");
}

TEST(WeightedMean, BadWeightsAndSchemasAreRefusedWithoutEffect) {
  ParameterSet u = RandomSet(kSpec, 1, 0.1);
  WeightedMeanAggregator agg;
  ASSERT_OK(agg.Begin(u));
  ASSERT_OK(agg.Add(u, 2));
  for (double w : {0.0, -1.0, double{NAN}, double{INFINITY}}) {
    EXPECT_STATUS(agg.Add(u, w), absl::StatusCode::kInvalidArgument, "weight");
  }
  EXPECT_STATUS(agg.Add(RandomSet({{"w", {3, 4}}}, 1), 1), absl::StatusCode::kInvalidArgument,
                "missing tensor 'b'");
  EXPECT_EQ(agg.num_updates(), 1);
  auto mean = agg.Finalize();
  ASSERT_OK(mean);
  EXPECT_NEAR(mean->Find("b")->f32()[0], u.Find("b")->f32()[0], 1e-9);
}

TEST(WeightedMean, OverflowIsOutOfRangeAndRolledBack) {
  ParameterSet small = RandomSet(kSpec, 1, 0.1);
  ParameterSet huge = small;
  huge.FindMutable("b")->f32()[3] = 1e12f;  // in the second tensor: the first must be undone
  WeightedMeanAggregator agg;
  ASSERT_OK(agg.Begin(small));
  ASSERT_OK(agg.Add(small, 1));
  EXPECT_STATUS(agg.Add(huge, 1), absl::StatusCode::kOutOfRange, "tensor 'b'");
  auto mean = agg.Finalize();
  ASSERT_OK(mean);
  EXPECT_NEAR(mean->Find("w")->f32()[0], small.Find("w")->f32()[0], 1e-9);
  EXPECT_EQ(agg.num_updates(), 1);
}

TEST(CreateAggregator, UnknownNameIsRefused) {
  EXPECT_OK(CreateAggregator("weighted_mean"));
  EXPECT_STATUS(CreateAggregator("mode"), absl::StatusCode::kInvalidArgument, "unknown aggregator");
}

// The buffered fold (AddShared) against one-at-a-time folding: the same bits for any buffer
// size and arrival order, with updates too large for the fast path interleaved (they take the
// exact path after the buffer is folded), and refusals leaving the aggregate untouched.
TEST(WeightedMean, BufferedFoldingGivesTheSameBitsAsFoldingEachOnArrival) {
  // Tensors longer than a tile (8192), so tiles and tails are both exercised.
  const std::vector<std::pair<std::string, std::vector<int64_t>>> spec = {{"w", {130, 150}},
                                                                          {"b", {7}}};
  std::vector<ParameterSet> updates;
  std::vector<double> weights;
  for (int i = 0; i < 12; ++i) {
    updates.push_back(RandomSet(spec, 900 + i, 0.05));
    weights.push_back(1 + (i * 13) % 7);
  }
  updates[5].entry(0).tensor.f32()[17] = 3e5f;  // beyond the fast path at weight >= 8
  weights[5] = 100;
  WeightedMeanAggregator reference(/*buffer_bytes=*/0);
  ASSERT_OK(reference.Begin(updates[0]));
  for (size_t i = 0; i < updates.size(); ++i) ASSERT_OK(reference.Add(updates[i], weights[i]));
  const ParameterSet want = *reference.Finalize();
  for (int64_t buffer : {int64_t{1}, int64_t{100000}, int64_t{400000}, int64_t{1} << 30}) {
    std::vector<size_t> order(updates.size());
    std::iota(order.begin(), order.end(), 0);
    std::rotate(order.begin(), order.begin() + 4, order.end());
    std::reverse(order.begin(), order.begin() + 6);
    WeightedMeanAggregator buffered(buffer);
    ASSERT_OK(buffered.Begin(updates[0]));
    for (size_t i : order) {
      ASSERT_OK(buffered.AddShared(std::make_shared<const ParameterSet>(updates[i]), weights[i]));
      // A refused update in the middle of a buffer changes nothing.
      ParameterSet poisoned = updates[i];
      poisoned.entry(1).tensor.f32()[3] = NAN;
      EXPECT_STATUS(buffered.AddShared(std::make_shared<const ParameterSet>(poisoned), 1),
                    absl::StatusCode::kInvalidArgument, "non-finite");
    }
    EXPECT_EQ(buffered.num_updates(), 12);
    EXPECT_TRUE(*buffered.Finalize() == want) << "buffer " << buffer;
  }
}

TEST(WeightedMean, ASumThatWouldOverflowIsRefusedOnArrivalEvenWhenBuffered) {
  ParameterSet big = RandomSet(kSpec, 3, 0.01);
  big.entry(0).tensor.f32()[0] = 2e9f;  // 2e9 x weight 2 > 2^31: no fixed-point room
  WeightedMeanAggregator agg;
  ASSERT_OK(agg.Begin(big));
  const ParameterSet fine = RandomSet(kSpec, 4, 0.01);
  ASSERT_OK(agg.AddShared(std::make_shared<const ParameterSet>(fine), 1));
  EXPECT_STATUS(agg.AddShared(std::make_shared<const ParameterSet>(big), 2),
                absl::StatusCode::kOutOfRange, "overflows");
  EXPECT_EQ(agg.num_updates(), 1);
  auto mean = agg.Finalize();
  ASSERT_OK(mean);
  EXPECT_NEAR(mean->entry(0).tensor.f32()[0], fine.entry(0).tensor.f32()[0], 1e-9);
}

}  // namespace
}  // namespace tailor
