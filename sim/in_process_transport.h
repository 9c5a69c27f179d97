// InProcessTransport: the simulation's ClientTransport. Virtual clients run the same
// ClientRuntime a daemon runs, on a pool of worker threads that each own one LocalTrainer
// (one model instance per worker, reused across clients). Updates travel as the same encoded
// bytes the network carries and are validated by the same Round.
#ifndef TAILOR_SIM_IN_PROCESS_TRANSPORT_H_
#define TAILOR_SIM_IN_PROCESS_TRANSPORT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/algorithm.h"
#include "client/secagg_participant.h"
#include "client/personal_store.h"
#include "core/thread_pool.h"
#include "server/transport.h"
#include "sim/byzantine.h"
#include "sim/experiment.h"

namespace tailor {

struct InProcessTransportOptions {
  // Worker threads (>= 1).
  int workers = 1;
  // LibTorch intra-op threads per worker (>= 1). Set in each worker: OpenMP's thread count is a
  // per-thread setting, so setting it once in main() would leave workers at the core count.
  int intra_op_threads = 1;
  // Not owned; must outlive the transport. Its data must be loaded.
  const Experiment* experiment = nullptr;
  PersonalStore* store = nullptr;
  // Simulated attackers (optional, not owned): their updates are corrupted before upload.
  const ByzantineClients* byzantine = nullptr;
  // Secure aggregation's simulated dropouts: the probability that a cohort member drops at
  // each boundary of the protocol (before advertising keys: it fails its training task; after
  // advertising, after sharing keys, after its masked input: it fails that phase's request),
  // drawn from `seed`, the round and the client.
  struct SecAggDropout {
    double before_advertise = 0, after_advertise = 0, after_share = 0, after_input = 0;
    uint64_t seed = 0;
    // And exactly these: (round, client) -> boundary (0..3, the order above).
    std::map<std::pair<int64_t, int64_t>, int> at;
  };
  SecAggDropout secagg_dropout;
};

class InProcessTransport : public ClientTransport {
 public:
  static absl::StatusOr<std::unique_ptr<InProcessTransport>> Create(
      InProcessTransportOptions options);
  ~InProcessTransport() override;

  void DispatchTrain(const TrainTask& task, const std::vector<int64_t>& cohort,
                     std::shared_ptr<UpdateSink> sink) override;
  void DispatchEval(const EvalTask& task, const std::vector<int64_t>& clients,
                    std::shared_ptr<EvalSink> sink) override;
  void DispatchSecAgg(int64_t round, const std::map<int64_t, std::string>& requests,
                      std::shared_ptr<SecAggSink> sink) override;

 private:
  InProcessTransport(InProcessTransportOptions options,
                     std::vector<std::unique_ptr<LocalTrainer>> trainers);
  ClientRuntime RuntimeFor(int64_t client_id) const;
  // Under secure aggregation: starts the client's participant on its fresh upload.
  absl::Status BeginSecAgg(const TrainTask& task, UpdateUpload* upload);
  // Whether the client drops at `boundary` (0..3, SecAggDropout's order) of `round`.
  bool SimulatedDropout(int64_t client, int64_t round, int boundary) const;

  InProcessTransportOptions options_;
  std::vector<std::unique_ptr<LocalTrainer>> trainers_;  // one per worker
  std::unique_ptr<ThreadPool> pool_;
  // Each virtual client's secure-aggregation state (a device keeps its own).
  absl::Mutex participants_mu_;
  std::map<int64_t, std::shared_ptr<SecAggParticipant>> participants_
      ABSL_GUARDED_BY(participants_mu_);
};

}  // namespace tailor

#endif  // TAILOR_SIM_IN_PROCESS_TRANSPORT_H_
