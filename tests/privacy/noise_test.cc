// The noise source and the discrete Gaussian sampler: statistics that a broken sampler cannot
// pass by chance (each bound is 5 standard errors, about 1 in 1.7 million for a correct one;
// a sampler whose standard deviation is off by 1%, or whose shape is Laplace, fails them all),
// and the exact Bernoulli coins it is built from.
#include <cmath>
#include <map>

#include "privacy/discrete_gaussian.h"
#include "privacy/secure_random.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

struct Moments {
  double mean = 0, variance = 0;
  double within_one_sigma = 0, within_two_sigma = 0;  // shares of |x| <= σ, <= 2σ
};

Moments Measure(uint64_t sigma_squared, int n, uint64_t seed) {
  auto sampler = DiscreteGaussianSampler::Create(sigma_squared).value();
  auto rng = SecureRandom::FromSeed(seed, 1);
  const double sigma = std::sqrt(static_cast<double>(sigma_squared));
  double sum = 0, sum_sq = 0;
  int64_t one = 0, two = 0;
  for (int i = 0; i < n; ++i) {
    const double x = static_cast<double>(sampler.Sample(*rng));
    sum += x;
    sum_sq += x * x;
    one += std::fabs(x) <= sigma;
    two += std::fabs(x) <= 2 * sigma;
  }
  Moments m;
  m.mean = sum / n;
  m.variance = sum_sq / n - m.mean * m.mean;
  m.within_one_sigma = static_cast<double>(one) / n;
  m.within_two_sigma = static_cast<double>(two) / n;
  return m;
}

TEST(DiscreteGaussian, HasTheConfiguredStdMeanZeroAndAGaussianShape) {
  constexpr int kSamples = 1000000;
  // Small and large σ: σ² = 10^6 is a typical count noise; 2^44 is the scale of update noise.
  for (uint64_t sigma_squared : {uint64_t{1000000}, uint64_t{1} << 44}) {
    const Moments m = Measure(sigma_squared, kSamples, sigma_squared);
    const double var = static_cast<double>(sigma_squared), sigma = std::sqrt(var);
    SCOPED_TRACE(::testing::Message() << "sigma^2=" << sigma_squared);
    EXPECT_LT(std::fabs(m.mean), 5 * sigma / std::sqrt(kSamples));
    // The sample variance has standard error σ²·sqrt(2/n): 0.14% here.
    EXPECT_LT(std::fabs(m.variance / var - 1), 5 * std::sqrt(2.0 / kSamples));
    // P(|X| <= σ) = 0.682689, P(|X| <= 2σ) = 0.954500 for a Gaussian (the lattice's effect
    // is below 1e-3σ here); a Laplace of the same variance gives 0.757 and 0.941.
    const double se1 = std::sqrt(0.6827 * 0.3173 / kSamples);
    const double se2 = std::sqrt(0.9545 * 0.0455 / kSamples);
    EXPECT_NEAR(m.within_one_sigma, 0.682689, 5 * se1 + 1 / sigma);
    EXPECT_NEAR(m.within_two_sigma, 0.954500, 5 * se2 + 1 / sigma);
  }
}

TEST(DiscreteGaussian, MatchesTheExactProbabilitiesAtSmallSigma) {
  // σ² = 2: P(x) = exp(-x²/4) / Σ_y exp(-y²/4). Pearson's χ² over x in [-6, 6] (and the two
  // tails pooled) with 14 degrees of freedom: 5 standard deviations above the mean is
  // 14 + 5·sqrt(28) = 40.5.
  constexpr int kSamples = 400000;
  auto sampler = DiscreteGaussianSampler::Create(2).value();
  auto rng = SecureRandom::FromSeed(7, 2);
  std::map<int64_t, int64_t> counts;
  for (int i = 0; i < kSamples; ++i) {
    const int64_t x = sampler.Sample(*rng);
    ++counts[std::max<int64_t>(-7, std::min<int64_t>(7, x))];
  }
  double norm = 0;
  for (int y = -60; y <= 60; ++y) norm += std::exp(-y * y / 4.0);
  double chi2 = 0;
  for (int x = -7; x <= 7; ++x) {
    double p = std::exp(-x * x / 4.0) / norm;
    if (std::abs(x) == 7) {
      p = 0;
      for (int y = 7; y <= 60; ++y) p += std::exp(-y * y / 4.0) / norm;
    }
    const double expected = p * kSamples;
    chi2 += (counts[x] - expected) * (counts[x] - expected) / expected;
  }
  EXPECT_LT(chi2, 40.5);
}

TEST(DiscreteGaussian, RefusesAVarianceOutsideItsRange) {
  EXPECT_STATUS(DiscreteGaussianSampler::Create(0).status(), absl::StatusCode::kInvalidArgument,
                "sigma^2 = 0");
  EXPECT_STATUS(DiscreteGaussianSampler::Create((uint64_t{1} << 56) + 1).status(),
                absl::StatusCode::kInvalidArgument, "outside");
}

TEST(BernoulliExpMinus, HitsExpOfMinusGamma) {
  constexpr int kSamples = 200000;
  auto rng = SecureRandom::FromSeed(3, 3);
  for (auto [num, den] : {std::pair<int, int>{1, 3}, {1, 1}, {5, 2}}) {
    int64_t hits = 0;
    for (int i = 0; i < kSamples; ++i) hits += BernoulliExpMinus(*rng, num, den);
    const double p = std::exp(-static_cast<double>(num) / den);
    EXPECT_NEAR(static_cast<double>(hits) / kSamples, p, 5 * std::sqrt(p * (1 - p) / kSamples))
        << num << "/" << den;
  }
}

TEST(SecureRandom, SeededStreamsRepeatAndDiffer) {
  auto a = SecureRandom::FromSeed(42, 1), b = SecureRandom::FromSeed(42, 1);
  auto other_stream = SecureRandom::FromSeed(42, 2), other_seed = SecureRandom::FromSeed(43, 1);
  bool differs_stream = false, differs_seed = false;
  for (int i = 0; i < 2000; ++i) {  // crosses the 4 KiB refill boundary
    const uint64_t x = a->NextU64();
    ASSERT_EQ(x, b->NextU64());
    differs_stream |= x != other_stream->NextU64();
    differs_seed |= x != other_seed->NextU64();
  }
  EXPECT_TRUE(differs_stream);
  EXPECT_TRUE(differs_seed);
  EXPECT_FALSE(a->secure());
}

TEST(SecureRandom, OsKeyedStreamsAreUnpredictableAndUniform) {
  auto a = SecureRandom::FromOsEntropy(), b = SecureRandom::FromOsEntropy();
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_TRUE((*a)->secure());
  EXPECT_NE((*a)->NextU64(), (*b)->NextU64());
  // UniformBelow(3) over 300k draws: each value 1/3 within 5 standard errors.
  constexpr int kSamples = 300000;
  int64_t counts[3] = {0, 0, 0};
  for (int i = 0; i < kSamples; ++i) ++counts[static_cast<int>((*a)->UniformBelow(3))];
  for (int64_t c : counts) {
    EXPECT_NEAR(static_cast<double>(c) / kSamples, 1.0 / 3,
                5 * std::sqrt(2.0 / 9 / kSamples));
  }
  // A 100-bit bound uses both words.
  const uint128 big = (uint128{1} << 100) + 12345;
  bool high = false;
  for (int i = 0; i < 100; ++i) {
    const uint128 x = (*a)->UniformBelow(big);
    ASSERT_LT(x, big);
    high |= (x >> 64) != 0;
  }
  EXPECT_TRUE(high);
}

}  // namespace
}  // namespace tailor
