// Writes one JSON object per round to a JSONL file (machine-readable metrics).
#ifndef TAILOR_SERVER_METRICS_JSONL_H_
#define TAILOR_SERVER_METRICS_JSONL_H_

#include <string>

#include "core/env.h"
#include "server/coordinator.h"

namespace tailor {

// One line: {"round":3,"cohort":20,"accepted":20,...,"eval":{...}}. Pure; used by the writer.
std::string RoundRecordToJson(const RoundRecord& record, const std::string& run_name);

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
