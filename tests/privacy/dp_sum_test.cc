// The noised sum: the released noise has std z·S/E[m], one client moves the sum by at most S,
// the coordinator re-clips, arrival order does not matter, and bad input is refused.
#include "privacy/dp_sum.h"

#include <algorithm>
#include <cmath>

#include "core/parameter_math.h"
#include "privacy/secagg_input.h"
#include "privacy/secagg_wire.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

DpSumOptions Options(SecureRandom* rng, double clip = 1.0, double z = 1.0, double cohort = 10) {
  DpSumOptions o;
  o.clip_norm = clip;
  o.noise_multiplier = z;
  o.expected_cohort = cohort;
  o.rng = rng;
  return o;
}

ParameterSet Zeros(int64_t n) {
  ParameterSet set;
  (void)set.Add("w", Tensor(DType::kFloat32, {n}));
  return set;
}

TEST(DpSum, ReleasedNoiseHasTheConfiguredStdAndMeanZero) {
  // No update at all (a Poisson round can be empty): the release is the noise alone, with std
  // z·S/E[m] = 2·0.5/4 = 0.25 per coordinate. 10^6 coordinates: the mean within 5 standard
  // errors, the variance within 5 standard errors (0.7%).
  constexpr int64_t kD = 1000000;
  auto rng = SecureRandom::FromSeed(1, 1);
  auto sum = DpSumAggregator::Create(Options(rng.get(), 0.5, 2.0, 4)).value();
  const ParameterSet schema = Zeros(kD);
  ASSERT_OK(sum->Begin(schema));
  auto out = sum->Finalize();
  ASSERT_OK(out);
  double s = 0, s2 = 0;
  for (float v : out->entry(0).tensor.f32()) {
    s += v;
    s2 += static_cast<double>(v) * v;
  }
  const double mean = s / kD, var = s2 / kD - mean * mean, want = 0.25 * 0.25;
  EXPECT_LT(std::fabs(mean), 5 * 0.25 / std::sqrt(kD));
  EXPECT_LT(std::fabs(var / want - 1), 5 * std::sqrt(2.0 / kD));
  // The noise really is on the grid: every released value times E[m]/g is an integer.
  const double steps = 4 / sum->grid_step();
  for (int i = 0; i < 1000; ++i) {
    const double x = out->entry(0).tensor.f32()[i] * steps;
    EXPECT_NEAR(x, std::nearbyint(x), std::fabs(x) * 1e-6 + 1e-6);
  }
}

TEST(DpSum, OneClientMovesTheSumByAtMostTheClipNorm) {
  // Same noise (same seeded stream) with and without one client: the difference is that
  // client's clipped contribution, whose norm is at most S / E[m], however large it was.
  const ParameterSet others = testing::RandomSet({{"w", {5000}}}, 2, 0.001);
  ParameterSet huge = testing::RandomSet({{"w", {5000}}}, 3, 100.0);
  const double clip = 0.8, cohort = 10;
  auto release = [&](bool with_huge) {
    auto rng = SecureRandom::FromSeed(9, 9);
    auto sum = DpSumAggregator::Create(Options(rng.get(), clip, 1.0, cohort)).value();
    EXPECT_OK(sum->Begin(others));
    EXPECT_OK(sum->Add(others, 1));
    if (with_huge) {
      EXPECT_OK(sum->Add(huge, 1));
      EXPECT_EQ(sum->num_clipped(), 1);
    }
    return sum->Finalize().value();
  };
  const ParameterSet with = release(true), without = release(false);
  auto diff = Difference(with, without);
  ASSERT_OK(diff);
  const double moved = L2Norm(*diff) * cohort;
  EXPECT_LE(moved, clip * (1 + 1e-5));  // float32 output rounding
  EXPECT_GT(moved, clip * 0.99);        // and the huge update did count, at full norm
}

TEST(DpSum, ArrivalOrderDoesNotChangeABit) {
  std::vector<ParameterSet> updates;
  for (int k = 0; k < 6; ++k) updates.push_back(testing::RandomSet({{"w", {777}}}, 10 + k, 0.1));
  auto run = [&](const std::vector<int>& order) {
    auto rng = SecureRandom::FromSeed(5, 5);
    auto sum = DpSumAggregator::Create(Options(rng.get(), 1.5, 0.7, 6)).value();
    EXPECT_OK(sum->Begin(updates[0]));
    for (int k : order) EXPECT_OK(sum->Add(updates[k], 1.0 + k));  // weights do not matter
    return sum->Finalize().value();
  };
  EXPECT_EQ(run({0, 1, 2, 3, 4, 5}), run({5, 3, 1, 0, 4, 2}));
}

