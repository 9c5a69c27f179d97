// Structured event logs: one logfmt line per event on stderr, e.g.
//   ts=2026-11-25T17:05:04.123Z level=warn event=upload_rejected client=3 round=2 code=DATA_LOSS msg="..."
// Machine-parseable (Loki, journald + logfmt parsers, grep) and still readable by people.
#ifndef TAILOR_CORE_LOG_H_
#define TAILOR_CORE_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tailor {

enum class LogLevel { kInfo, kWarn, kError };

using LogField = std::pair<absl::string_view, std::string>;

// Formats one event line (without the trailing newline). Values that are empty or contain
// spaces, quotes or '=' are quoted with \" and \\ escaped.
std::string FormatLogLine(absl::string_view timestamp, LogLevel level, absl::string_view event,
                          absl::Span<const LogField> fields);

// Writes FormatLogLine(now, ...) + "\n" to stderr in one write, so lines from different threads
// never interleave.
void LogEvent(LogLevel level, absl::string_view event, absl::Span<const LogField> fields);

}  // namespace tailor

#endif  // TAILOR_CORE_LOG_H_
