// Building blocks shared by the algorithms of client/: training a part of the model, plain
// fine-tuning, and mini-batch SGD written against LocalTrainer::Gradient for algorithms whose
// step is not plain SGD on one model. Internal to client/.
#ifndef TAILOR_CLIENT_ALGORITHM_STEPS_H_
#define TAILOR_CLIENT_ALGORITHM_STEPS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/algorithm.h"
#include "core/random.h"

namespace tailor {

// Trains `epochs` epochs with only the parameters `trainable` accepts (all when null); adds
// the steps, samples and loss to `total`.
absl::Status TrainPart(LocalTrainer& trainer, const LocalData& data, TrainOptions options,
                       int epochs, TrainableFilter trainable, uint64_t seed, TrainStats* total);

// Every parameter for `epochs` epochs of plain SGD (no DP-SGD, no proximal term: a fine-tuned
// model is only evaluated on the device, it never leaves it). With a validation split
// (data.val), it trains one epoch at a time and keeps the model of the epoch count in
// [0, epochs] with the lowest validation loss.
absl::Status FineTune(LocalTrainer& trainer, const LocalData& data, TrainOptions options,
                      int epochs, uint64_t seed);

// The mini-batches of one epoch over `indices`, shuffled by `rng`: batch_size each, the last
// incomplete one dropped when `drop_last` (as LocalTrainer::Train does).
std::vector<std::vector<uint32_t>> EpochBatches(absl::Span<const uint32_t> indices,
                                                int batch_size, bool drop_last, Rng& rng);

// Adds one batch's loss to a running mean over steps.
void AddStep(double loss, int64_t batch_size, TrainStats* stats);

// The entries of `full` named in `like`, in `like`'s order (copies).
ParameterSet Restrict(const ParameterSet& full, const ParameterSet& like);

// Stores `set` in `state` under `prefix` + name, replacing what was there under that prefix.
absl::Status PutPrefixed(absl::string_view prefix, const ParameterSet& set, ParameterSet* state);
// The entries of `state` under `prefix`, with the prefix removed.
ParameterSet GetPrefixed(absl::string_view prefix, const ParameterSet& state);

// The algorithms defined outside algorithm.cc.
std::unique_ptr<ClientAlgorithm> MakeFedRep(PersonalizationPolicy head, int head_epochs);
std::unique_ptr<ClientAlgorithm> MakeFedBabu(PersonalizationPolicy head, int finetune_epochs);
std::unique_ptr<ClientAlgorithm> MakeFineTunedFedAvg(PersonalizationPolicy policy,
                                                     int finetune_epochs);
std::unique_ptr<ClientAlgorithm> MakeDitto(PersonalizationPolicy policy, double lambda,
                                           int personal_epochs);
std::unique_ptr<ClientAlgorithm> MakeApfl(PersonalizationPolicy policy, double alpha);
std::unique_ptr<ClientAlgorithm> MakeFedBn(PersonalizationPolicy norms, bool recalibrate);
std::unique_ptr<ClientAlgorithm> MakeFedAla(std::vector<std::string> parameter_names,
                                            const AlgorithmOptions& options);

}  // namespace tailor

#endif  // TAILOR_CLIENT_ALGORITHM_STEPS_H_
