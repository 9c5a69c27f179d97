// LogSampler: caps repetitive log lines so a flood of bad requests cannot flood the log. At
// most `per_window` lines of one event are written per `window`; the rest are counted, and once
// the window has passed the next line of that event (or Flush) says how many were left out
// (suppressed=N). Events are keyed by name, so memory is bounded by the events a program has.
//
// Thread-safe.
#ifndef TAILOR_CORE_LOG_SAMPLER_H_
#define TAILOR_CORE_LOG_SAMPLER_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/log.h"

namespace tailor {

class LogSampler {
 public:
  using Writer =
      std::function<void(LogLevel, absl::string_view event, absl::Span<const LogField> fields)>;
  // `now` defaults to absl::Now and `writer` to LogEvent (tests inject both).
  LogSampler(int per_window, absl::Duration window, std::function<absl::Time()> now = nullptr,
             Writer writer = nullptr);

  // Writes the line unless its event is over its share of the current window; true if written.
  bool Log(LogLevel level, absl::string_view event, absl::Span<const LogField> fields);
  // Writes a suppressed=N line for every event whose window has passed with lines left out
  // (called periodically, so the count of a flood that stopped is still told).
  void Flush();
  int64_t suppressed_total() const;

 private:
  struct Window {
    absl::Time start = absl::InfinitePast();
    int written = 0;
    int64_t suppressed = 0;
    LogLevel level = LogLevel::kInfo;
  };
  void WriteSuppressed(absl::string_view event, Window& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int per_window_;
  const absl::Duration window_;
  std::function<absl::Time()> now_;
  Writer writer_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> events_ ABSL_GUARDED_BY(mu_);
  int64_t suppressed_total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tailor

#endif  // TAILOR_CORE_LOG_SAMPLER_H_
