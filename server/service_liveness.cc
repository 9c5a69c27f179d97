// CoordinatorService: the parked long polls and liveness. A background pass (Reap) answers
// polls at their deadline, reports clients that hold a task and went silent to the task's sink,
// expires unused sessions and flushes the log sampler; a client that says it failed its task is
// counted at once.
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "server/grpc_service.h"
#include "server/service_reactors.h"

namespace tailor {

void CoordinatorService::ReaperLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(50));
    ReapLocked();
  }
}

void CoordinatorService::Reap() {
  absl::MutexLock lock(&mu_);
  ReapLocked();
}

void CoordinatorService::ReapLocked() {
  const absl::Time now = Now();
  ReportLostClients(now);
  const std::vector<int64_t> expired = sessions_.ExpireIdle(now);
  stats_.sessions_expired += static_cast<int64_t>(expired.size());
  for (int64_t id : expired) {
    log_.Log(LogLevel::kInfo, "session_expired", {{"client", absl::StrCat(id)}});
  }
  for (auto& [id, slot] : clients_) {
    if (slot.waiter != nullptr && (stopping_ || now >= slot.waiter_deadline)) {
      WaitReactor* w = std::exchange(slot.waiter, nullptr);
      v1::Task none;
      none.set_kind(finished_ ? v1::Task::FINISHED : v1::Task::NO_TASK);
      if (finished_) slot.told_finished = true;
      w->Answer(none);
    }
  }
  log_.Flush();
}

void CoordinatorService::ReportLostClients(absl::Time now) {
  // Only clients that joined at some point count: one never seen (not started yet) is left to
  // the deadline. The silence is measured from the assignment at the earliest, and a parked
  // long poll is a live client.
  auto silent = [&](const ClientSlot& slot, const Assignment& a, int64_t open_id) {
    return a.round != 0 && a.id == open_id && slot.waiter == nullptr &&
           slot.last_seen != absl::InfinitePast() &&
           now - std::max(slot.last_seen, a.at) > options_.heartbeat_timeout;
  };
  std::vector<int64_t> lost_train, lost_eval, lost_secagg;
  for (auto& [id, slot] : clients_) {
    if (HoldsSecAggRequest(slot) && silent(slot, slot.secagg, secagg_exchange_)) {
      lost_secagg.push_back(id);
    }
    if (train_sink_ && silent(slot, slot.train, train_round_)) {
      lost_train.push_back(id);
      slot.train.round = 0;
    }
    if (eval_sink_ && silent(slot, slot.eval, eval_id_)) {
      lost_eval.push_back(id);
      slot.eval.round = 0;
    }
  }
  const std::string why =
      absl::StrCat("not heard from for ", absl::FormatDuration(options_.heartbeat_timeout));
  for (int64_t id : lost_secagg) {
    ++stats_.clients_lost;
    SecAggDropout(id, absl::UnavailableError(why));
  }
  if (lost_train.empty() && lost_eval.empty()) return;
  stats_.clients_lost += static_cast<int64_t>(lost_train.size() + lost_eval.size());
  std::shared_ptr<UpdateSink> train_sink = train_sink_;
  std::shared_ptr<EvalSink> eval_sink = eval_sink_;
  const int64_t train_round = train_round_, eval_round = eval_round_;
  mu_.Unlock();  // the sinks take their own locks and call observers
  auto report = [this, &why](int64_t id, const char* task, int64_t round) {
    log_.Log(LogLevel::kWarn, "client_lost",
             {{"client", ParticipantId(id)},
              {"task", task},
              {"round", absl::StrCat(round)},
              {"msg", why}});
  };
  for (int64_t id : lost_train) {
    report(id, "train", train_round);
    train_sink->OnTrainFailure(id, train_round, absl::UnavailableError(why));
  }
  for (int64_t id : lost_eval) {
    report(id, "evaluate", eval_round);
    eval_sink->OnEvalFailure(id, absl::UnavailableError(why));
  }
  mu_.Lock();
}

void CoordinatorService::RemoveWaiter(WaitReactor* waiter) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, slot] : clients_) {
    if (slot.waiter == waiter) {
      slot.waiter = nullptr;
      waiter->Finish(grpc::Status::CANCELLED);
      return;
    }
  }
}

void CoordinatorService::TaskFailed(int64_t client, const v1::TaskFailure& failure) {
  auto found = clients_.find(client);
  if (found == clients_.end()) return;
  ClientSlot& slot = found->second;
  const absl::Status why = absl::AbortedError(
      absl::StrCat("client ", client, " could not do its task: ", failure.reason().substr(0, 500)));
  if (failure.kind() == v1::Task::SECURE_AGGREGATION) {
    if (failure.round() == secagg_round_) SecAggDropout(client, why);
    return;
  }
  std::shared_ptr<UpdateSink> train_sink;
  std::shared_ptr<EvalSink> eval_sink;
  if (failure.kind() == v1::Task::TRAIN && train_sink_ && slot.train.round != 0 &&
      failure.round() == train_round_ && slot.train.id == train_round_) {
    slot.train.round = 0;
    train_sink = train_sink_;
  } else if (failure.kind() == v1::Task::EVALUATE && eval_sink_ && slot.eval.round != 0 &&
             failure.evaluation_id() == eval_id_ && slot.eval.id == eval_id_) {
    slot.eval.round = 0;
    eval_sink = eval_sink_;
  } else {
    return;  // not a task it holds (a stale report): nothing to count
  }
  LogEvent(LogLevel::kWarn, "task_failed",
           {{"client", ParticipantId(client)},
            {"round", absl::StrCat(failure.round())},
            {"kind", v1::Task::Kind_Name(failure.kind())},
            {"msg", failure.reason().substr(0, 500)}});
  mu_.Unlock();  // the sinks take their own locks
  if (train_sink) train_sink->OnTrainFailure(client, failure.round(), why);
  if (eval_sink) eval_sink->OnEvalFailure(client, why);
  mu_.Lock();
}

bool CoordinatorService::AwaitFinishDelivered(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto all_told = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = Now();
    for (const auto& [id, slot] : clients_) {
      const bool live = slot.waiter != nullptr || now - slot.last_seen < 2 * options_.long_poll;
      if (live && !slot.told_finished) return false;
    }
    return true;
  };
  // Polled: a client's poll changes the state without a condition to wake this on.
  while (!all_told()) {
    if (absl::Now() >= deadline) return false;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(20));
  }
  return true;
}

}  // namespace tailor
