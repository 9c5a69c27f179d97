// The coordinator's server step and its durable optimizer state, with a scripted transport whose
// clients answer every round with a fixed pseudo-random update: a run interrupted and resumed
// from the checkpoint must end bit for bit where an uninterrupted run ends.
#include "server/coordinator.h"

#include <set>

#include "core/wire_update.h"
#include "privacy/rdp_accountant.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {4, 3}}, {"b", {3}}};

// Client c's update in round r is a fixed function of (r, c): only the coordinator's state
// decides where the model goes.
class ScriptedTransport : public ClientTransport {
 public:
  void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                     std::shared_ptr<UpdateSink> sink) override {
    for (int64_t c : cohort) {
      UpdateUpload u;
      u.client_id = c;
      u.round = task.round;
      u.weight = 10 + c;
      u.within_clip_norm = c % 2 == 0;
      u.payload =
          *EncodeSharedUpdate(RandomSet(kSpec, static_cast<uint64_t>(1000 * task.round + c), 0.05),
                              PersonalizationPolicy());
      EXPECT_OK(sink->OnUpdate(u));
    }
  }
  void DispatchEval(const EvalTask&, const std::vector<int64_t>& clients,
                    std::shared_ptr<EvalSink> sink) override {
    for (int64_t c : clients) sink->OnEvalFailure(c, absl::UnavailableError("no data here"));
  }
};

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorOptions Options(const std::string& optimizer, int64_t rounds, CheckpointStore* store) {
    CoordinatorOptions o;
    o.num_clients = 5;
    o.rounds = rounds;
    o.clients_per_round = 3;
    o.seed = 11;
    o.eval_every = 1000;
    o.initial_shared = RandomSet(kSpec, 1, 1.0);
    o.server_optimizer.name = optimizer;
    o.server_optimizer.learning_rate = 0.05;
    o.checkpoints = store;
    o.run_name = "t";
    o.transport = &transport_;
    return o;
  }
  ParameterSet RunToEnd(CoordinatorOptions o) {
    auto c = Coordinator::Create(std::move(o));
    EXPECT_OK(c);
    if (!c.ok()) return ParameterSet();
    EXPECT_OK((*c)->RunAll());
    return *(*c)->global_shared();
  }
  ScriptedTransport transport_;
};

TEST_F(CoordinatorTest, AResumedRunEndsBitForBitWhereAnUninterruptedOneEnds) {
  for (const std::string optimizer : {"fedavgm", "fedadagrad", "fedadam", "fedyogi"}) {
    auto straight_store =
        *CheckpointStore::Open(testing::MakeTempDir("straight"), "t", Env::Default());
    const ParameterSet straight = RunToEnd(Options(optimizer, 5, straight_store.get()));

    const std::string dir = testing::MakeTempDir("resumed");
    {
      auto store = *CheckpointStore::Open(dir, "t", Env::Default());
      RunToEnd(Options(optimizer, 2, store.get()));  // the coordinator stops after round 2
    }
    auto store = *CheckpointStore::Open(dir, "t", Env::Default());
    auto resumed = Coordinator::Create(Options(optimizer, 5, store.get()));
    ASSERT_OK(resumed);
    EXPECT_TRUE((*resumed)->resumed());
    EXPECT_EQ((*resumed)->completed_rounds(), 2);
    ASSERT_OK((*resumed)->RunAll());
    EXPECT_TRUE(*(*resumed)->global_shared() == straight) << optimizer;
  }
}

TEST_F(CoordinatorTest, ForgettingTheOptimizerStateChangesTheModel) {
  // Rounds 1-2 with fedadam, then rounds 3-5 from that model with the state reset to its
  // initial value: if this matched the straight run, the resume test would prove nothing.
  auto s1 = *CheckpointStore::Open(testing::MakeTempDir("a"), "t", Env::Default());
  const ParameterSet straight = RunToEnd(Options("fedadam", 5, s1.get()));
  auto s2 = *CheckpointStore::Open(testing::MakeTempDir("b"), "t", Env::Default());
  const ParameterSet after2 = RunToEnd(Options("fedadam", 2, s2.get()));
  ParameterSet reset;
  for (const char* prefix : {"m/", "v/"}) {
    for (const auto& e : after2.entries()) {
      Tensor t(e.tensor.dtype(), e.tensor.shape());
      if (prefix[0] == 'v') {
        for (float& x : t.f32()) x = static_cast<float>(1e-3 * 1e-3);  // v starts at tau^2
      }
      ASSERT_OK(reset.Add(prefix + e.name, std::move(t)));
    }
  }
  auto s3 = *CheckpointStore::Open(testing::MakeTempDir("c"), "t", Env::Default());
  ASSERT_OK(s3->SaveRound(2, after2, reset, "{}"));
  const ParameterSet forgetful = RunToEnd(Options("fedadam", 5, s3.get()));
  EXPECT_FALSE(forgetful == straight);
  // A stored round without any state cannot resume a stateful optimizer.
  auto s4 = *CheckpointStore::Open(testing::MakeTempDir("d"), "t", Env::Default());
  ASSERT_OK(s4->SaveRound(2, after2, ParameterSet(), "{}"));
  EXPECT_STATUS(Coordinator::Create(Options("fedadam", 5, s4.get())).status(),
                absl::StatusCode::kInvalidArgument, "server optimizer changed mid-run");
}

