// The gRPC adapter on a real loopback server: every bad input gets its precise status, and the
// round's state is unchanged afterwards.
#include "server/grpc_service.h"

#include "tests/server/service_fixture.h"

namespace tailor {
namespace {

TEST_F(GrpcServiceTest, AuthenticationFailures) {
  std::string session;
  EXPECT_EQ(Join(0, "wrong", &session).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Join(9, "t0", &session).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Join(0, "t0", &session, "other").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::Task task;
  EXPECT_EQ(Wait("forged-session", &task).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::string bytes;
  EXPECT_EQ(Fetch("forged-session", "x", 0, &bytes).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Upload("forged-session", 1, "abc", 3).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // This coordinator was given no operator token: status is refused to everyone.
  v1::StatusResponse status;
  const grpc::Status refused = Status("", &status);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("no operator token"), std::string::npos);
}

TEST_F(GrpcServiceTest, TaskFetchAndResumableChunkedModel) {
  std::string session;
  ASSERT_TRUE(Join(0, "t0", &session).ok());
  v1::Task task;
  ASSERT_TRUE(Wait(session, &task).ok());
  EXPECT_EQ(task.kind(), v1::Task::TRAIN);
  EXPECT_EQ(task.round(), 1);
  std::string bytes;
  ASSERT_TRUE(Fetch(session, task.model_sha256(), 0, &bytes).ok());
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), task.model_bytes());
  // The content address is the set's own trailing digest: SHA-256 of every byte before it.
  EXPECT_EQ(ToHex(Sha256(absl::string_view(bytes).substr(0, bytes.size() - 32))),
            task.model_sha256());
  EXPECT_EQ(ContentAddressOf(bytes), task.model_sha256());
  EXPECT_TRUE(*DeserializeParameterSet(bytes) == *schema_);
  // Resume from the middle.
  std::string tail;
  ASSERT_TRUE(Fetch(session, task.model_sha256(), 40, &tail).ok());
  EXPECT_EQ(tail, bytes.substr(40));
  std::string none;
  EXPECT_EQ(Fetch(session, "00ff", 0, &none).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Fetch(session, task.model_sha256(), task.model_bytes() + 1, &none).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  // A client that polls while holding an unanswered task lost it (it restarted): a new session
  // of the same client gets the same task, same inputs, again.
  std::string restarted;
  ASSERT_TRUE(Join(0, "t0", &restarted).ok());
  v1::Task again;
  ASSERT_TRUE(Wait(restarted, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), task.SerializeAsString());
  // Once it answered, a poll waits and comes back empty.
  const std::string payload = Encode(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1));
  ASSERT_TRUE(Upload(restarted, 1, payload, static_cast<int64_t>(payload.size())).ok());
  ASSERT_TRUE(Wait(restarted, &again).ok());
  EXPECT_EQ(again.kind(), v1::Task::NO_TASK);
  // Client 1 never polled: its task is waiting for it. After the round closes nobody is handed
  // its task any more.
  round_->AwaitAllReportedUntil(absl::Now());
  ASSERT_OK(round_->Close());
  std::string s1;
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  ASSERT_TRUE(Wait(s1, &again).ok());
  EXPECT_EQ(again.kind(), v1::Task::TRAIN) << "the pending delivery itself";
  ASSERT_TRUE(Wait(s1, &again).ok());
  EXPECT_EQ(again.kind(), v1::Task::NO_TASK) << "the round is closed";
}

TEST_F(GrpcServiceTest, EveryBadUploadGetsItsStatusAndLeavesTheRoundUnchanged) {
  std::string s0, s2;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  ASSERT_TRUE(Join(2, "t2", &s2).ok());
  const ParameterSet good = RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1);
  const std::string payload = Encode(good);
  const int64_t n = static_cast<int64_t>(payload.size());

