// The service against hostile callers, over real gRPC on loopback, with the service's clock moved
// by hand: Join floods for a victim's id and for random ids, session replay, idle sessions,
// status without the operator token, malformed upload streams, unasked evaluation reports. Each
// asserts the status, that honest clients keep working, and that what the service holds stays
// bounded.
#include <random>

#include "tests/server/service_fixture.h"

namespace tailor {
namespace {

constexpr char kOperatorToken[] = "operator-secret-0123";

class HostileClientTest : public GrpcServiceTest {
 protected:
  void Configure(CoordinatorServiceOptions* options) override {
    options->revoked_clients = {2};
    options->rate_limit_per_second = 1;
    options->rate_limit_burst = 5;
    options->failed_joins_per_second = 1;
    options->failed_joins_burst = 10;
    options->max_tracked_peers = 64;
    options->session_idle_timeout = absl::Minutes(1);
    options->operator_token = kOperatorToken;
    options->log_lines_per_minute = 5;
    options->clock = [this] {
      absl::MutexLock lock(&clock_mu_);
      return now_;
    };
    // No background pass: the test moves time and calls Reap(). (No long poll may park here:
    // only clients with a pending task poll.)
    options->run_reaper = false;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&clock_mu_);
    now_ += d;
  }
  // A new round `round` for cohort {0} and client 0's upload to it.
  std::shared_ptr<Round> OpenRound(int64_t round) {
    RoundOptions ro;
    ro.round = round;
    ro.cohort = {0};
    ro.shared_schema = schema_;
    ro.aggregator = *CreateAggregator("weighted_mean");
    ro.min_updates = 1;
    auto state = std::shared_ptr<Round>(*Round::Create(std::move(ro)));
    TrainTask task;
    task.round = round;
    task.global_shared = schema_;
    service_->DispatchTrain(task, {0}, state);
    return state;
  }