TEST_F(CoordinatorTest, ChangingTheOptimizerMidRunIsRefused) {
  const std::string dir = testing::MakeTempDir("switch");
  {
    auto store = *CheckpointStore::Open(dir, "t", Env::Default());
    RunToEnd(Options("fedyogi", 2, store.get()));
  }
  auto store = *CheckpointStore::Open(dir, "t", Env::Default());
  EXPECT_STATUS(Coordinator::Create(Options("fedavgm", 4, store.get())).status(),
                absl::StatusCode::kInvalidArgument, "changed mid-run");
  EXPECT_STATUS(Coordinator::Create(Options("nesterov", 4, store.get())).status(),
                absl::StatusCode::kInvalidArgument, "unknown server optimizer 'nesterov'");
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Keeps every round's record.
class Records : public RoundObserver {
 public:
  void OnRoundComplete(const RoundRecord& r) override { rounds.push_back(r); }
  std::vector<RoundRecord> rounds;
};

class PrivateCoordinatorTest : public CoordinatorTest {
 protected:
  CoordinatorOptions Private(int64_t rounds, CheckpointStore* store, double budget = 0) {
    CoordinatorOptions o = Options("sgd", rounds, store);
    DpFedAvgOptions dp;
    dp.clip_norm = 0.5;
    dp.noise_multiplier = 1.0;
    dp.sampling_rate = 0.6;
    dp.delta = 1e-5;
    dp.epsilon_budget = budget;
    dp.adaptive_clipping = true;
    dp.count_stddev = 2;
    dp.reproducible_noise = true;
    dp.seed = 5;
    o.privacy = dp;
    o.observers = {&records_};
    return o;
  }
  double EpsilonAfter(int64_t rounds) {
    return SubsampledGaussianEpsilon(0.6, 1.0, rounds, 1e-5)->epsilon;
  }
  Records records_;
};

TEST_F(PrivateCoordinatorTest, TheBudgetStopsTheRunBeforeTheRoundThatWouldExceedIt) {
  auto store = *CheckpointStore::Open(testing::MakeTempDir("budget"), "t", Env::Default());
  const double budget = 0.5 * (EpsilonAfter(7) + EpsilonAfter(8));
  auto c = Coordinator::Create(Private(20, store.get(), budget));
  ASSERT_OK(c);
  ASSERT_OK((*c)->RunAll());
  EXPECT_EQ((*c)->completed_rounds(), 7);
  EXPECT_EQ(*store->CountRounds(), 7);
  EXPECT_NE((*c)->stop_reason().find("stopped after round 7 of 20"), std::string::npos)
      << (*c)->stop_reason();
  EXPECT_NE((*c)->stop_reason().find("privacy budget allows no round 8"), std::string::npos);
  ASSERT_EQ(records_.rounds.size(), 7u);
  for (const RoundRecord& r : records_.rounds) {
    ASSERT_TRUE(r.privacy.has_value());
    EXPECT_NEAR(r.privacy->epsilon, EpsilonAfter(r.round), 1e-12) << r.round;
    EXPECT_LE(r.privacy->epsilon, budget);
  }
  // The last round the budget allows is evaluated even though eval_every is 1000.
  EXPECT_TRUE(records_.rounds.back().eval.has_value());
  // Asking for another round directly is refused, and runs nothing.
  EXPECT_STATUS((*c)->RunRound().status(), absl::StatusCode::kResourceExhausted, "budget");
  EXPECT_EQ((*c)->completed_rounds(), 7);
}

TEST_F(PrivateCoordinatorTest, ARestartedCoordinatorReportsTheSameEpsilonAndEndsWhereItWould) {
  auto straight_store =
      *CheckpointStore::Open(testing::MakeTempDir("dp-straight"), "t", Env::Default());
  auto straight = Coordinator::Create(Private(6, straight_store.get()));
  ASSERT_OK(straight);
  ASSERT_OK((*straight)->RunAll());

  const std::string dir = testing::MakeTempDir("dp-resumed");
  double spent_before = 0, clip_before = 0;
  {
    auto store = *CheckpointStore::Open(dir, "t", Env::Default());
    auto first = Coordinator::Create(Private(3, store.get()));
    ASSERT_OK(first);
    ASSERT_OK((*first)->RunAll());
    spent_before = (*first)->privacy()->Spent().epsilon;
    clip_before = (*first)->privacy()->clip_norm();
  }
  auto store = *CheckpointStore::Open(dir, "t", Env::Default());
  auto resumed = Coordinator::Create(Private(6, store.get()));
  ASSERT_OK(resumed);
  EXPECT_EQ((*resumed)->completed_rounds(), 3);
  // Before it runs anything, it reports exactly what it had.
  EXPECT_EQ((*resumed)->privacy()->Spent().epsilon, spent_before);
  EXPECT_EQ((*resumed)->privacy()->clip_norm(), clip_before);
  EXPECT_NEAR(spent_before, EpsilonAfter(3), 1e-12);
  ASSERT_OK((*resumed)->RunAll());
  EXPECT_EQ((*resumed)->privacy()->Spent().epsilon, (*straight)->privacy()->Spent().epsilon);
  // Reproducible noise, restored clip norm: the same model bit for bit.
  EXPECT_TRUE(*(*resumed)->global_shared() == *(*straight)->global_shared());
}

TEST_F(PrivateCoordinatorTest, PrivacyCannotBeSwitchedOnOrOffMidRun) {
  const std::string dp_dir = testing::MakeTempDir("dp-then-off");
  {
    auto store = *CheckpointStore::Open(dp_dir, "t", Env::Default());
    ASSERT_OK((*Coordinator::Create(Private(2, store.get())))->RunAll());
  }
  auto dp_store = *CheckpointStore::Open(dp_dir, "t", Env::Default());
  EXPECT_STATUS(Coordinator::Create(Options("sgd", 4, dp_store.get())).status(),
                absl::StatusCode::kFailedPrecondition, "turns privacy off");

  const std::string plain_dir = testing::MakeTempDir("off-then-dp");
  {
    auto store = *CheckpointStore::Open(plain_dir, "t", Env::Default());
    RunToEnd(Options("sgd", 2, store.get()));
  }
  auto plain_store = *CheckpointStore::Open(plain_dir, "t", Env::Default());
  EXPECT_STATUS(Coordinator::Create(Private(4, plain_store.get())).status(),
                absl::StatusCode::kFailedPrecondition, "began without differential privacy");
}

TEST_F(PrivateCoordinatorTest, AnEmptyPoissonCohortStillReleasesNoiseAndSpends) {
  CoordinatorOptions o = Private(6, nullptr);
  o.privacy->sampling_rate = 0.01;  // with 5 clients most rounds sample nobody
  o.privacy->adaptive_clipping = false;
  auto c = Coordinator::Create(std::move(o));
  ASSERT_OK(c);
  const ParameterSet initial = *(*c)->global_shared();
  ASSERT_OK((*c)->RunAll());
  int empty = 0;
  for (const RoundRecord& r : records_.rounds) empty += r.cohort_size == 0;
  EXPECT_GE(empty, 1);
  EXPECT_GT(records_.rounds.back().privacy->epsilon, 0);
  EXPECT_FALSE(*(*c)->global_shared() == initial);  // the noise moved it
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Records who trains and who is evaluated how; every evaluated client reports 1 of 2 correct,
// new clients 2 of 2.
class RecordingTransport : public ScriptedTransport {
 public:
  void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                     std::shared_ptr<UpdateSink> sink) override {
    trained.insert(cohort.begin(), cohort.end());
    ScriptedTransport::DispatchTrain(task, cohort, std::move(sink));
  }
  void DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                    std::shared_ptr<EvalSink> sink) override {
    evals.push_back({clients, task.new_client_epochs});
    for (int64_t c : clients) {
      EvalReport r;
      r.client_id = c;
      r.personalized.count = 2;
      r.personalized.correct = task.new_client_epochs > 0 ? 2 : 1;
      sink->OnEvalReport(r);
    }
  }
  std::set<int64_t> trained;
  std::vector<std::pair<std::vector<int64_t>, int>> evals;
};

