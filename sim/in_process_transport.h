// InProcessTransport: the simulation's ClientTransport. Virtual clients run the same
// ClientRuntime a daemon runs, on a pool of worker threads that each own one LocalTrainer
// (one model instance per worker, reused across clients). Updates travel as the same encoded
// bytes the network carries and are validated by the same Round.
#ifndef TAILOR_SIM_IN_PROCESS_TRANSPORT_H_
#define TAILOR_SIM_IN_PROCESS_TRANSPORT_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "client/algorithm.h"
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

 private:
  InProcessTransport(InProcessTransportOptions options,
                     std::vector<std::unique_ptr<LocalTrainer>> trainers);
  ClientRuntime RuntimeFor(int64_t client_id) const;

  InProcessTransportOptions options_;
  std::vector<std::unique_ptr<LocalTrainer>> trainers_;  // one per worker
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace tailor

#endif  // TAILOR_SIM_IN_PROCESS_TRANSPORT_H_