  absl::Mutex clock_mu_;
  absl::Time now_ = absl::UnixEpoch() + absl::Hours(1);
};

TEST_F(HostileClientTest, RevokedClientIsDeniedAndAHammeringClientIsSlowedAlone) {
  std::string s0, s1, s2;
  EXPECT_EQ(Join(2, "t2", &s2).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Join(2, "wrong", &s2).error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "only the holder of the right token learns the client is revoked";
  ASSERT_TRUE(Join(0, "t0", &s0).ok());  // 1 of client 0's burst of 5
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Beat(s0).ok()) << i;
  grpc::Status limited = Beat(s0);
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(limited.error_message().find("client 0 exceeds 1 requests per second"),
            std::string::npos)
      << limited.error_message();
  EXPECT_TRUE(Beat(s1).ok()) << "client 1 has its own bucket";
  Advance(absl::Seconds(2));  // two tokens back
  EXPECT_TRUE(Beat(s0).ok());
  EXPECT_TRUE(Beat(s0).ok());
  EXPECT_EQ(Beat(s0).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(service_->stats().rate_limited, 2);
}

// The audit's attack: Joins claiming client 1's id with wrong tokens used to drain client 1's
// budget, so its own uploads were refused. Now they are charged to the flooding host only.
TEST_F(HostileClientTest, AJoinFloodForAVictimsIdNeitherSpendsItsBudgetNorBreaksItsSession) {
  std::string s1, s0;
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  int unauthenticated = 0, throttled = 0;
  for (int i = 0; i < 500; ++i) {
    std::string ignored;
    const grpc::StatusCode code = Join(1, absl::StrCat("guess-", i), &ignored).error_code();
    unauthenticated += code == grpc::StatusCode::UNAUTHENTICATED;
    throttled += code == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_EQ(unauthenticated, 10) << "the host's burst of failures, then it is throttled";
  EXPECT_EQ(throttled, 490);
  // The victim's session and budget are untouched: 4 tokens left of 5, all usable, and its
  // upload to the open round is accepted.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Beat(s1).ok()) << i;
  const std::string payload = Encode(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1));
  EXPECT_TRUE(Upload(s1, 1, payload, static_cast<int64_t>(payload.size())).ok());
  // The flooding host is throttled for everything it has not proven, the right token included
  // (per host: clients behind the same address wait with it, docs/deploy.md), until it earns
  // tokens back.
  EXPECT_EQ(Join(0, "t0", &s0).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  Advance(absl::Seconds(2));
  EXPECT_TRUE(Join(0, "t0", &s0).ok());
  const CoordinatorService::Stats stats = service_->stats();
  EXPECT_EQ(stats.joins_refused, 10);
  EXPECT_EQ(stats.joins_throttled, 491);
  EXPECT_EQ(stats.rate_limited, 0) << "no client's own budget was spent by the flood";
  // The log got its 5 lines per event per minute, not 500.
  EXPECT_GE(service_->log_sampler().suppressed_total(), 500 - 2 * 5);
}

TEST_F(HostileClientTest, AJoinFloodFromRandomIdsKeepsStateBoundedAndHonestRoundsComplete) {
  std::mt19937_64 rng(7);
  std::string s0;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  const std::string payload = Encode(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1));
  // Round 1 of the fixture waits for client 1 as well; the flood runs across five more rounds of
  // client 0 alone.
  for (int64_t round = 2; round <= 6; ++round) {
    std::shared_ptr<Round> state = OpenRound(round);
    for (int i = 0; i < 2000; ++i) {
      std::string ignored;
      const grpc::StatusCode code =
          Join(static_cast<int64_t>(rng() >> 1), absl::StrCat(rng()), &ignored).error_code();
      ASSERT_TRUE(code == grpc::StatusCode::UNAUTHENTICATED ||
                  code == grpc::StatusCode::RESOURCE_EXHAUSTED)
          << static_cast<int>(code);
    }
    v1::Task task;
    ASSERT_TRUE(Wait(s0, &task).ok());
    ASSERT_EQ(task.round(), round);
    ASSERT_TRUE(Upload(s0, round, payload, static_cast<int64_t>(payload.size())).ok()) << round;
    auto closed = CloseWhenAllReported(*state);
    ASSERT_OK(closed);
    EXPECT_EQ(closed->accepted, 1) << round;
    Advance(absl::Seconds(3));  // client 0's own budget refills between its rounds
  }
  const CoordinatorService::Stats stats = service_->stats();
  EXPECT_EQ(stats.client_slots, 3) << "one slot per registered client, none per claimed id";
  EXPECT_EQ(stats.live_sessions, 1);
  EXPECT_LE(stats.tracked_peers, 64);
  EXPECT_EQ(stats.joins_refused + stats.joins_throttled, 10000);
  EXPECT_GE(service_->log_sampler().suppressed_total(), 10000 - 5 * 2 * 6);
}

// The operator's status carries the last evaluation in the task's metric, once there is one.
TEST_F(HostileClientTest, StatusShowsTheLastEvaluationInItsMetric) {
  v1::StatusResponse status;
  ASSERT_TRUE(Status(kOperatorToken, &status).ok());
  EXPECT_FALSE(status.has_evaluation());
  v1::EvaluationStatus evaluation;
  evaluation.set_round(4);
  evaluation.set_metric("bpb");
  evaluation.set_personalized(2.75);
  evaluation.set_new_clients(3.5);
  evaluation.set_clients(14);
  service_->SetEvaluation(evaluation);
  ASSERT_TRUE(Status(kOperatorToken, &status).ok());
  ASSERT_TRUE(status.has_evaluation());
  EXPECT_EQ(status.evaluation().metric(), "bpb");
  EXPECT_EQ(status.evaluation().personalized(), 2.75);
  EXPECT_FALSE(status.evaluation().has_global());
  EXPECT_EQ(status.evaluation().new_clients(), 3.5);
  v1::StatusResponse refused;
  EXPECT_EQ(Status("wrong", &refused).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(refused.has_evaluation());
}

TEST_F(HostileClientTest, OneLiveSessionPerClientAndIdleSessionsExpire) {
  std::vector<std::string> sessions(200);
  for (std::string& session : sessions) {
    ASSERT_TRUE(Join(0, "t0", &session).ok());
    Advance(absl::Seconds(1));  // within client 0's rate
  }
  v1::StatusResponse status;
  ASSERT_TRUE(Status(kOperatorToken, &status).ok());
  EXPECT_EQ(status.clients_joined(), 1) << "200 joins with one token are one joined client";
  EXPECT_EQ(Beat(sessions.front()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Beat(sessions[198]).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Beat(sessions.back()).ok());
  EXPECT_EQ(service_->stats().sessions_replaced, 199);
  // Unused for longer than the idle timeout: expired at the next pass, and refused.
  std::string s1;
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  Advance(absl::Seconds(40));
  ASSERT_TRUE(Beat(s1).ok());  // client 1 stays active
  Advance(absl::Seconds(40));
  service_->Reap();
  ASSERT_TRUE(Status(kOperatorToken, &status).ok());
  EXPECT_EQ(status.clients_joined(), 1) << "client 0 went quiet 80 s ago";
  EXPECT_EQ(service_->stats().sessions_expired, 1);
  EXPECT_EQ(Beat(sessions.back()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Beat(s1).ok());
  // Expired without a pass in between is refused just the same.
  Advance(absl::Minutes(2));
  const grpc::Status late = Beat(s1);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(late.error_message().find("expired"), std::string::npos) << late.error_message();
}

TEST_F(HostileClientTest, StatusNeedsTheOperatorTokenAndGuessingIsThrottled) {
  v1::StatusResponse status;
  EXPECT_EQ(Status("", &status).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Status("t0", &status).error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "a client's token is not the operator's";
  EXPECT_TRUE(status.experiment().empty()) << "nothing is told to a refused caller";
  ASSERT_TRUE(Status(kOperatorToken, &status).ok());
  EXPECT_EQ(status.experiment(), "exp");
  for (int i = 0; i < 20; ++i) Status(absl::StrCat("guess", i), &status);
  EXPECT_EQ(Status(kOperatorToken, &status).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(HostileClientTest, MalformedUploadStreamsAreRefusedAndTheRoundStaysOpen) {
  std::string s0;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  const std::string payload = Encode(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1));
  const int64_t n = static_cast<int64_t>(payload.size());
  // A later chunk naming another round (or session) is not part of this upload.
  {
    grpc::ClientContext ctx;
    v1::UploadResponse resp;
    auto writer = stub_->UploadUpdate(&ctx, &resp);
    v1::UpdateChunk first;
    first.set_session(s0);
    first.set_round(1);
    first.set_weight(1);
    first.set_total_bytes(n);
    first.set_data(payload.substr(0, 10));
    v1::UpdateChunk second;
    second.set_round(2);
    second.set_data(payload.substr(10));
    writer->Write(first);
    writer->Write(second);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  Advance(absl::Seconds(5));
  // The same bytes with two chunks swapped: refused as bad content (the framing or the digest
  // catches it), which is final for this client in this round.
  std::string swapped = payload;
  std::swap_ranges(swapped.end() - 14, swapped.end() - 7, swapped.end() - 7);
  const grpc::StatusCode swapped_code = Upload(s0, 1, swapped, n).error_code();
  EXPECT_TRUE(swapped_code == grpc::StatusCode::DATA_LOSS ||
              swapped_code == grpc::StatusCode::INVALID_ARGUMENT)
      << static_cast<int>(swapped_code);
  // Client 1's good upload still completes the round.
  std::string s1;
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  EXPECT_TRUE(Upload(s1, 1, payload, n).ok());
  auto closed = CloseWhenAllReported(*round_);
  ASSERT_OK(closed);
  EXPECT_EQ(closed->accepted, 1);
  EXPECT_EQ(closed->rejected, 1);
}

TEST_F(HostileClientTest, AnUnaskedEvaluationReportIsRefusedAndNotCounted) {
  std::string s1;
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  auto collector = std::make_shared<EvalCollector>(std::vector<int64_t>{0});
  EvalTask eval;
  eval.round = 1;
  eval.evaluation_id = 2;
  eval.global_shared = schema_;
  service_->DispatchEval(eval, {0}, collector);
  grpc::ClientContext ctx;
  v1::EvaluationReport req;
  req.set_session(s1);
  req.set_round(1);
  req.set_evaluation_id(2);
  req.set_correct(100);
  req.set_count(100);
  v1::ReportResponse resp;
  EXPECT_EQ(stub_->ReportEvaluation(&ctx, req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  collector->OnEvalFailure(0, absl::UnavailableError("gone"));
  const EvalSummary summary = collector->WaitUntil(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(summary.test_samples, 0) << "client 1's numbers are in no summary";
}

}  // namespace
}  // namespace tailor