TEST(DpSum, WeightsDoNotScaleAClientsInfluence) {
  const ParameterSet u = testing::RandomSet({{"w", {100}}}, 4, 0.01);
  auto run = [&](double weight) {
    auto rng = SecureRandom::FromSeed(6, 6);
    auto sum = DpSumAggregator::Create(Options(rng.get())).value();
    EXPECT_OK(sum->Begin(u));
    EXPECT_OK(sum->Add(u, weight));
    return sum->Finalize().value();
  };
  EXPECT_EQ(run(1), run(1000));
}

TEST(DpSum, RefusesBadInputWithoutCountingIt) {
  auto rng = SecureRandom::FromSeed(8, 8);
  EXPECT_STATUS(DpSumAggregator::Create(Options(rng.get(), 0)).status(),
                absl::StatusCode::kInvalidArgument, "clip norm");
  EXPECT_STATUS(DpSumAggregator::Create(Options(rng.get(), 1, -1)).status(),
                absl::StatusCode::kInvalidArgument, "noise multiplier");
  EXPECT_STATUS(DpSumAggregator::Create(Options(rng.get(), 1, 1, 0)).status(),
                absl::StatusCode::kInvalidArgument, "expected cohort");
  EXPECT_STATUS(DpSumAggregator::Create(Options(nullptr)).status(),
                absl::StatusCode::kInvalidArgument, "noise source");
  auto sum = DpSumAggregator::Create(Options(rng.get())).value();
  ASSERT_OK(sum->Begin(Zeros(4)));
  EXPECT_STATUS(sum->Add(Zeros(5), 1), absl::StatusCode::kInvalidArgument, "update");
  ParameterSet nan = Zeros(4);
  nan.entry(0).tensor.f32()[2] = std::nanf("");
  EXPECT_STATUS(sum->Add(nan, 1), absl::StatusCode::kInvalidArgument, "'w'");
  EXPECT_STATUS(sum->Add(Zeros(4), 0), absl::StatusCode::kInvalidArgument, "weight");
  EXPECT_EQ(sum->num_updates(), 0);
  // A model too large for an exact grid at this noise is refused up front, not mis-noised.
  auto noisy = DpSumAggregator::Create(Options(rng.get(), 1, 1000)).value();
  EXPECT_STATUS(noisy->Begin(Zeros(1000000)), absl::StatusCode::kInvalidArgument,
                "fine enough grid");
}

