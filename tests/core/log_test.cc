// Structured log lines: logfmt that parsers accept, whatever the values contain.
#include "core/log.h"

#include "gtest/gtest.h"

namespace tailor {
namespace {

TEST(LogFormat, PlainValuesBareAndOthersQuotedAndEscaped) {
  EXPECT_EQ(FormatLogLine("T", LogLevel::kWarn, "upload_rejected",
                          {{"client", "3"},
                           {"msg", "update tensor 'b' is \"bad\" = yes"},
                           {"empty", ""},
                           {"path", "C:\\x"},
                           {"multi", "a\nb"}}),
            "ts=T level=warn event=upload_rejected client=3 "
            "msg=\"update tensor 'b' is \\\"bad\\\" = yes\" empty=\"\" path=\"C:\\\\x\" "
            "multi=\"a\\nb\"");
  EXPECT_EQ(FormatLogLine("T", LogLevel::kError, "failed", {}), "ts=T level=error event=failed");
}

}  // namespace
}  // namespace tailor