TEST(CoordinatorNewClients, HeldOutClientsNeverTrainAndAreEvaluatedApart) {
  RecordingTransport transport;
  CoordinatorOptions o;
  o.num_clients = 10;
  o.new_clients = 3;
  o.new_client_epochs = 2;
  o.rounds = 6;
  o.clients_per_round = 4;
  o.eval_every = 3;
  o.seed = 5;
  o.initial_shared = RandomSet(kSpec, 1, 1.0);
  o.transport = &transport;
  auto c = Coordinator::Create(o);
  ASSERT_OK(c);
  for (int round = 1; round <= 6; ++round) {
    auto record = (*c)->RunRound();
    ASSERT_OK(record);
    EXPECT_EQ(record->eval.has_value(), round % 3 == 0);
    EXPECT_EQ(record->new_client_eval.has_value(), round % 3 == 0);
    if (record->new_client_eval) {
      EXPECT_EQ(record->eval->clients, 7);
      EXPECT_DOUBLE_EQ(record->eval->micro, 0.5);
      EXPECT_EQ(record->new_client_eval->clients, 3);
      EXPECT_DOUBLE_EQ(record->new_client_eval->micro, 1.0);
    }
  }
  for (int64_t id : transport.trained) EXPECT_LT(id, 7) << "held-out client " << id << " trained";
  EXPECT_GT(transport.trained.size(), 4u);
  ASSERT_EQ(transport.evals.size(), 4u);  // rounds 3 and 6, regular then new clients
  EXPECT_EQ(transport.evals[0].first, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(transport.evals[0].second, 0);
  EXPECT_EQ(transport.evals[1].first, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(transport.evals[1].second, 2);

  o.new_clients = 10;
  EXPECT_STATUS(Coordinator::Create(o), absl::StatusCode::kInvalidArgument, "new_clients");
}

// eval_at_start: the initial model is evaluated (training and held-out clients) before any
// training, and reported as round 0; the rounds after it are unchanged.
TEST(CoordinatorEvalAtStart, TheInitialModelIsEvaluatedAsRoundZeroBeforeAnyTraining) {
  struct Recorder : RoundObserver {
    void OnRoundComplete(const RoundRecord& r) override { records.push_back(r); }
    std::vector<RoundRecord> records;
  };
  struct Transport : RecordingTransport {
    void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                       std::shared_ptr<UpdateSink> sink) override {
      if (first_train_after_evals < 0) first_train_after_evals = static_cast<int>(evals.size());
      RecordingTransport::DispatchTrain(task, cohort, std::move(sink));
    }
    void DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                      std::shared_ptr<EvalSink> sink) override {
      eval_models.push_back(task.global_shared);
      eval_rounds.push_back(task.round);
      RecordingTransport::DispatchEval(task, clients, std::move(sink));
    }
    int first_train_after_evals = -1;
    std::vector<std::shared_ptr<const ParameterSet>> eval_models;
    std::vector<int64_t> eval_rounds;
  } transport;
  Recorder recorder;
  CoordinatorOptions o;
  o.num_clients = 6;
  o.new_clients = 2;
  o.rounds = 2;
  o.eval_every = 2;
  o.eval_at_start = true;
  o.seed = 5;
  o.initial_shared = RandomSet(kSpec, 1, 1.0);
  o.transport = &transport;
  o.observers = {&recorder};
  auto c = Coordinator::Create(o);
  ASSERT_OK(c);
  ASSERT_OK((*c)->RunAll());
  ASSERT_EQ(recorder.records.size(), 3u);
  const RoundRecord& start = recorder.records[0];
  EXPECT_EQ(start.round, 0);
  ASSERT_TRUE(start.eval.has_value());
  EXPECT_EQ(start.eval->clients, 4);
  ASSERT_TRUE(start.new_client_eval.has_value());
  EXPECT_EQ(start.new_client_eval->clients, 2);
  EXPECT_EQ(recorder.records[1].round, 1);
  EXPECT_EQ(recorder.records[2].round, 2);
  // Both evaluations of round 0 ran before the first training task, on the initial model.
  EXPECT_EQ(transport.first_train_after_evals, 2);
  ASSERT_EQ(transport.eval_rounds.size(), 4u);
  EXPECT_EQ(transport.eval_rounds[0], 0);
  EXPECT_TRUE(*transport.eval_models[0] == o.initial_shared);
  EXPECT_FALSE(*transport.eval_models[2] == o.initial_shared);
}

}  // namespace
}  // namespace tailor
