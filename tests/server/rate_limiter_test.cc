#include "server/rate_limiter.h"

#include "absl/strings/str_cat.h"
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

TEST(PeerHost, DropsThePortSoNewConnectionsShareABudget) {
  EXPECT_EQ(PeerHost("ipv4:10.1.2.3:5123"), "ipv4:10.1.2.3");
  EXPECT_EQ(PeerHost("ipv6:[2001:db8::1]:443"), "ipv6:[2001:db8::1]");
  EXPECT_EQ(PeerHost("ipv6:%5B::1%5D:80"), "ipv6:%5B::1%5D:80") << "unknown forms stay whole";
  EXPECT_EQ(PeerHost("unix:/tmp/s"), "unix:/tmp/s");
}

TEST(PeerRateLimiter, FailuresThrottleTheirHostOnlyInBoundedMemory) {
  absl::Time now = absl::UnixEpoch();
  PeerRateLimiter peers(1, 3, /*max_peers=*/8, [&] { return now; });
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(peers.MayTry("a")) << i;
    peers.Fail("a");
  }
  EXPECT_FALSE(peers.MayTry("a"));
  EXPECT_TRUE(peers.MayTry("b")) << "another host is not affected";
  now += absl::Seconds(1);
  EXPECT_TRUE(peers.MayTry("a")) << "one failure forgiven per second";
  // 10000 hosts failing once each: at most 8 remembered, the rest share the overflow bucket,
  // and a debtor stays throttled through it all.
  for (int i = 0; i < 3; ++i) peers.Fail("a");
  for (int i = 0; i < 10000; ++i) peers.Fail(absl::StrCat("h", i));
  EXPECT_LE(peers.tracked(), 8u);
  EXPECT_FALSE(peers.MayTry("a"));
  EXPECT_FALSE(peers.MayTry("new-host")) << "new hosts share the exhausted overflow bucket";
  // Once hosts owe nothing they are forgotten and new ones are tracked on their own again.
  now += absl::Minutes(1);
  peers.Fail("fresh");
  EXPECT_TRUE(peers.MayTry("fresh"));
  EXPECT_LE(peers.tracked(), 8u);
  PeerRateLimiter off(0, 1, 1, [&] { return now; });
  for (int i = 0; i < 100; ++i) off.Fail("x");
  EXPECT_TRUE(off.MayTry("x"));
}

}  // namespace
}  // namespace tailor
