// Round: the state of one training round on the coordinator — which clients were asked, which
// updates were accepted, rejected or lost, and the streaming aggregate. Every upload, whatever
// transport carried it, is validated here, with one status per condition:
//   - OK: accepted; also a repeat of an accepted upload (an idempotent retry: the first counts,
//     the repeat is neither aggregated nor counted as a rejection);
//   - ABORTED: the upload is for another round, for this round after it closed, or from a client
//     already accounted for (counted as a dropout, or its upload refused): drop it and poll;
//   - PERMISSION_DENIED: the client is not in this round's cohort (not counted in the round);
//   - INVALID_ARGUMENT / DATA_LOSS: the content is bad (weight, decoding, schema, non-finite
//     values, checksum). The client is then a failed client of this round, exactly like a
//     dropout: counted as rejected, refused further uploads, and the round goes on under its
//     min_updates rule.
// A rejected upload changes nothing but the rejection counters.
//
// Thread-safe.
#ifndef TAILOR_SERVER_ROUND_H_
#define TAILOR_SERVER_ROUND_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/aggregator.h"
#include "server/transport.h"

namespace tailor {

struct RoundOptions {
  int64_t round = 0;
  // Clients asked to train, ascending.
  std::vector<int64_t> cohort;
  // The shared parameters' schema (names, dtypes, shapes) updates must match.
  std::shared_ptr<const ParameterSet> shared_schema;
  // Aggregation rule for this round; owned by the round.
  std::unique_ptr<StreamingAggregator> aggregator;
  // Minimum accepted updates for the round to produce a model (>= 1), or 0 for an aggregator
  // whose result is defined without any update (DP's noised mean); the cohort may then be
  // empty too.
  int64_t min_updates = 1;
  // Secure aggregation: an accepted upload is a key advertisement (UpdateUpload::
  // secagg_advertisement) and never an update in the clear, which is refused; the round keeps
  // the advertisements for the protocol (server/secure_sum.h) and aggregates nothing itself.
  bool secure_aggregation = false;
  // Called (outside the lock) each time a cohort member is accounted for: (done, total).
  std::function<void(int64_t, int64_t)> on_progress;
};

// What happened to a round's cohort. Shared by the round's result and the coordinator's record.
struct RoundStats {
  int64_t round = 0;
  int64_t cohort_size = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t failed = 0;
  // Sample-weighted mean training loss over accepted clients (summed in client-id order so it
  // does not depend on arrival order).
  double train_loss = 0;
  int64_t train_samples = 0;
  // Bytes of the accepted updates as they travelled (UpdateUpload::wire_bytes, or the payload
  // size when a transport did not say).
  int64_t upload_bytes = 0;
  // Accepted updates whose client reported a norm within the DP clip norm.
  int64_t within_clip = 0;
  // The largest record-level ε (DP-SGD) an accepted client reported; -1 when none did.
  double record_epsilon_max = -1;
  // Rejection reasons (status code name -> count), for metrics: the content failures of cohort
  // members (each one also counted in `rejected`).
  std::map<std::string, int64_t> rejections;
};

struct RoundResult : RoundStats {
  // Weighted mean of the accepted shared deltas. Empty set when nothing is shared.
  ParameterSet mean_delta;
  // Secure aggregation: client id -> its serialized key advertisement; and the bytes the
  // accepted clients' updates would have taken in the clear.
  std::map<int64_t, std::string> secagg_advertisements;
  int64_t plain_upload_bytes = 0;
};

class Round : public UpdateSink {
 public:
  static absl::StatusOr<std::unique_ptr<Round>> Create(RoundOptions options);

  absl::Status OnUpdate(const UpdateUpload& upload) override;
  void OnTrainFailure(int64_t client_id, int64_t round, const absl::Status& why) override;
  bool open() const override;
  // Cohort members counted as failed so far (dropouts and refused uploads), ascending.
  std::vector<int64_t> FailedClients() const;

  // Blocks until every cohort member has been accounted for (accepted, rejected or failed).
  void AwaitAllReported();
  // Same, giving up at `deadline`: cohort members not heard from by then are counted as
  // failed (dropouts). Returns true when everyone reported in time.
  bool AwaitAllReportedUntil(absl::Time deadline);
  // Closes the round: later uploads are refused. FAILED_PRECONDITION (with the counts) when
  // fewer than min_updates were accepted.
  absl::StatusOr<RoundResult> Close();

 private:
  explicit Round(RoundOptions options);
  void MarkReported(int64_t client_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Reject(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RoundOptions options_;
  absl::flat_hash_set<int64_t> cohort_set_;

  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<int64_t> reported_ ABSL_GUARDED_BY(mu_);
  // Cohort members counted as failed (dropout, deadline): a later update from them is refused.
  absl::flat_hash_set<int64_t> dropped_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int64_t> accepted_ ABSL_GUARDED_BY(mu_);
  // Cohort members whose upload was refused for its content: a later one is refused too.
  absl::flat_hash_set<int64_t> refused_ ABSL_GUARDED_BY(mu_);
  // client id -> (weight, mean loss) of accepted updates; ordered for a deterministic sum.
  std::map<int64_t, std::pair<double, double>> train_stats_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::string> advertisements_ ABSL_GUARDED_BY(mu_);
  int64_t plain_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t upload_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t within_clip_ ABSL_GUARDED_BY(mu_) = 0;
  double record_epsilon_max_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> rejections_ ABSL_GUARDED_BY(mu_);
  // The first failure or rejection, quoted when the round cannot close.
  absl::Status first_problem_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailor

#endif  // TAILOR_SERVER_ROUND_H_
