// The vectorized fixed-point accumulation against the scalar definition round(v · scale), bit
// for bit, including ties, odd lengths (the scalar tail), refused inputs and overflow.
#include "aggregation/fixed_point_kernel.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"

namespace tailor {
namespace {

std::vector<int64_t> Reference(const std::vector<float>& v, double scale,
                               std::vector<int64_t> sums) {
  for (size_t i = 0; i < v.size(); ++i) {
    sums[i] += static_cast<int64_t>(std::nearbyint(static_cast<double>(v[i]) * scale));
  }
  return sums;
}

TEST(FixedPointKernel, MatchesTheScalarDefinitionBitForBit) {
  Rng rng(7);
  for (size_t n : {0, 1, 3, 4, 5, 17, 1000, 70001}) {  // 70001 spans two chunks and a tail
    std::vector<float> v(n);
    std::vector<int64_t> sums(n);
    for (size_t i = 0; i < n; ++i) {
      v[i] = static_cast<float>(rng.Normal() * 0.05);
      sums[i] = static_cast<int64_t>(rng.NextU64() >> 20) - (int64_t{1} << 43);
    }
    if (n > 4) {
      v[1] = 0.5f / 4294967296.0f;  // exactly half a unit: a tie, rounds to even
      v[2] = -1.5f / 4294967296.0f;
    }
    for (double weight : {1.0, 37.0, 4000.0}) {
      const double scale = weight * 4294967296.0;
      std::vector<int64_t> got = sums;
      ASSERT_TRUE(AccumulateFixedPointFast(v.data(), n, scale, got.data())) << n;
      EXPECT_EQ(got, Reference(v, scale, sums))
          << "n=" << n << " weight=" << weight << " kernel=" << FixedPointKernelName();
    }
  }
}

TEST(FixedPointKernel, RefusedInputsLeaveTheSumsUnchanged) {
  const size_t n = 200000;
  std::vector<float> v(n, 0.25f);
  std::vector<int64_t> sums(n, 12345);
  const std::vector<int64_t> before = sums;
  const double scale = 10 * 4294967296.0;
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), 1e6f /* >= 2^51 once scaled */}) {
    std::vector<float> w = v;
    w[n - 3] = bad;  // in the last chunk: earlier chunks must be undone too
    EXPECT_FALSE(AccumulateFixedPointFast(w.data(), n, scale, sums.data()));
    EXPECT_EQ(sums, before);
  }
  // A sum that overflows int64.
  sums[70000] = std::numeric_limits<int64_t>::max() - 5;
  const std::vector<int64_t> near_max = sums;
  EXPECT_FALSE(AccumulateFixedPointFast(v.data(), n, scale, sums.data()));
  EXPECT_EQ(sums, near_max);
}

TEST(FixedPointKernel, DoubleInputsTakeTheSamePath) {
  std::vector<double> v = {0.1, -0.2, 0.30000001, 1e-12, -7.5e-3};
  std::vector<int64_t> sums(v.size(), 0);
  ASSERT_TRUE(AccumulateFixedPointFast(v.data(), v.size(), 3 * 4294967296.0, sums.data()));
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(sums[i], static_cast<int64_t>(std::nearbyint(v[i] * (3 * 4294967296.0)))) << i;
  }
}

}  // namespace
}  // namespace tailor
