// Reads a finished (or interrupted) run back from its output directory: metrics.jsonl, one
// JSON object per round as server/metrics_jsonl.cc writes it, and config.resolved.textproto.
// `tailor report` renders what this returns.
#ifndef TAILOR_SIM_RUN_LOG_H_
#define TAILOR_SIM_RUN_LOG_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "sim/simulation.h"

namespace tailor {

// The run in `dir`: name, algorithm and population from the resolved config, and every round
// of metrics.jsonl (evaluations with their per-client accuracies, DP records). A final line cut
// short by a crash is skipped and said so in `stop_reason`; any other malformed line is an
// INVALID_ARGUMENT naming the file and line. NOT_FOUND when the directory holds no
// metrics.jsonl.
absl::StatusOr<SimulationResult> ReadRunDirectory(const std::string& dir, Env* env);

// One metrics.jsonl line; exposed for tests.
absl::StatusOr<RoundRecord> ParseRoundRecordJson(const std::string& line);

}  // namespace tailor

#endif  // TAILOR_SIM_RUN_LOG_H_
