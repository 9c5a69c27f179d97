// The server's step on the aggregated pseudo-gradient Δ (the cohort's aggregated update, in the
// direction the clients moved). Reddi et al., "Adaptive Federated Optimization" (ICLR 2021),
// Algorithm 2, and Hsu et al., "Measuring the Effects of Non-Identical Data Distribution"
// (2019) for server momentum:
//
//   sgd         x ← x + η Δ                                   (FedAvg when η = 1)
//   fedavgm     m ← β m + Δ;                 x ← x + η m
//   fedadagrad  m ← β₁ m + (1-β₁) Δ;  v ← v + Δ²;                        x ← x + η m / (√v + τ)
//   fedadam     m ← β₁ m + (1-β₁) Δ;  v ← β₂ v + (1-β₂) Δ²;              x ← x + η m / (√v + τ)
//   fedyogi     m ← β₁ m + (1-β₁) Δ;  v ← v - (1-β₂) Δ² sign(v - Δ²);   x ← x + η m / (√v + τ)
//
// As in the paper, m starts at 0 and v at τ², with no bias correction. State (m, v) has the
// shared model's schema and dtypes; it is exported as one ParameterSet (names "m/<param>",
// "v/<param>") so the coordinator checkpoints it beside the model and a resumed run continues
// exactly as an uninterrupted one. Every operation is element-wise, so the result is
// deterministic. Memory: P (fedavgm) or 2P (adaptive) values of the model's dtype.
#ifndef TAILOR_AGGREGATION_SERVER_OPTIMIZER_H_
#define TAILOR_AGGREGATION_SERVER_OPTIMIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"

namespace tailor {

struct ServerOptimizerOptions {
  // "sgd", "fedavgm", "fedadagrad", "fedadam" or "fedyogi".
  std::string name = "sgd";
  // η, > 0. The paper's adaptive methods typically use 10^-2.5 .. 1 (they tune it per task).
  double learning_rate = 1.0;
  // fedavgm's β, in [0, 1).
  double momentum = 0.9;
  // Adaptive methods: β₁ in [0, 1), β₂ in [0, 1) (unused by fedadagrad), τ > 0.
  double beta1 = 0.9;
  double beta2 = 0.99;
  double tau = 1e-3;
};

class ServerOptimizer {
 public:
  virtual ~ServerOptimizer() = default;

  // model += step(delta); returns the L2 norm of the change applied. Same schema required
  // (INVALID_ARGUMENT otherwise, model and state untouched). The first call fixes the schema
  // of the state.
  virtual absl::StatusOr<double> Step(ParameterSet* model, const ParameterSet& delta) = 0;
  // The state to checkpoint; empty for stateless rules and before the first step.
  virtual const ParameterSet& State() const = 0;
  // Restores a state exported by State() of an optimizer with the same options and model
  // schema. INVALID_ARGUMENT when names, shapes or dtypes do not match `model_schema`.
  virtual absl::Status Restore(const ParameterSet& state, const ParameterSet& model_schema) = 0;
  virtual const std::string& name() const = 0;
};

// INVALID_ARGUMENT for an unknown name or an invalid hyperparameter, naming it.
absl::Status ValidateServerOptimizerOptions(const ServerOptimizerOptions& options);
absl::StatusOr<std::unique_ptr<ServerOptimizer>> CreateServerOptimizer(
    const ServerOptimizerOptions& options);

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_SERVER_OPTIMIZER_H_
