#include "server/rate_limiter.h"

#include "gtest/gtest.h"

namespace tailor {
namespace {

TEST(RateLimiter, BurstThenSustainedRatePerKey) {
  absl::Time now = absl::UnixEpoch();
  RateLimiter limiter(2, 3, [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow(7)) << i;
  EXPECT_FALSE(limiter.Allow(7));
  EXPECT_TRUE(limiter.Allow(8)) << "keys are independent";
  now += absl::Milliseconds(500);  // one token at 2/s
  EXPECT_TRUE(limiter.Allow(7));
  EXPECT_FALSE(limiter.Allow(7));
  now += absl::Hours(1);  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow(7)) << i;
  EXPECT_FALSE(limiter.Allow(7));
  RateLimiter off(0, 1, [&] { return now; });
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(off.Allow(1));
}

}  // namespace
}  // namespace tailor
