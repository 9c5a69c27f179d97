// The parts of an experiment every entry point builds the same way from its config: the model
// spec, the algorithm, the initial model, the clients' data, and the options of the round loop
// and of local training. `tailor simulate`, `tailor coordinator` and `tailor client` all use
// these, so a config means the same thing in each.
#ifndef TAILOR_SIM_EXPERIMENT_H_
#define TAILOR_SIM_EXPERIMENT_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "client/algorithm.h"
#include "core/env.h"
#include "data/federated_dataset.h"
#include "models/model_spec.h"
#include "server/coordinator.h"
#include "tailor/config.pb.h"

namespace tailor {

struct Experiment {
  ModelSpec spec;
  std::unique_ptr<ClientAlgorithm> algorithm;
  // The full initial model (shared and personal parts), identical everywhere for a seed.
  std::shared_ptr<const ParameterSet> initial_model;
  // Loaded only when asked for (the coordinator never sees client data).
  std::optional<FederatedDataset> data;
  // privacy.noise is not "secure": simulated clients key DP-SGD's coins from the seed.
  bool reproducible_private_noise = true;
};

absl::StatusOr<Experiment> BuildExperiment(const config::ExperimentConfig& config, Env* env,
                                           bool load_data);

// The model an experiment starts from: the seeded initialization of `spec`, with the tensors of
// model.initial_model (when set) in place of their initial values. INVALID_ARGUMENT naming the
// tensor for one the model lacks, of another shape, or not finite; the file's own errors
// (NOT_FOUND, DATA_LOSS) name the file.
absl::StatusOr<ParameterSet> InitialModel(const config::ExperimentConfig& config,
                                          const ModelSpec& spec, Env* env);

TrainOptions TrainOptionsFrom(const config::ExperimentConfig& config);

// Everything but transport, env and observers.
CoordinatorOptions CoordinatorOptionsFrom(const config::ExperimentConfig& config,
                                          const Experiment& experiment);

// Under privacy with release_unprotected_metrics: what the run releases that ε does not cover,
// in a sentence for the operator; empty otherwise.
std::string UnprotectedMetricsNotice(const config::ExperimentConfig& config);
// The client context of client `id` (data must be loaded).
ClientContext ClientContextFor(const Experiment& experiment, int64_t id, PersonalStore* store);

// What keeping every virtual client's device state in memory would take: the personal part
// plus the algorithm's model copies, times the population. FAILED_PRECONDITION, naming
// simulation.personal_state_dir, when that exceeds half of `memory_bytes`.
absl::Status CheckInMemoryDeviceState(int64_t num_clients, const ClientAlgorithm& algorithm,
                                      const ParameterSet& model, uint64_t memory_bytes);

}  // namespace tailor

#endif  // TAILOR_SIM_EXPERIMENT_H_
