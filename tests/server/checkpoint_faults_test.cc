// The coordinator's durable state under a failing disk (tests/fault_env.h): a full disk, a failed
// fsync, a read-only directory and a write cut short are each refused with the cause named,
// nothing committed is lost, completed_rounds() says what was committed, and the run resumes and
// ends bit for bit where an uninterrupted one ends once the fault clears. A disk that lies (a
// torn model file reported as written) is caught when the state is read back, never used.
#include "server/checkpoint_store.h"
#include "server/coordinator.h"
#include "tests/fault_env.h"
#include "tests/server/flaky_transport.h"

namespace tailor {
namespace {

using testing::FaultInjectingEnv;
using testing::FlakyTransport;
using testing::LivenessOptions;
using Fault = FaultInjectingEnv::Fault;

// Five rounds of FedAdam (server state that must survive too), durable in `store` through `env`.
CoordinatorOptions Options(ClientTransport* transport, CheckpointStore* store, Env* env) {
  CoordinatorOptions o = LivenessOptions(transport, 5);
  o.server_optimizer.name = "fedadam";
  o.server_optimizer.learning_rate = 0.05;
  o.checkpoints = store;
  o.env = env;
  return o;
}

// A coordinator durable in `dir` through `env` that has run `rounds` rounds.
struct Running {
  std::unique_ptr<CheckpointStore> store;
  std::unique_ptr<Coordinator> coordinator;
};
Running RunRounds(const std::string& dir, Env* env, ClientTransport* transport, int rounds) {
  Running r;
  r.store = *CheckpointStore::Open(dir, "t", env);
  r.coordinator = *Coordinator::Create(Options(transport, r.store.get(), env));
  for (int i = 0; i < rounds; ++i) EXPECT_OK(r.coordinator->RunRound());
  return r;
}

ParameterSet Uninterrupted() {
  FlakyTransport transport;
  auto store = *CheckpointStore::Open(testing::MakeTempDir("straight"), "t", Env::Default());
  auto c = Coordinator::Create(Options(&transport, store.get(), Env::Default()));
  EXPECT_OK(c);
  EXPECT_OK((*c)->RunAll());
  return *(*c)->global_shared();
}

TEST(CheckpointFaults, EachWriteFaultIsRefusedNothingCommittedIsLostAndTheRunResumes) {
  const ParameterSet straight = Uninterrupted();
  const struct {
    Fault fault;
    const char* message;
  } cases[] = {{Fault::kNoSpace, "No space left on device"},
               {Fault::kFsyncFails, "Input/output error"},
               {Fault::kReadOnly, "Read-only file system"},
               {Fault::kShortWrite, "died mid-write"}};
  for (const auto& c : cases) {
    const std::string dir = testing::MakeTempDir("faults");
    FaultInjectingEnv env(Env::Default());
    FlakyTransport transport;
    {
      Running run = RunRounds(dir, &env, &transport, 2);
      env.Inject(c.fault, "/models/");
      auto failed = run.coordinator->RunRound();
      ASSERT_FALSE(failed.ok()) << c.message;
      EXPECT_NE(failed.status().message().find(c.message), std::string::npos)
          << failed.status();
      EXPECT_EQ(run.coordinator->completed_rounds(), 2) << "what it says is what was committed";
      EXPECT_EQ(*run.store->CountRounds(), 2);
    }
    // The fault clears; a restarted coordinator resumes after round 2 and ends where an
    // uninterrupted run ends.
    env.Clear();
    auto store = *CheckpointStore::Open(dir, "t", &env);
    EXPECT_EQ((*store->LoadLatest())->round, 2) << c.message;
    auto resumed = Coordinator::Create(Options(&transport, store.get(), &env));
    ASSERT_OK(resumed);
    ASSERT_OK((*resumed)->RunAll());
    EXPECT_TRUE(*(*resumed)->global_shared() == straight) << c.message;
    EXPECT_EQ(store->MetricsLines()->size(), 5u) << c.message;
  }
}

TEST(CheckpointFaults, ATornModelFileReportedAsWrittenIsCaughtOnResumeNotUsed) {
  const std::string dir = testing::MakeTempDir("torn");
  FaultInjectingEnv env(Env::Default());
  FlakyTransport transport;
  {
    Running run = RunRounds(dir, &env, &transport, 1);
    env.Inject(Fault::kTornWrite, "/models/");
    ASSERT_OK(run.coordinator->RunRound());  // the disk said yes
    ASSERT_EQ(env.injected(), 1);
  }
  env.Clear();
  auto store = *CheckpointStore::Open(dir, "t", &env);
  EXPECT_STATUS(store->LoadLatest(), absl::StatusCode::kDataLoss, "does not match its digest");
  EXPECT_STATUS(Coordinator::Create(Options(&transport, store.get(), &env)).status(),
                absl::StatusCode::kDataLoss, "round 2");
}

}  // namespace
}  // namespace tailor