  // The stream's framing: refused by the service before the round sees anything, so the client
  // may send the same update again.
  EXPECT_EQ(Upload(s0, 1, payload, n + 1000).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "declared size above the limit";
  EXPECT_EQ(Upload(s0, 1, payload, -5).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "negative declared size";
  EXPECT_EQ(Upload(s0, 1, payload + "xx", n).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "more bytes than declared";
  EXPECT_EQ(Upload(s0, 1, payload.substr(0, n - 10), n).error_code(), grpc::StatusCode::DATA_LOSS)
      << "truncated stream";
  EXPECT_EQ(Upload(s0, 7, payload, n).error_code(), grpc::StatusCode::ABORTED)
      << "round not open";
  EXPECT_EQ(Upload(s2, 1, payload, n).error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "not in the cohort";

  // Now the good one, then its duplicate: an idempotent retry, neither counted twice nor a
  // rejection.
  EXPECT_TRUE(Upload(s0, 1, payload, n).ok());
  EXPECT_TRUE(Upload(s0, 1, payload, n).ok());
  EXPECT_EQ(service_->stats().uploads_rejected.count(grpc::StatusCode::ALREADY_EXISTS), 0u);

  round_->AwaitAllReportedUntil(absl::Now());
  auto result = round_->Close();
  ASSERT_OK(result);
  EXPECT_EQ(result->accepted, 1);
  EXPECT_EQ(result->rejected, 0);
  // Only the good update is in the aggregate: nothing refused leaked into it.
  for (const std::string name : {"w", "b"}) {
    for (int64_t i = 0; i < good.Find(name)->numel(); ++i) {
      EXPECT_NEAR(result->mean_delta.Find(name)->f32()[i], good.Find(name)->f32()[i], 1e-9);
    }
  }
  std::string s1;
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  EXPECT_EQ(Upload(s1, 1, payload, n).error_code(), grpc::StatusCode::ABORTED)
      << "upload for a closed round";
  EXPECT_TRUE(Upload(s0, 1, payload, n).ok()) << "a retry of an accepted upload stays OK";
}

TEST_F(GrpcServiceTest, BadContentMakesAFailedClientAndTheRoundGoesOn) {
  std::string s0;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  const ParameterSet good = RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1);
  const std::string payload = Encode(good);
  const int64_t n = static_cast<int64_t>(payload.size());
  ParameterSet nan = good;
  nan.FindMutable("b")->f32()[0] = NAN;
  ParameterSet inf = good;
  inf.FindMutable("w")->f32()[3] = INFINITY;
  std::string corrupt = payload;
  corrupt[n - 40] ^= 1;
  const std::string wrong_name = Encode(RandomSet({{"w", {3, 2}}, {"c", {2}}}, 2));
  const std::string wrong_shape = Encode(RandomSet({{"w", {2, 3}}, {"b", {2}}}, 2));
  struct Case {
    std::string payload;
    double weight;
    grpc::StatusCode code;
    const char* what;
  };
  const std::vector<Case> cases = {
      {corrupt, 5, grpc::StatusCode::DATA_LOSS, "hash mismatch"},
      {wrong_name, 5, grpc::StatusCode::INVALID_ARGUMENT, "wrong tensor name"},
      {wrong_shape, 5, grpc::StatusCode::INVALID_ARGUMENT, "wrong shape"},
      {Encode(nan), 5, grpc::StatusCode::INVALID_ARGUMENT, "NaN"},
      {Encode(inf), 5, grpc::StatusCode::INVALID_ARGUMENT, "Inf"},
      {payload, -1, grpc::StatusCode::INVALID_ARGUMENT, "negative weight"},
  };
  int64_t round = 1;
  for (const Case& c : cases) {
    ++round;
    RoundOptions ro;
    ro.round = round;
    ro.cohort = {0, 1};
    ro.shared_schema = schema_;
    ro.aggregator = *CreateAggregator("weighted_mean");
    ro.min_updates = 1;
    auto state = std::shared_ptr<Round>(*Round::Create(std::move(ro)));
    TrainTask task;
    task.round = round;
    task.global_shared = schema_;
    service_->DispatchTrain(task, {0, 1}, state);
    EXPECT_EQ(Upload(s0, round, c.payload, static_cast<int64_t>(c.payload.size()), c.weight)
                  .error_code(),
              c.code)
        << c.what;
    // The refusal is final for this round: the client is a failed client, like a dropout.
    EXPECT_EQ(Upload(s0, round, payload, n).error_code(), grpc::StatusCode::ABORTED) << c.what;
    state->OnTrainFailure(1, round, absl::UnavailableError("gone"));
    ASSERT_TRUE(state->AwaitAllReportedUntil(absl::Now() + absl::Seconds(5))) << c.what;
    EXPECT_STATUS(state->Close(), absl::StatusCode::kFailedPrecondition, "needs 1");
  }
}

TEST_F(GrpcServiceTest, EvaluationReportsAreChecked) {
  std::string session;
  ASSERT_TRUE(Join(0, "t0", &session).ok());
  auto report = [&](int64_t round, int64_t correct, int64_t count, int64_t evaluation = 3) {
    grpc::ClientContext ctx;
    v1::EvaluationReport req;
    req.set_session(session);
    req.set_round(round);
    req.set_evaluation_id(evaluation);
    req.set_correct(correct);
    req.set_count(count);
    v1::ReportResponse resp;
    return stub_->ReportEvaluation(&ctx, req, &resp);
  };
  EXPECT_EQ(report(1, 1, 2).error_code(), grpc::StatusCode::ABORTED) << "no evaluation open";
  auto collector = std::make_shared<EvalCollector>(std::vector<int64_t>{0});
  EvalTask eval;
  eval.round = 1;
  eval.evaluation_id = 3;
  eval.global_shared = schema_;
  service_->DispatchEval(eval, {0}, collector);
  EXPECT_EQ(report(2, 1, 2).error_code(), grpc::StatusCode::ABORTED) << "wrong round";
  EXPECT_EQ(report(1, 1, 2, /*evaluation=*/2).error_code(), grpc::StatusCode::ABORTED)
      << "another evaluation of the same round";
  EXPECT_TRUE(report(1, 3, 4).ok());
  EXPECT_TRUE(report(1, 3, 4).ok()) << "an exact retry";
  EXPECT_EQ(report(1, 4, 4).error_code(), grpc::StatusCode::ALREADY_EXISTS) << "a different one";
  EvalSummary s = collector->WaitUntil(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(s.test_samples, 4);
  EXPECT_DOUBLE_EQ(s.micro, 0.75);
  // Impossible numbers are refused by the collector, the same one the simulation uses.
  auto second = std::make_shared<EvalCollector>(std::vector<int64_t>{0});
  eval.evaluation_id = 4;
  service_->DispatchEval(eval, {0}, second);
  EXPECT_EQ(report(1, 5, 2, 4).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << "correct > count";
  EXPECT_EQ(second->WaitUntil(absl::Now() + absl::Seconds(5)).failed, 1);
}

TEST_F(GrpcServiceTest, AClientThatCannotDoItsTaskSaysSoAndIsCountedAsFailedAtOnce) {
  std::string s0, s1, s2;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  ASSERT_TRUE(Join(2, "t2", &s2).ok());
  v1::Task task;
  ASSERT_TRUE(Wait(s0, &task).ok());
  ASSERT_EQ(task.kind(), v1::Task::TRAIN);
  // Client 0's training diverged: its next poll says so.
  auto report = [&](const std::string& session, v1::Task::Kind kind, int64_t round) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::WaitForTaskRequest req;
    req.set_session(session);
    req.mutable_failed()->set_kind(kind);
    req.mutable_failed()->set_round(round);
    req.mutable_failed()->set_reason("local training diverged");
    v1::Task next;
    return stub_->WaitForTask(&ctx, req, &next);
  };
  ASSERT_TRUE(report(s2, v1::Task::TRAIN, 1).ok()) << "a task it was never given: ignored";
  ASSERT_TRUE(report(s0, v1::Task::TRAIN, 7).ok()) << "a stale report: ignored";
  ASSERT_TRUE(report(s0, v1::Task::TRAIN, 1).ok());
  // Client 1 uploads; the round is complete at once (no deadline, no heartbeat timeout).
  const std::string payload = Encode(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1));
  ASSERT_TRUE(Upload(s1, 1, payload, static_cast<int64_t>(payload.size())).ok());
  auto result = CloseWhenAllReported(*round_);
  ASSERT_OK(result);
  EXPECT_EQ(result->accepted, 1);
  EXPECT_EQ(result->failed, 1);
}

// Records what reaches one secure-aggregation exchange.
class RecordingSecAggSink : public SecAggSink {
 public:
  void OnSecAggReply(int64_t client_id, std::string reply) override {
    absl::MutexLock lock(&mu_);
    replies[client_id] = std::move(reply);
  }
  void OnSecAggFailure(int64_t client_id, const absl::Status& why) override {
    absl::MutexLock lock(&mu_);
    failures[client_id] = why;
  }
  absl::Mutex mu_;
  std::map<int64_t, std::string> replies;
  std::map<int64_t, absl::Status> failures;
};

// Secure aggregation's exchanges over tailor.v1: a request becomes the client's task, and a
// reply reaches the exchange only from the client that holds the request, for its round and
// phase; everything else gets a precise status and reaches nothing.
TEST_F(GrpcServiceTest, SecureAggregationRepliesReachOnlyTheirOpenRequest) {
  std::string s0, s1;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  auto reply_of = [](int64_t client, int64_t round, bool shares) {
    v1::SecAggReply r;
    r.set_round(round);
    r.set_client_id(client);
    if (shares) {
      r.mutable_shares()->add_shares()->set_ciphertext("sealed");
    } else {
      r.set_masked_input(std::string(16, 'x'));
    }
    return r.SerializeAsString();
  };
  const std::string good = reply_of(0, 1, true);
  const int64_t n = static_cast<int64_t>(good.size());
  EXPECT_EQ(Upload(s0, 1, good, n, 0, v1::UpdateChunk::SECAGG_REPLY).error_code(),
            grpc::StatusCode::ABORTED)
      << "no request is open";

  // The protocol starts once the training round closed (its updates were key advertisements).
  round_->AwaitAllReportedUntil(absl::Now());
  (void)round_->Close();  // short here (nobody trained): only its being closed matters
  v1::SecAggRequest request;
  request.set_round(1);
  request.mutable_roster()->add_advertisements()->set_client_id(0);
  auto sink = std::make_shared<RecordingSecAggSink>();
  service_->DispatchSecAgg(1, {{0, request.SerializeAsString()}, {1, request.SerializeAsString()},
                               {7, request.SerializeAsString()}},
                           sink);
  EXPECT_EQ(sink->failures[7].code(), absl::StatusCode::kNotFound) << "client 7 is not registered";
  v1::Task task;
  ASSERT_TRUE(Wait(s0, &task).ok());
  EXPECT_EQ(task.kind(), v1::Task::SECURE_AGGREGATION);
  EXPECT_EQ(task.round(), 1);
  EXPECT_EQ(task.secagg_request(), request.SerializeAsString());
  // Polling again while holding it (a lost answer, a restart): the same request again.
  v1::Task again;
  ASSERT_TRUE(Wait(s0, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), task.SerializeAsString());

  const std::string wrong_phase = reply_of(0, 1, false);
  EXPECT_EQ(Upload(s0, 1, wrong_phase, static_cast<int64_t>(wrong_phase.size()), 0,
                   v1::UpdateChunk::SECAGG_REPLY)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "a masked input answering a roster";
  const std::string someone_else = reply_of(1, 1, true);
  EXPECT_EQ(Upload(s0, 1, someone_else, static_cast<int64_t>(someone_else.size()), 0,
                   v1::UpdateChunk::SECAGG_REPLY)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "a reply naming another client";
  const std::string garbage = "not a proto \xff\xff";
  EXPECT_EQ(Upload(s0, 1, garbage, static_cast<int64_t>(garbage.size()), 0,
                   v1::UpdateChunk::SECAGG_REPLY)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "bytes that do not parse";
  EXPECT_EQ(Upload(s0, 2, good, n, 0, v1::UpdateChunk::SECAGG_REPLY).error_code(),
            grpc::StatusCode::ABORTED)
      << "another round";
  EXPECT_EQ(Upload(s0, 1, good, n, 0, static_cast<v1::UpdateChunk::Content>(9)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "unknown content";
  const std::string huge(static_cast<size_t>(service_->max_upload_bytes()) + 1, 'x');
  EXPECT_EQ(Upload(s0, 1, huge, static_cast<int64_t>(huge.size()), 0,
                   v1::UpdateChunk::SECAGG_REPLY)
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "above the upload limit";
  {
    absl::MutexLock lock(&sink->mu_);
    EXPECT_TRUE(sink->replies.empty()) << "nothing refused reached the exchange";
  }
  ASSERT_TRUE(Upload(s0, 1, good, n, 0, v1::UpdateChunk::SECAGG_REPLY).ok());
  {
    absl::MutexLock lock(&sink->mu_);
    EXPECT_EQ(sink->replies[0], good);
  }
  EXPECT_EQ(Upload(s0, 1, good, n, 0, v1::UpdateChunk::SECAGG_REPLY).error_code(),
            grpc::StatusCode::ABORTED)
      << "a second answer to one request";

  // Client 1 says it cannot answer (its state is gone): the exchange counts it at once.
  grpc::ClientContext ctx;
  v1::WaitForTaskRequest poll;
  poll.set_session(s1);
  poll.mutable_failed()->set_kind(v1::Task::SECURE_AGGREGATION);
  poll.mutable_failed()->set_round(1);
  poll.mutable_failed()->set_reason("no protocol state");
  v1::Task next;
  ASSERT_TRUE(stub_->WaitForTask(&ctx, poll, &next).ok());
  absl::MutexLock lock(&sink->mu_);
  EXPECT_EQ(sink->failures[1].code(), absl::StatusCode::kAborted);
  EXPECT_EQ(sink->replies.count(1), 0u);
}

TEST_F(GrpcServiceTest, FinishTellsWaitingClients) {
  std::string session;
  ASSERT_TRUE(Join(1, "t1", &session).ok());
  v1::Task task;
  ASSERT_TRUE(Wait(session, &task).ok());  // the TRAIN task
  service_->Finish();
  ASSERT_TRUE(Wait(session, &task).ok());
  EXPECT_EQ(task.kind(), v1::Task::FINISHED);
}

class HeartbeatTest : public GrpcServiceTest {
 protected:
  void Configure(CoordinatorServiceOptions* options) override {
    options->heartbeat_timeout = absl::Milliseconds(600);
  }
  grpc::Status Beat(const std::string& session, int64_t round, bool* open) {
    grpc::ClientContext ctx;
    v1::HeartbeatRequest req;
    req.set_session(session);
    req.set_round(round);
    v1::HeartbeatResponse resp;
    grpc::Status s = stub_->Heartbeat(&ctx, req, &resp);
    *open = resp.round_open();
    return s;
  }
};

TEST_F(HeartbeatTest, ASilentClientIsADropoutLongBeforeTheDeadlineAndABeatingOneIsNot) {
  std::string s0, s1;
  ASSERT_TRUE(Join(0, "t0", &s0).ok());
  ASSERT_TRUE(Join(1, "t1", &s1).ok());
  v1::Task t0, t1;
  ASSERT_TRUE(Wait(s0, &t0).ok());
  ASSERT_TRUE(Wait(s1, &t1).ok());
  ASSERT_EQ(t0.kind(), v1::Task::TRAIN);
  // Client 0 goes silent with its task; client 1 keeps beating for 2 s (> 3 timeouts).
  const absl::Time start = absl::Now();
  bool open = false;
  while (absl::Now() - start < absl::Seconds(2)) {
    ASSERT_TRUE(Beat(s1, 1, &open).ok());
    EXPECT_TRUE(open);
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(service_->stats().clients_lost, 1);
  // Client 0 was reported as a dropout: its late update is refused, not counted twice.
  const std::string payload = Encode(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 2, 0.1));
  EXPECT_EQ(Upload(s0, 1, payload, static_cast<int64_t>(payload.size())).error_code(),
            grpc::StatusCode::ABORTED);
  bool still_open = true;
  ASSERT_TRUE(Beat(s0, 1, &still_open).ok());
  EXPECT_FALSE(still_open) << "a lost client is told its round is gone";
  // Client 1's update completes the round; no deadline was needed.
  EXPECT_TRUE(Upload(s1, 1, payload, static_cast<int64_t>(payload.size())).ok());
  auto result = CloseWhenAllReported(*round_);
  ASSERT_OK(result);
  EXPECT_EQ(result->accepted, 1);
  EXPECT_EQ(result->failed, 1);
  EXPECT_EQ(Beat("forged", 1, &open).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace tailor
