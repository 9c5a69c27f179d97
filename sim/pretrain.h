// Pretraining the base language model: centralized SGD on the training clients' train splits
// (never a val or test text, never a held-out client's text), written as a parameter file that
// experiments start from (model.initial_model) and the coordinator distributes. Progress
// (loss, bits per byte on the training clients' val texts, tokens/s), a checkpoint at every
// validation, and resume from the last checkpoint.
#ifndef TAILOR_SIM_PRETRAIN_H_
#define TAILOR_SIM_PRETRAIN_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"
#include "data/federated_dataset.h"
#include "tailor/config.pb.h"

namespace tailor {

// The text pretraining may see: the train splits of clients [0, size - held_out). The held-out
// clients are the last ids (data/text_dataset.h), and val and test splits are never included.
std::vector<uint32_t> PretrainingIndices(const FederatedDataset& data, int64_t held_out);
// The val splits of the same clients (what pretraining validates on).
std::vector<uint32_t> PretrainingValidationIndices(const FederatedDataset& data, int64_t held_out);

struct PretrainResult {
  std::string output;
  int64_t steps = 0;
  double val_bpb = 0;
  double tokens_per_second = 0;
  bool resumed = false;
};

// How many steps the pretraining checkpoint at `output` has taken (its "<output>.json");
// NOT_FOUND when there is none (a model file from elsewhere, or nothing yet).
absl::StatusOr<int64_t> PretrainedSteps(const std::string& output, Env* env);

// Runs `config`'s pretraining (config.pretrain; data, model, train and seed as in the
// experiment). `progress` (may be null) gets one line per validation.
absl::StatusOr<PretrainResult> RunPretraining(const config::ExperimentConfig& config, Env* env,
                                              std::FILE* progress);

}  // namespace tailor

#endif  // TAILOR_SIM_PRETRAIN_H_
