// Shamir sharing over GF(2^127 - 1) (privacy/shamir.h): the field's arithmetic against a
// slow reference, any t shares recover the secret, t - 1 are consistent with every secret,
// and malformed shares are refused naming what is wrong.
#include "privacy/shamir.h"

#include <algorithm>
#include <numeric>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using gf127::kPrime;

// a·b by doubling and adding, with Add alone (itself checked on edge values below).
uint128 SlowMul(uint128 a, uint128 b) {
  uint128 r = 0;
  for (int bit = 126; bit >= 0; --bit) {
    r = gf127::Add(r, r);
    if ((b >> bit) & 1) r = gf127::Add(r, a);
  }
  return r;
}

TEST(Gf127, ArithmeticAgreesWithTheDefinitions) {
  EXPECT_EQ(gf127::Add(kPrime - 1, 1), 0u);
  EXPECT_EQ(gf127::Add(kPrime - 1, kPrime - 1), kPrime - 2);
  EXPECT_EQ(gf127::Sub(0, 1), kPrime - 1);
  EXPECT_EQ(gf127::Mul(kPrime - 1, kPrime - 1), 1u);  // (-1)(-1)
  EXPECT_EQ(gf127::Mul(static_cast<uint128>(1) << 126, 2), 1u);  // 2^127 = p + 1
  EXPECT_EQ(gf127::Inverse(0), 0u);
  auto random = SecureRandom::FromSeed(7, 1);
  for (int i = 0; i < 200; ++i) {
    const uint128 a = random->UniformBelow(kPrime), b = random->UniformBelow(kPrime);
    ASSERT_EQ(gf127::Mul(a, b), SlowMul(a, b));
    ASSERT_EQ(gf127::Sub(gf127::Add(a, b), b), a);
    if (a != 0) ASSERT_EQ(gf127::Mul(a, gf127::Inverse(a)), 1u);
  }
}

std::vector<uint8_t> Bytes(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(Shamir, AnyThresholdSharesRecoverTheSecret) {
  auto random = SecureRandom::FromSeed(3, 2);
  auto pick = SecureRandom::FromSeed(3, 3);
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 1 + static_cast<int>(pick->UniformBelow(12));
    const int t = 1 + static_cast<int>(pick->UniformBelow(static_cast<uint128>(n)));
    const std::vector<uint8_t> secret = Bytes(1 + static_cast<size_t>(pick->UniformBelow(64)),
                                              static_cast<uint8_t>(trial));
    std::vector<uint32_t> xs(static_cast<size_t>(n));
    std::iota(xs.begin(), xs.end(), 1u + static_cast<uint32_t>(trial));
    absl::StatusOr<std::vector<ShamirShare>> shares = ShamirSplit(secret, t, xs, *random);
    ASSERT_OK(shares);
    // A random subset of t, in a random order.
    std::vector<ShamirShare> subset = *shares;
    for (size_t i = subset.size(); i > 1; --i) {
      std::swap(subset[i - 1], subset[static_cast<size_t>(pick->UniformBelow(i))]);
    }
    absl::StatusOr<std::vector<uint8_t>> back = ShamirCombine(subset, t, secret.size());
    ASSERT_OK(back);
    EXPECT_EQ(*back, secret) << "n " << n << " t " << t;
  }
}

// t - 1 shares fix nothing: through them and (0, any other secret) passes a polynomial of
// degree t - 1, whose value at a new point, with them, recovers that other secret.
TEST(Shamir, FewerThanThresholdSharesAreConsistentWithEverySecret) {
  auto random = SecureRandom::FromSeed(5, 1);
  const int t = 4;
  const std::vector<uint32_t> xs = {1, 2, 3, 4, 5};
  const std::vector<uint8_t> secret = Bytes(15, 40), other = Bytes(15, 200);
  absl::StatusOr<std::vector<ShamirShare>> shares = ShamirSplit(secret, t, xs, *random);
  ASSERT_OK(shares);
  std::vector<ShamirShare> few(shares->begin(), shares->begin() + (t - 1));
  EXPECT_EQ(ShamirCombine(few, t, 15).status().code(), absl::StatusCode::kInvalidArgument);
  // The polynomial through (0, other) and the t - 1 shares, evaluated at x = 9 by Lagrange.
  uint128 other_value = 0;
  for (size_t b = 0; b < 15; ++b) other_value |= static_cast<uint128>(other[b]) << (8 * b);
  std::vector<std::pair<uint128, uint128>> points = {{0, other_value}};
  for (const ShamirShare& s : few) points.push_back({s.x, s.ys[0]});
  const uint128 at = 9;
  uint128 forged = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    uint128 num = 1, den = 1;
    for (size_t j = 0; j < points.size(); ++j) {
      if (j == i) continue;
      num = gf127::Mul(num, gf127::Sub(at, points[j].first));
      den = gf127::Mul(den, gf127::Sub(points[i].first, points[j].first));
    }
    forged = gf127::Add(forged, gf127::Mul(points[i].second, gf127::Mul(num, gf127::Inverse(den))));
  }
  few.push_back({9, {forged}});
  absl::StatusOr<std::vector<uint8_t>> back = ShamirCombine(few, t, 15);
  ASSERT_OK(back);
  EXPECT_EQ(*back, other);
}

TEST(Shamir, FreshRandomnessAndMalformedSharesRefused) {
  auto os = SecureRandom::FromOsEntropy();
  ASSERT_OK(os);
  const std::vector<uint8_t> secret = Bytes(32, 1);
  const std::vector<uint32_t> xs = {1, 2, 3};
  auto a = ShamirSplit(secret, 2, xs, **os);
  auto b = ShamirSplit(secret, 2, xs, **os);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE((*a)[0].ys, (*b)[0].ys) << "the same shares twice: no fresh coefficients";
  EXPECT_EQ((*a)[0].ys.size(), 3u);  // 32 bytes in 15-byte chunks
  EXPECT_STATUS(ShamirSplit(secret, 0, xs, **os), absl::StatusCode::kInvalidArgument, "threshold");
  EXPECT_STATUS(ShamirSplit(secret, 4, xs, **os), absl::StatusCode::kInvalidArgument, "threshold");
  EXPECT_STATUS(ShamirSplit(secret, 2, std::vector<uint32_t>{1, 1}, **os),
                absl::StatusCode::kInvalidArgument, "appears twice");
  EXPECT_STATUS(ShamirSplit(secret, 1, std::vector<uint32_t>{0}, **os),
                absl::StatusCode::kInvalidArgument, "the secret itself");
  EXPECT_STATUS(ShamirSplit({}, 1, xs, **os), absl::StatusCode::kInvalidArgument, "empty");
  std::vector<ShamirShare> bad = *a;
  EXPECT_STATUS(ShamirCombine(bad, 2, 16), absl::StatusCode::kInvalidArgument, "needs 2");
  bad[1].x = bad[0].x;
  EXPECT_STATUS(ShamirCombine(bad, 2, 32), absl::StatusCode::kInvalidArgument, "appears twice");
  bad = *a;
  bad[0].ys[1] = kPrime;
  EXPECT_STATUS(ShamirCombine(bad, 2, 32), absl::StatusCode::kInvalidArgument, "outside the field");
}

}  // namespace
}  // namespace tailor
