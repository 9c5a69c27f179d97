#include "core/log_sampler.h"

#include <vector>

#include "gtest/gtest.h"

namespace tailor {
namespace {

TEST(LogSampler, CapsEachEventPerWindowAndTellsHowManyWereLeftOut) {
  absl::Time now = absl::UnixEpoch();
  std::vector<std::string> lines;
  LogSampler sampler(
      3, absl::Minutes(1), [&] { return now; },
      [&](LogLevel, absl::string_view event, absl::Span<const LogField> fields) {
        std::string line(event);
        for (const auto& [k, v] : fields) line += " " + std::string(k) + "=" + v;
        lines.push_back(line);
      });
  for (int i = 0; i < 1000; ++i) sampler.Log(LogLevel::kWarn, "join_refused", {{"i", "x"}});
  EXPECT_TRUE(sampler.Log(LogLevel::kInfo, "client_joined", {})) << "events are capped apart";
  EXPECT_EQ(lines.size(), 4u);
  EXPECT_EQ(sampler.suppressed_total(), 997);
  sampler.Flush();
  EXPECT_EQ(lines.size(), 4u) << "the window has not passed";
  now += absl::Minutes(1);
  sampler.Flush();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines.back().rfind("join_refused suppressed=997", 0), 0u) << lines.back();
  EXPECT_TRUE(sampler.Log(LogLevel::kWarn, "join_refused", {})) << "a new window";
  sampler.Flush();
  EXPECT_EQ(lines.size(), 6u) << "nothing more to tell";
}

}  // namespace
}  // namespace tailor
