// The round loop keeps the federation alive and its record true: a round short of updates is run
// again with a new cohort (or skipped) instead of ending the experiment, a restarted coordinator
// goes on with the attempt it was running, and nothing derived from a round leaves before the
// round is committed, even when a crash falls between the commit and the evaluation.
#include <set>

#include "server/metrics_jsonl.h"
#include "tests/server/flaky_transport.h"

namespace tailor {
namespace {

using testing::FlakyTransport;
using testing::LivenessOptions;
using testing::RandomSet;

TEST(ShortRounds, ARoundShortOfUpdatesRunsAgainWithANewCohortAndNeverEndsTheRun) {
  FlakyTransport transport;
  transport.failing = {0};  // client 0 never answers; every cohort must be complete
  auto c = Coordinator::Create(LivenessOptions(&transport, 6));
  ASSERT_OK(c);
  ASSERT_OK((*c)->RunAll());
  EXPECT_EQ((*c)->completed_rounds(), 6);
  int retried = 0;
  for (size_t i = 0; i < transport.dispatches.size(); ++i) {
    const auto& d = transport.dispatches[i];
    const bool has_zero = std::count(d.cohort.begin(), d.cohort.end(), 0) > 0;
    const bool last_of_round =
        i + 1 == transport.dispatches.size() || transport.dispatches[i + 1].round != d.round;
    // Every round ends with a cohort that could answer; every earlier attempt had client 0.
    EXPECT_EQ(has_zero, !last_of_round) << "dispatch " << i;
    if (!last_of_round) {
      ++retried;
      EXPECT_NE(transport.dispatches[i + 1].seed, d.seed) << "a new task seed";
    }
  }
  EXPECT_GT(retried, 0) << "the seed should put client 0 in some cohort";
  // A retry leaves out the clients that failed the round's earlier attempts: one retry is
  // always enough here.
  for (size_t i = 0; i + 1 < transport.dispatches.size(); ++i) {
    if (transport.dispatches[i].round == transport.dispatches[i + 1].round) {
      ASSERT_TRUE(i + 2 >= transport.dispatches.size() ||
                  transport.dispatches[i + 2].round != transport.dispatches[i].round)
          << "round " << transport.dispatches[i].round << " needed a third attempt";
    }
  }
}

TEST(ShortRounds, AClientThatIsDownIsLeftOutOfTheRetryEvenWhenEveryoneIsAsked) {
  // All clients every round, the whole cohort required: client 3 being down used to stop the
  // federation. The retry asks everyone but client 3, and needs all of them.
  FlakyTransport transport;
  transport.failing = {3};
  CoordinatorOptions o = LivenessOptions(&transport, 3);
  o.clients_per_round = 0;
  auto c = Coordinator::Create(std::move(o));
  ASSERT_OK(c);
  ASSERT_OK((*c)->RunAll());
  ASSERT_EQ(transport.dispatches.size(), 6u);
  for (size_t i = 0; i < 6; i += 2) {
    EXPECT_EQ(transport.dispatches[i].cohort, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(transport.dispatches[i + 1].cohort, (std::vector<int64_t>{0, 1, 2, 4, 5}));
  }
}

TEST(ShortRounds, SkipLeavesTheModelAndAttemptsRunOutIntoASkip) {
  for (auto policy : {CoordinatorOptions::ShortRound::kSkip, CoordinatorOptions::ShortRound::kRetry}) {
    FlakyTransport transport;
    transport.failing_dispatches = 1000;  // nobody ever answers
    CoordinatorOptions o = LivenessOptions(&transport, 3);
    o.short_round = policy;
    o.max_round_attempts = 2;
    const ParameterSet initial = o.initial_shared;
    auto c = Coordinator::Create(std::move(o));
    ASSERT_OK(c);
    for (int64_t round = 1; round <= 3; ++round) {
      auto record = (*c)->RunRound();
      ASSERT_OK(record);
      EXPECT_TRUE(record->skipped);
      EXPECT_EQ(record->attempts, policy == CoordinatorOptions::ShortRound::kSkip ? 1 : 2);
      EXPECT_NE(RoundRecordToJson(*record, "t").find("\"skipped\":true"), std::string::npos);
    }
    EXPECT_TRUE(*(*c)->global_shared() == initial);
    EXPECT_EQ(transport.dispatches.size(),
              policy == CoordinatorOptions::ShortRound::kSkip ? 3u : 6u);
  }
}

TEST(ShortRounds, ARestartedCoordinatorGoesOnWithTheAttemptItWasRunning) {
  // Uninterrupted: attempts 1 and 2 of round 1 fail, attempt 3 trains.
  FlakyTransport straight;
  straight.failing_dispatches = 2;
  auto a = Coordinator::Create(LivenessOptions(&straight, 1));
  ASSERT_OK(a);
  ASSERT_OK((*a)->RunAll());
  ASSERT_EQ(straight.dispatches.size(), 3u);

  // A coordinator that died while running attempt 3 starts there again: same cohort, same seed.
  const std::string dir = testing::MakeTempDir("attempt");
  auto store = *CheckpointStore::Open(dir, "t", Env::Default());
  CheckpointStore::Attempt third;
  third.round = 1;
  third.attempt = 3;
  ASSERT_OK(store->RecordAttempt(third));
  FlakyTransport restarted;
  CoordinatorOptions o = LivenessOptions(&restarted, 1);
  o.checkpoints = store.get();
  auto b = Coordinator::Create(std::move(o));
  ASSERT_OK(b);
  auto record = (*b)->RunRound();
  ASSERT_OK(record);
  EXPECT_EQ(record->attempts, 3);
  ASSERT_EQ(restarted.dispatches.size(), 1u);
  EXPECT_EQ(restarted.dispatches[0].seed, straight.dispatches[2].seed);
  EXPECT_EQ(restarted.dispatches[0].cohort, straight.dispatches[2].cohort);
  EXPECT_TRUE(*(*b)->global_shared() == *(*a)->global_shared());
}

TEST(CommitBeforeRelease, EvaluationTasksGoOutOnlyForCommittedRounds) {
  const std::string dir = testing::MakeTempDir("commit");
  auto store = *CheckpointStore::Open(dir, "t", Env::Default());
  FlakyTransport transport;
  transport.store = store.get();
  CoordinatorOptions o = LivenessOptions(&transport, 4);
  o.eval_every = 2;
  o.checkpoints = store.get();
  auto c = Coordinator::Create(std::move(o));
  ASSERT_OK(c);
  ASSERT_OK((*c)->RunAll());
  ASSERT_EQ(transport.evaluations.size(), 2u);
  for (const auto& [round, committed, pending] : transport.evaluations) {
    EXPECT_EQ(committed, round) << "round " << round << " is committed before it is evaluated";
    EXPECT_TRUE(pending) << "and its evaluation is recorded as still to come";
  }
  auto lines = store->MetricsLines();
  ASSERT_OK(lines);
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_NE((*lines)[1].find("\"eval\""), std::string::npos) << "the evaluation was committed";
  EXPECT_FALSE((*store->LoadLatest())->pending_evaluation_metrics.has_value());
}

TEST(CommitBeforeRelease, ACrashBetweenCommitAndEvaluationFinishesTheEvaluationOnRestart) {
  const std::string dir = testing::MakeTempDir("interrupted");
  FlakyTransport first;
  ParameterSet after_round_2;
  {
    auto store = *CheckpointStore::Open(dir, "t", Env::Default());
    CoordinatorOptions o = LivenessOptions(&first, 2);
    o.checkpoints = store.get();
    auto c = Coordinator::Create(std::move(o));
    ASSERT_OK(c);
    ASSERT_OK((*c)->RunAll());
    after_round_2 = *(*c)->global_shared();
    // What a crash after round 2's commit and before its evaluation leaves behind.
    auto latest = *store->LoadLatest();
    ASSERT_OK(store->SaveRound(3, after_round_2, latest->server_state,
                               R"({"run":"t","round":3,"cohort":3,"accepted":3,"rejected":0,)"
                               R"("failed":0,"upload_bytes":9,"train_loss":0.5,"update_norm":1,)"
                               R"("round_seconds":2,"train_seconds":2,"eval_seconds":0,)"
                               R"("elapsed_seconds":7})",
                               /*evaluation_pending=*/true));
    auto lines = store->MetricsLines();
    EXPECT_EQ(lines->size(), 2u) << "a round whose evaluation is pending has no metrics line yet";
  }
  auto store = *CheckpointStore::Open(dir, "t", Env::Default());
  FlakyTransport second;
  second.store = store.get();
  CoordinatorOptions o = LivenessOptions(&second, 5);
  o.eval_every = 3;
  o.checkpoints = store.get();
  auto c = Coordinator::Create(std::move(o));
  ASSERT_OK(c);
  auto record = (*c)->RunRound();
  ASSERT_OK(record);
  EXPECT_EQ(record->round, 3) << "the interrupted evaluation comes first";
  ASSERT_TRUE(record->eval.has_value());
  EXPECT_EQ(record->accepted, 3);
  EXPECT_DOUBLE_EQ(record->train_loss, 0.5);
  EXPECT_TRUE(second.dispatches.empty()) << "no training before the evaluation is done";
  auto lines = store->MetricsLines();
  ASSERT_OK(lines);
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_NE((*lines)[2].find("\"eval\""), std::string::npos);
  ASSERT_OK((*c)->RunAll());
  EXPECT_EQ((*c)->completed_rounds(), 5);
  EXPECT_EQ(*store->CountRounds(), 5);
}

TEST(MetricsJson, NonFiniteNumbersAreNullAndATrainingRecordReadsBack) {
  RoundRecord r;
  r.round = 4;
  r.cohort_size = 3;
  r.accepted = 2;
  r.failed = 1;
  r.train_loss = NAN;
  r.attempts = 2;
  r.rejections["INVALID_ARGUMENT"] = 1;
  EvalSummary e;
  e.mean_loss = INFINITY;
  e.per_client[0] = NAN;
  r.eval = e;
  const std::string line = RoundRecordToJson(r, "t");
  EXPECT_EQ(line.find("nan"), std::string::npos) << line;
  EXPECT_EQ(line.find("inf"), std::string::npos) << line;
  EXPECT_NE(line.find("\"train_loss\":null"), std::string::npos) << line;
  EXPECT_NE(line.find("\"test_loss\":null"), std::string::npos) << line;
  auto back = RoundRecordFromJson(line);
  ASSERT_OK(back);
  EXPECT_EQ(back->round, 4);
  EXPECT_EQ(back->accepted, 2);
  EXPECT_EQ(back->failed, 1);
  EXPECT_EQ(back->attempts, 2);
  EXPECT_EQ(back->rejections.at("INVALID_ARGUMENT"), 1);
  EXPECT_TRUE(std::isnan(back->train_loss));
  EXPECT_STATUS(RoundRecordFromJson("{\"round\":"), absl::StatusCode::kDataLoss, "not a JSON");
  EXPECT_STATUS(RoundRecordFromJson("{}"), absl::StatusCode::kDataLoss, "no round number");
}

}  // namespace
}  // namespace tailor