// Under secure aggregation the clients put their updates in the grid (EncodeSecAggDpInput) and
// the coordinator only sees the sum modulo 2^64: the release is the same bits as Add's.
TEST(DpSum, AGridSumFromSecureAggregationReleasesWhatAddsWould) {
  const ParameterSet schema = testing::RandomSet({{"w", {40}}, {"b", {7}}}, 1);
  std::vector<ParameterSet> updates;
  for (uint64_t k = 0; k < 5; ++k) updates.push_back(testing::RandomSet({{"w", {40}}, {"b", {7}}}, 10 + k, 0.4));
  auto rng_a = SecureRandom::FromSeed(3, 0);
  auto rng_b = SecureRandom::FromSeed(3, 0);
  auto by_add = DpSumAggregator::Create(Options(rng_a.get(), 1.0, 1.1, 5)).value();
  auto by_sum = DpSumAggregator::Create(Options(rng_b.get(), 1.0, 1.1, 5)).value();
  ASSERT_OK(by_add->Begin(schema));
  ASSERT_OK(by_sum->Begin(schema));
  const DpSumGrid grid = by_sum->grid();
  const DpSumGrid computed = *ComputeDpSumGrid(schema.TotalElements(), 1.1, 1.0);
  EXPECT_EQ(grid.grid, computed.grid);
  EXPECT_EQ(grid.effective_clip, computed.effective_clip);
  std::vector<uint64_t> words(SecAggInputLength(schema.TotalElements()), 0);
  int64_t within = 0;
  for (const ParameterSet& u : updates) {
    ASSERT_OK(by_add->Add(u, 1));
    const bool inside = L2Norm(u) <= 1.0;
    within += inside;
    auto input = EncodeSecAggDpInput(u, inside, grid);
    ASSERT_OK(input);
    for (size_t i = 0; i < words.size(); ++i) words[i] += (*input)[i];  // modulo 2^64
  }
  auto decoded = DecodeSecAggDpSum(schema.TotalElements(), words);
  ASSERT_OK(decoded);
  // The same sum in the round's compact field (a few bytes a value on the wire) decodes the same.
  const SecAggField field = SecAggDpField(5, grid, 0);
  EXPECT_LT(field.bits, 32) << "5 clients of S/g ~ 2^20 steps need ~24 bits";
  std::vector<uint64_t> compact(words);
  for (uint64_t& w : compact) w &= (uint64_t{1} << field.bits) - 1;
  const std::string packed = PackWords(compact, field.bits);
  EXPECT_EQ(packed.size(), compact.size() * SecAggWordBytes(field.bits));
  auto unpacked = UnpackWords(packed, compact.size(), field.bits);
  ASSERT_OK(unpacked);
  auto from_compact = DecodeSecAggDpSum(schema.TotalElements(), *unpacked, field.bits);
  ASSERT_OK(from_compact);
  EXPECT_EQ(from_compact->sums, decoded->sums);
  EXPECT_EQ(from_compact->count, decoded->count);
  EXPECT_EQ(from_compact->within_clip, decoded->within_clip);
  EXPECT_EQ(decoded->count, 5);
  EXPECT_EQ(decoded->within_clip, within);
  EXPECT_LT(within, 5) << "some update must need clipping for this test to mean something";
  ASSERT_OK(by_sum->AddGridSum(decoded->sums, decoded->count));
  EXPECT_TRUE(*by_add->Finalize() == *by_sum->Finalize());
  // A sum no 5 clipped updates can make, a wrong length, or a second sum: refused.
  auto other = DpSumAggregator::Create(Options(rng_b.get(), 1.0, 1.1, 5)).value();
  ASSERT_OK(other->Begin(schema));
  std::vector<int64_t> huge(decoded->sums);
  huge[0] = static_cast<int64_t>(6 / grid.grid);
  EXPECT_STATUS(other->AddGridSum(huge, 5), absl::StatusCode::kInvalidArgument, "beyond");
  EXPECT_STATUS(other->AddGridSum(absl::MakeSpan(decoded->sums).subspan(1), 5),
                absl::StatusCode::kInvalidArgument, "values");
  ASSERT_OK(other->AddGridSum(decoded->sums, 5));
  EXPECT_STATUS(other->AddGridSum(decoded->sums, 5), absl::StatusCode::kFailedPrecondition,
                "after other updates");
  words[schema.TotalElements() + 1] = 9;  // more within the norm than clients
  EXPECT_STATUS(DecodeSecAggDpSum(schema.TotalElements(), words),
                absl::StatusCode::kInvalidArgument, "within the clip norm");
}

// Distributed DP: each client's share of the noise is a discrete Gaussian of the given variance,
// so n clients' masked sum carries n times it (2 x 10^5 values: the variance within 2%).
TEST(DpSum, DistributedNoiseSharesAddUpToTheirSummedVariance) {
  constexpr int64_t kValues = 200000;
  constexpr uint64_t kShare = 10000;
  std::vector<uint64_t> sum(kValues + 2, 0);
  for (uint64_t client = 0; client < 10; ++client) {
    std::vector<uint64_t> words(kValues + 2, 0);
    auto rng = SecureRandom::FromSeed(41, client);
    ASSERT_OK(AddSecAggDpNoise(kValues, kShare, *rng, &words));
    EXPECT_EQ(words[kValues], 0u) << "the count and within-clip words carry no noise";
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += words[i];
  }
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < kValues; ++i) {
    const double v = static_cast<double>(static_cast<int64_t>(sum[static_cast<size_t>(i)]));
    s += v;
    s2 += v * v;
  }
  const double mean = s / kValues, variance = s2 / kValues - mean * mean;
  EXPECT_NEAR(mean, 0, 5 * std::sqrt(10.0 * kShare / kValues));
  EXPECT_NEAR(variance / (10.0 * kShare), 1.0, 0.02);
  std::vector<uint64_t> short_input(3, 0);
  auto rng = SecureRandom::FromSeed(1, 1);
  EXPECT_STATUS(AddSecAggDpNoise(5, kShare, *rng, &short_input), absl::StatusCode::kInvalidArgument,
                "3 words");
}

}  // namespace
}  // namespace tailor
