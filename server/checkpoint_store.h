// CheckpointStore: the coordinator's durable state, so that a coordinator killed at any moment
// resumes at its last completed round with nothing lost or counted twice.
//
// Layout under a directory:
//   coordinator.db            SQLite (WAL, synchronous=FULL): one row per completed round
//                             (model digest, counts, the round's metrics line) and metadata
//   models/<sha256>.tlps      the global shared parameters after each round (the newest
//                             keep_models rounds' files are kept), content-addressed,
//                             written atomically (temp file, fsync, rename) BEFORE the row that
//                             names them is committed; the server optimizer's state (momentum,
//                             second moments) is stored the same way, named by the same row
// A round is complete when its row is committed; a crash before that leaves at most an orphan
// model file, and the round is simply run again. A round due for evaluation is committed first
// with its evaluation pending (nothing derived from it has left the coordinator yet), then its
// evaluation is committed into the same row; a crash in between resumes with the evaluation.
// The attempt a round is on (a round short of updates runs again with a new cohort) is recorded
// before it is dispatched, so a restarted coordinator reruns the same attempt.
#ifndef TAILOR_SERVER_CHECKPOINT_STORE_H_
#define TAILOR_SERVER_CHECKPOINT_STORE_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "core/parameter_set.h"

struct sqlite3;

namespace tailor {

struct Checkpoint {
  int64_t round = 0;
  ParameterSet global_shared;
  // The server optimizer's state after `round`; empty for a stateless optimizer.
  ParameterSet server_state;
  // Set when `round` was committed but its evaluation was not: the round's metrics line as
  // committed (without the evaluation).
  std::optional<std::string> pending_evaluation_metrics;
};

struct CheckpointStoreOptions {
  // A directory that holds model files or metrics but no record of the rounds that made them
  // (coordinator.db deleted or emptied) is refused: starting at round 0 would silently discard
  // the run. True: the operator knows, start over.
  bool start_over = false;
  // Model files kept: those of the newest `keep_models` committed rounds (each round's global
  // model and server optimizer state). Resuming needs only the newest; older files are deleted
  // once a newer round is committed, and files no kept round names (a crash's leftovers) when
  // the store opens. 0 = keep every round's files.
  int keep_models = 0;
};

class CheckpointStore {
 public:
  // Opens or creates the store for `experiment` under `dir`. FAILED_PRECONDITION when the
  // directory holds another experiment's state.
  static absl::StatusOr<std::unique_ptr<CheckpointStore>> Open(
      const std::string& dir, const std::string& experiment, Env* env,
      CheckpointStoreOptions options = {});
  ~CheckpointStore();

  // The last completed round, or nullopt for a fresh experiment. DATA_LOSS when the model file a
  // committed round names is missing or does not match its digest.
  absl::StatusOr<std::optional<Checkpoint>> LoadLatest();
  // Records `round` as complete with its resulting model, the server optimizer's state (empty
  // when it has none) and the round's metrics line, in one commit; `evaluation_pending` when the
  // round's evaluation is still to come (CompleteEvaluation).
  absl::Status SaveRound(int64_t round, const ParameterSet& global_shared,
                         const ParameterSet& server_state, const std::string& metrics_json,
                         bool evaluation_pending = false);
  // Replaces the metrics line of the committed `round` with one holding its evaluation and
  // clears its pending flag. FAILED_PRECONDITION unless `round` is committed with its
  // evaluation pending.
  absl::Status CompleteEvaluation(int64_t round, const std::string& metrics_json);
  // Records that `round` is being run as attempt `attempt`, without the clients that failed
  // in its earlier attempts.
  struct Attempt {
    int64_t round = 0;
    int64_t attempt = 1;
    std::set<int64_t> excluded;
  };
  absl::Status RecordAttempt(const Attempt& attempt);
  // The last recorded attempt, if any.
  absl::StatusOr<std::optional<Attempt>> LastAttempt();
  // Number of completed rounds recorded.
  absl::StatusOr<int64_t> CountRounds();
  // The metrics lines of the completed rounds, in round order (to rebuild metrics.jsonl after a
  // restart, so it always agrees with the committed rounds). A round whose evaluation is pending
  // is left out: its line is written once the evaluation is done.
  absl::StatusOr<std::vector<std::string>> MetricsLines();
  // Deletes the model files outside the retention (CheckpointStoreOptions::keep_models); called
  // after each commit and at open. Returns how many were deleted.
  absl::StatusOr<int> PruneModels();

 private:
  CheckpointStore(std::string dir, Env* env, sqlite3* db, int keep_models)
      : dir_(std::move(dir)), env_(env), db_(db), keep_models_(keep_models) {}
  absl::Status Exec(const std::string& sql);
  // Writes `set` as models/<sha256>.tlps atomically; returns the digest.
  absl::StatusOr<std::string> WriteContentAddressed(const ParameterSet& set);
  // Reads and verifies models/<sha>.tlps; DATA_LOSS naming `what` and `round` otherwise.
  absl::StatusOr<ParameterSet> ReadContentAddressed(const std::string& sha, const std::string& what,
                                                    int64_t round);

  std::string dir_;
  Env* env_;
  sqlite3* db_;
  int keep_models_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_CHECKPOINT_STORE_H_
