// The coordinator's server step and its durable optimizer state, with a scripted transport whose
// clients answer every round with a fixed pseudo-random update: a run interrupted and resumed
// from the checkpoint must end bit for bit where an uninterrupted run ends.
#include "server/coordinator.h"

#include "core/wire_update.h"
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
