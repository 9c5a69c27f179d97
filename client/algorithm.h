// ClientAlgorithm: a personalization method's client side. It decides which parameters are
// personal (the policy) and how local training runs (which parameters train, for how long).
// The round logic never sees algorithms: adding FedRep or Ditto means a new subclass here and
// a name in CreateClientAlgorithm, nothing in server/ or sim/.
#ifndef TAILOR_CLIENT_ALGORITHM_H_
#define TAILOR_CLIENT_ALGORITHM_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/local_trainer.h"
#include "core/personalization_policy.h"
#include "models/model_spec.h"

namespace tailor {

struct LocalData {
  const ImageDataset* pool = nullptr;
  absl::Span<const uint32_t> train;
  absl::Span<const uint32_t> test;
};

class ClientAlgorithm {
 public:
  virtual ~ClientAlgorithm() = default;

  virtual std::string name() const = 0;
  // Which parameters stay on the client.
  virtual const PersonalizationPolicy& policy() const = 0;
  // False for local-only training: nothing is uploaded and the global model is never used.
  virtual bool federated() const { return true; }
  // Whether the shared parameters alone form a complete model worth evaluating as "the global
  // model" (true when nothing is personal).
  bool has_global_model() const { return policy().patterns().empty(); }

  // Local training of one round. The trainer holds the client's starting model (the global
  // shared parameters merged with its personal ones).
  virtual absl::StatusOr<TrainStats> TrainLocally(LocalTrainer& trainer, const LocalData& data,
                                                  const TrainOptions& options,
                                                  uint64_t seed) const;
};

// `name`: "fedavg", "fedper", "local". `personal_patterns` overrides the algorithm's default
// personal part when non-empty (FedPer's default is the model's head).
absl::StatusOr<std::unique_ptr<ClientAlgorithm>> CreateClientAlgorithm(
    const std::string& name, const ModelSpec& model,
    const std::vector<std::string>& personal_patterns);

}  // namespace tailor

#endif  // TAILOR_CLIENT_ALGORITHM_H_
