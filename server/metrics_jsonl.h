// Writes one JSON object per round to a JSONL file (machine-readable metrics).
#ifndef TAILOR_SERVER_METRICS_JSONL_H_
#define TAILOR_SERVER_METRICS_JSONL_H_

#include <string>

#include "core/env.h"
#include "server/coordinator.h"

namespace tailor {

// One line: {"round":3,"cohort":20,"accepted":20,...,"eval":{...}}. Pure; used by the writer.
// Non-finite numbers are written as null.
std::string RoundRecordToJson(const RoundRecord& record, const std::string& run_name);
// The training part of a record back from its line (everything but the evaluations), to finish
// a round whose evaluation a crash interrupted. DATA_LOSS when the line is not a round record.
absl::StatusOr<RoundRecord> RoundRecordFromJson(const std::string& line);

class MetricsJsonlWriter : public RoundObserver {
 public:
  // Starts `path` empty (a fresh run).
  MetricsJsonlWriter(std::string path, std::string run_name, Env* env);
  void OnRoundComplete(const RoundRecord& record) override;
  // The first write error, if any (writes after it are skipped).
  absl::Status status() const { return status_; }

 private:
  std::string path_;
  std::string run_name_;
  Env* env_;
  absl::Status status_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_METRICS_JSONL_H_
