#include "server/round.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/wire_update.h"

namespace tailor {

absl::StatusOr<std::unique_ptr<Round>> Round::Create(RoundOptions options) {
  if (options.cohort.empty() && options.min_updates > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("round ", options.round, " has an empty cohort"));
  }
  if (options.min_updates < 0 ||
      options.min_updates > static_cast<int64_t>(options.cohort.size())) {
    return absl::InvalidArgumentError(absl::StrCat("min_updates ", options.min_updates,
                                                   " outside [0, cohort size ",
                                                   options.cohort.size(), "]"));
  }
  if (!options.shared_schema || !options.aggregator) {
    return absl::InvalidArgumentError("round needs a shared schema and an aggregator");
  }
  TAILOR_RETURN_IF_ERROR(options.aggregator->Begin(*options.shared_schema));
  return std::unique_ptr<Round>(new Round(std::move(options)));
}

Round::Round(RoundOptions options) : options_(std::move(options)) {
  cohort_set_.insert(options_.cohort.begin(), options_.cohort.end());
}

void Round::MarkReported(int64_t client_id) { reported_.insert(client_id); }

absl::Status Round::Reject(absl::Status why) {
  ++rejected_;
  if (first_problem_.ok()) first_problem_ = why;
  ++rejections_[absl::StatusCodeToString(why.code())];
  return why;
}

absl::Status Round::OnUpdate(const UpdateUpload& upload) {
  // Decode outside the lock: it is the expensive part and touches no round state.
  std::vector<double> max_abs;  // from the finiteness check, so the mean need not reread
  const bool secure = options_.secure_aggregation;
  absl::StatusOr<ParameterSet> delta = ParameterSet();  // never read under secure aggregation
  if (!secure) {
    delta = upload.decoded
                ? CheckSharedUpdate(std::move(*upload.decoded), *options_.shared_schema, &max_abs)
                : DecodeSharedUpdate(upload.payload, *options_.shared_schema, &max_abs);
  }
  int64_t done = 0;
  absl::Status result;
  {
    absl::MutexLock lock(&mu_);
    const std::string who = absl::StrCat("client ", upload.client_id);
    if (upload.round != options_.round) {
      // Not counted as this round's rejection: it belongs to another round.
      return absl::AbortedError(absl::StrCat(who, " uploaded for round ", upload.round,
                                             " but the open round is ", options_.round));
    }
    if (!cohort_set_.contains(upload.client_id)) {
      return absl::PermissionDeniedError(
          absl::StrCat(who, " is not in the cohort of round ", options_.round));
    }
    if (accepted_.contains(upload.client_id)) {
      // A retry of an accepted upload (its answer was lost): idempotent, counted once.
      return absl::OkStatus();
    }
    if (closed_) {
      return absl::AbortedError(
          absl::StrCat("round ", options_.round, " is closed; ", who, "'s update came too late"));
    }
    if (dropped_.contains(upload.client_id)) {
      // Already counted as this round's dropout; counting it again as an update (or as a
      // rejection) would make the round's numbers add up to more than its cohort.
      return absl::AbortedError(absl::StrCat(who, " was counted as a dropout of round ",
                                             options_.round, "; its update came too late"));
    }
    if (refused_.contains(upload.client_id)) {
      return absl::AbortedError(absl::StrCat(who, "'s upload for round ", options_.round,
                                             " was already refused; it is a failed client of "
                                             "this round"));
    }
    if (secure) {
      // Under secure aggregation the round never reads an update: one sent in the clear is
      // refused (and not looked at), an advertisement is kept for the protocol.
      if (!upload.payload.empty() || upload.decoded) {
        result = absl::InvalidArgumentError(
            absl::StrCat(who, " sent an update in the clear under secure aggregation"));
      } else if (upload.secagg_advertisement.empty()) {
        result = absl::InvalidArgumentError(
            absl::StrCat(who, " sent no key advertisement under secure aggregation"));
      }
    } else if (!(upload.weight > 0) || !std::isfinite(upload.weight)) {
      result = absl::InvalidArgumentError(
          absl::StrCat(who, " sent weight ", upload.weight, "; it must be finite and > 0"));
    } else if (!delta.ok()) {
      result = Annotate(delta.status(), who);
    } else {
      // Handed over: the weighted mean may buffer it to fold several updates in one pass.
      result = Annotate(
          options_.aggregator->AddShared(std::make_shared<const ParameterSet>(*std::move(delta)),
                                         upload.weight, &max_abs),
          who);
    }
    MarkReported(upload.client_id);
    if (!result.ok()) {
      refused_.insert(upload.client_id);
      (void)Reject(result);
    } else {
      accepted_.insert(upload.client_id);
      upload_bytes_ +=
          upload.wire_bytes > 0 ? upload.wire_bytes : static_cast<int64_t>(upload.payload.size());
      if (secure) {
        advertisements_[upload.client_id] = upload.secagg_advertisement;
        plain_bytes_ += upload.plain_bytes;
      } else {
        train_stats_[upload.client_id] = {upload.weight, upload.stats.mean_loss};
      }
      within_clip_ += upload.within_clip_norm ? 1 : 0;
      if (std::isfinite(upload.record_epsilon)) {
        record_epsilon_max_ = std::max(record_epsilon_max_, upload.record_epsilon);
      }
    }
    done = static_cast<int64_t>(reported_.size());
  }
  if (options_.on_progress)
    options_.on_progress(done, static_cast<int64_t>(options_.cohort.size()));
  return result;
}

