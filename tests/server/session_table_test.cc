#include "server/session_table.h"

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

SessionTable Table() {
  SessionTableOptions o;
  o.client_tokens = {{0, "zero"}, {1, "one"}};
  o.revoked_clients = {1};
  o.idle_timeout = absl::Minutes(1);
  return SessionTable(o);
}

TEST(SessionTable, AuthenticatesWithoutTellingStrangersWhichIdsExist) {
  SessionTable t = Table();
  EXPECT_OK(t.Authenticate(0, "zero"));
  EXPECT_STATUS(t.Authenticate(0, "zer0"), absl::StatusCode::kUnauthenticated,
                "unknown client or wrong token");
  EXPECT_STATUS(t.Authenticate(7, "zero"), absl::StatusCode::kUnauthenticated,
                "unknown client or wrong token");
  EXPECT_STATUS(t.Authenticate(0, ""), absl::StatusCode::kUnauthenticated, "");
  EXPECT_STATUS(t.Authenticate(1, "one"), absl::StatusCode::kPermissionDenied, "revoked");
  EXPECT_STATUS(t.Authenticate(1, "two"), absl::StatusCode::kUnauthenticated, "");
  EXPECT_TRUE(SameSecret("abc", "abc"));
  EXPECT_FALSE(SameSecret("abc", "abd"));
  EXPECT_FALSE(SameSecret("abc", "abcd"));
}

TEST(SessionTable, OneSessionPerClientThatExpiresUnused) {
  SessionTable t = Table();
  const absl::Time t0 = absl::UnixEpoch();
  const SessionTable::Opened first = t.Open(0, t0);
  EXPECT_FALSE(first.replaced);
  EXPECT_EQ(first.session.size(), 32u) << "128 random bits in hex";
  const SessionTable::Opened second = t.Open(0, t0);
  EXPECT_TRUE(second.replaced);
  EXPECT_NE(first.session, second.session);
  EXPECT_EQ(t.live_sessions(), 1);
  EXPECT_STATUS(t.Resolve(first.session, t0), absl::StatusCode::kUnauthenticated, "join again");
  ASSERT_OK(t.Resolve(second.session, t0 + absl::Seconds(50)));
  EXPECT_EQ(*t.Resolve(second.session, t0 + absl::Seconds(100)), 0) << "used at 50 s: alive";
  EXPECT_TRUE(t.ExpireIdle(t0 + absl::Seconds(150)).empty());
  EXPECT_EQ(t.ExpireIdle(t0 + absl::Seconds(161)), std::vector<int64_t>{0});
  EXPECT_EQ(t.live_sessions(), 0);
  const SessionTable::Opened third = t.Open(0, t0);
  EXPECT_FALSE(third.replaced) << "the expired one is gone already";
  EXPECT_STATUS(t.Resolve(third.session, t0 + absl::Minutes(5)), absl::StatusCode::kUnauthenticated,
                "expired");
  EXPECT_EQ(t.live_sessions(), 0);
}

}  // namespace
}  // namespace tailor
