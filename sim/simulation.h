// RunSimulation: one experiment config -> a federated run of virtual clients on this machine,
// through the same Coordinator, Round and ClientRuntime a deployment uses.
#ifndef TAILOR_SIM_SIMULATION_H_
#define TAILOR_SIM_SIMULATION_H_

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "server/coordinator.h"
#include "sim/cross_evaluation.h"
#include "tailor/config.pb.h"

namespace tailor {

struct SimulationOptions {
  Env* env = nullptr;  // Env::Default() when null
  // Live progress goes here (nullptr: silent).
  std::FILE* progress = nullptr;
  // Write metrics.jsonl and summary files into config.output_dir.
  bool write_outputs = true;
  // Keep per-client personal parameters in memory (for tests that inspect them).
  bool keep_personal_states = false;
};

struct SimulationResult {
  std::string name;
  std::string algorithm;
  int64_t num_clients = 0;
  // True when the shared parameters form a complete model (nothing personal): then the
  // personalized accuracy is the global model's accuracy.
  bool has_global_model = false;
  std::vector<RoundRecord> rounds;
  double seconds = 0;
  std::shared_ptr<const ParameterSet> final_shared;
  // client id -> personal parameters (only with keep_personal_states).
  std::map<int64_t, ParameterSet> personal_states;
  std::string output_dir;
  // Why the run stopped before its configured rounds (the privacy budget); empty otherwise.
  std::string stop_reason;
  // Under DP: the same rounds' ε by the tighter PLD accountant (the budget uses RDP's), or -1
  // when the PLD accountant could not run (its message in pld_note).
  double pld_epsilon = -1;
  std::string pld_note;
  // eval.cross_evaluation: every training client's model on every training client's test set.
  std::optional<CrossEvaluation> cross_evaluation;
};

absl::StatusOr<SimulationResult> RunSimulation(const config::ExperimentConfig& config,
                                               const SimulationOptions& options);

}  // namespace tailor

#endif  // TAILOR_SIM_SIMULATION_H_