void Round::OnTrainFailure(int64_t client_id, int64_t round, const absl::Status& why) {
  int64_t done = 0;
  {
    absl::MutexLock lock(&mu_);
    if (round != options_.round || !cohort_set_.contains(client_id) ||
        reported_.contains(client_id)) {
      return;
    }
    ++failed_;
    if (first_problem_.ok()) first_problem_ = Annotate(why, absl::StrCat("client ", client_id));
    MarkReported(client_id);
    dropped_.insert(client_id);
    done = static_cast<int64_t>(reported_.size());
  }
  if (options_.on_progress)
    options_.on_progress(done, static_cast<int64_t>(options_.cohort.size()));
}

bool Round::open() const {
  absl::MutexLock lock(&mu_);
  return !closed_;
}

std::vector<int64_t> Round::FailedClients() const {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> failed(dropped_.begin(), dropped_.end());
  failed.insert(failed.end(), refused_.begin(), refused_.end());
  std::sort(failed.begin(), failed.end());
  return failed;
}

void Round::AwaitAllReported() { AwaitAllReportedUntil(absl::InfiniteFuture()); }

bool Round::AwaitAllReportedUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  const bool all =
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](Round* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
                                  return r->reported_.size() >= r->options_.cohort.size();
                                },
                                this),
                            deadline);
  if (all) return true;
  for (int64_t id : options_.cohort) {
    if (reported_.contains(id)) continue;
    ++failed_;
    if (first_problem_.ok()) {
      first_problem_ = absl::DeadlineExceededError(
          absl::StrCat("client ", id, " sent nothing before the round deadline"));
    }
    MarkReported(id);
    dropped_.insert(id);
  }
  return false;
}

absl::StatusOr<RoundResult> Round::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  RoundResult r;
  r.round = options_.round;
  r.cohort_size = static_cast<int64_t>(options_.cohort.size());
  r.accepted = static_cast<int64_t>(accepted_.size());
  r.rejected = rejected_;
  r.failed = failed_;
  r.rejections = rejections_;
  r.upload_bytes = upload_bytes_;
  r.within_clip = within_clip_;
  r.record_epsilon_max = record_epsilon_max_;
  if (r.accepted < options_.min_updates) {
    return absl::FailedPreconditionError(absl::StrCat(
        "round ", options_.round, " closed with ", r.accepted, " accepted updates (", r.rejected,
        " rejected, ", r.failed, " failed); it needs ", options_.min_updates,
        first_problem_.ok() ? "" : absl::StrCat(". First problem: ", first_problem_.ToString())));
  }
  double weighted_loss = 0, weight = 0;
  for (const auto& [client, stats] : train_stats_) {
    weighted_loss += stats.first * stats.second;
    weight += stats.first;
  }
  r.train_loss = weight > 0 ? weighted_loss / weight : 0;
  r.train_samples = static_cast<int64_t>(weight);
  if (options_.secure_aggregation) {
    r.secagg_advertisements = std::move(advertisements_);
    r.plain_upload_bytes = plain_bytes_;
    return r;  // the sum is the protocol's
  }
  if (options_.shared_schema->empty()) return r;  // nothing shared (local-only training)
  TAILOR_ASSIGN_OR_RETURN(r.mean_delta, options_.aggregator->Finalize());
  return r;
}

}  // namespace tailor
