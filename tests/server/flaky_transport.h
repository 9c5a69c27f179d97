// A scripted transport for coordinator tests: client c answers round r with a fixed update, unless
// it is told to drop out; it records what it was asked and what the store held when each
// evaluation went out.
#ifndef TAILOR_TESTS_SERVER_FLAKY_TRANSPORT_H_
#define TAILOR_TESTS_SERVER_FLAKY_TRANSPORT_H_

#include <set>
#include <tuple>
#include <vector>

#include "core/wire_update.h"
#include "server/coordinator.h"
#include "tests/test_util.h"

namespace tailor::testing {

inline const std::vector<std::pair<std::string, std::vector<int64_t>>> kFlakySpec = {{"w", {4, 3}}, {"b", {3}}};

// Client c answers every task with a fixed update, unless it is one of `failing` (a dropout) or
// the dispatch is among the first `failing_dispatches` (everyone drops out). Records what it was
// asked, and what the store held when each evaluation went out.
class FlakyTransport : public ClientTransport {
 public:
  std::set<int64_t> failing;
  int failing_dispatches = 0;
  CheckpointStore* store = nullptr;
  struct Dispatch {
    int64_t round;
    uint64_t seed;
    std::vector<int64_t> cohort;
  };
  std::vector<Dispatch> dispatches;
  // (evaluated round, rounds committed at that moment, that round's evaluation still pending)
  std::vector<std::tuple<int64_t, int64_t, bool>> evaluations;

  void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                     std::shared_ptr<UpdateSink> sink) override {
    dispatches.push_back({task.round, task.seed, cohort});
    const bool all_fail = static_cast<int>(dispatches.size()) <= failing_dispatches;
    for (int64_t c : cohort) {
      if (all_fail || failing.count(c)) {
        sink->OnTrainFailure(c, task.round, absl::UnavailableError("gone"));
        continue;
      }
      UpdateUpload u;
      u.client_id = c;
      u.round = task.round;
      u.weight = 1;
      u.payload = *EncodeSharedUpdate(
          RandomSet(kFlakySpec, static_cast<uint64_t>(100 * task.round + c), 0.05),
          PersonalizationPolicy());
      EXPECT_OK(sink->OnUpdate(u));
    }
  }
  void DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                    std::shared_ptr<EvalSink> sink) override {
    if (store != nullptr) {
      auto latest = store->LoadLatest();
      EXPECT_OK(latest);
      evaluations.emplace_back(task.round, *store->CountRounds(),
                               latest.ok() && *latest &&
                                   (*latest)->pending_evaluation_metrics.has_value());
    }
    for (int64_t c : clients) {
      EvalReport r;
      r.client_id = c;
      r.personalized = {c, 10, 1.0};
      EXPECT_OK(sink->OnEvalReport(r));
    }
  }
};

inline CoordinatorOptions LivenessOptions(ClientTransport* transport, int64_t rounds) {
  CoordinatorOptions o;
  o.num_clients = 6;
  o.rounds = rounds;
  o.clients_per_round = 3;
  o.seed = 5;
  o.eval_every = 1000;
  o.initial_shared = RandomSet(kFlakySpec, 1, 1.0);
  o.run_name = "t";
  o.transport = transport;
  return o;
}

}  // namespace tailor::testing

#endif  // TAILOR_TESTS_SERVER_FLAKY_TRANSPORT_H_
