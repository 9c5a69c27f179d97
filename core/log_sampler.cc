#include "core/log_sampler.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tailor {

LogSampler::LogSampler(int per_window, absl::Duration window, std::function<absl::Time()> now,
                       Writer writer)
    : per_window_(per_window),
      window_(window),
      now_(now ? std::move(now) : [] { return absl::Now(); }),
      writer_(writer ? std::move(writer)
                     : [](LogLevel level, absl::string_view event,
                          absl::Span<const LogField> fields) { LogEvent(level, event, fields); }) {}

void LogSampler::WriteSuppressed(absl::string_view event, Window& w) {
  const LogField fields[] = {{"suppressed", absl::StrCat(w.suppressed)},
                             {"msg", absl::StrCat("more lines like this were left out in ",
                                                  absl::FormatDuration(window_))}};
  writer_(w.level, event, fields);
  w.suppressed = 0;
}

bool LogSampler::Log(LogLevel level, absl::string_view event, absl::Span<const LogField> fields) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  Window& w = events_[event];
  if (now - w.start >= window_) {
    if (w.suppressed > 0) WriteSuppressed(event, w);
    w.start = now;
    w.written = 0;
  }
  if (w.written >= per_window_) {
    ++w.suppressed;
    ++suppressed_total_;
    w.level = level;
    return false;
  }
  ++w.written;
  writer_(level, event, fields);
  return true;
}

void LogSampler::Flush() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  for (auto& [event, w] : events_) {
    if (w.suppressed > 0 && now - w.start >= window_) WriteSuppressed(event, w);
  }
}

int64_t LogSampler::suppressed_total() const {
  absl::MutexLock lock(&mu_);
  return suppressed_total_;
}

}  // namespace tailor
