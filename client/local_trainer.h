// LocalTrainer: trains and evaluates one model instance on a client's local data. The only
// client-side interface that touches LibTorch is its implementation (torch_trainer.cc); this
// header is torch-free so the runtime, algorithms and tests around it compile fast.
//
// Not thread-safe: each worker thread (or daemon) owns one trainer and reuses it across
// clients, loading each client's parameters before training.
#ifndef TAILOR_CLIENT_LOCAL_TRAINER_H_
#define TAILOR_CLIENT_LOCAL_TRAINER_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/parameter_set.h"
#include "data/example_pool.h"
#include "models/generation_options.h"
#include "models/model_spec.h"

namespace tailor {

// Which parameters an optimization step may change.
using TrainableFilter = std::function<bool(const std::string& name)>;

// The private randomness of sample-level DP-SGD: record sampling and gradient noise must come
// from a generator the coordinator cannot predict (privacy/secure_random.h behind it), never
// from the task seed.
class PrivateCoins {
 public:
  virtual ~PrivateCoins() = default;
  // True with probability p (a 53-bit dyadic rational rounded down).
  virtual bool Bernoulli(double p) = 0;
  // n independent N(0, 1) values.
  virtual void FillStandardNormal(float* out, size_t n) = 0;
};

struct TrainOptions {
  // Parameters no step may change whatever `trainable` says (the policy's frozen base, e.g.
  // the pretrained weights under a LoRA algorithm). Null: none.
  TrainableFilter frozen;
  double learning_rate = 0.005;
  int batch_size = 10;
  int epochs = 1;
  double momentum = 0;
  double weight_decay = 0;
  // Skip the last incomplete batch of each epoch (PyTorch DataLoader's drop_last).
  bool drop_last = true;
  // FedProx (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020): adds
  // (mu/2)·||w - w_start||² to the local loss for the parameters `proximal` accepts (all
  // trainable ones when null), w_start being their values when training begins (the global
  // model, for shared parameters). 0: no proximal term.
  double proximal_mu = 0;
  TrainableFilter proximal;
  // The point the proximal term pulls toward, by name, instead of the start values (Ditto pulls
  // the personal model toward the global one). Not owned; parameters it lacks use their start
  // values.
  const ParameterSet* proximal_anchor = nullptr;
  // How the shared update is compressed for upload (core/update_codec.h): "none", "fp16",
  // "bf16", "int8" or "topk" (with topk_fraction of each tensor sent).
  std::string upload_codec = "none";
  double topk_fraction = 0.01;
  // Differential privacy (privacy/clipping.h): when > 0 the shared update is clipped to this
  // L2 norm before it is encoded, and the upload says whether it was within it already.
  double clip_norm = 0;
  // Sample-level DP-SGD (Abadi et al., "Deep Learning with Differential Privacy", CCS 2016),
  // when dp_sgd_clip_norm > 0: each step trains on a Poisson sample of the local records at
  // rate batch_size / n (epochs · n / batch_size steps), clips every example's gradient to
  // dp_sgd_clip_norm, adds N(0, (z·C)²) to each coordinate of the sum and divides by
  // batch_size. It protects each record even from the client's own uploads. The coins come
  // from `dp_sgd_coins` (not owned; required then).
  double dp_sgd_clip_norm = 0;
  double dp_sgd_noise_multiplier = 0;
  PrivateCoins* dp_sgd_coins = nullptr;
  // δ of the record-level ε each client reports. Default 1e-5.
  double dp_sgd_delta = 1e-5;
};

// DP-SGD's Poisson sampling rate of records per step: batch_size / n, at most 1.
inline double DpSgdSamplingRate(int batch_size, size_t n) {
  return n == 0 ? 1.0 : std::min(1.0, static_cast<double>(batch_size) / static_cast<double>(n));
}

struct TrainStats {
  // Mean training loss over the steps taken (0 when no step was taken).
  double mean_loss = 0;
  int64_t steps = 0;
  int64_t samples = 0;
};

struct EvalStats {
  int64_t correct = 0;
  int64_t count = 0;
  double loss_sum = 0;  // summed cross-entropy over the samples
};

class LocalTrainer {
 public:
  virtual ~LocalTrainer() = default;

  // A trainer for the model `spec` declares (models/model_spec.h), or for an architecture
  // with its default options.
  static absl::StatusOr<std::unique_ptr<LocalTrainer>> Create(const ModelSpec& spec);
  static absl::StatusOr<std::unique_ptr<LocalTrainer>> Create(const std::string& architecture);

  // Overwrites the named parameters (a full set or any subset). INVALID_ARGUMENT for an unknown
  // name or a wrong shape.
  virtual absl::Status Load(const ParameterSet& params) = 0;
  // All parameters and buffers, in registration order.
  virtual ParameterSet Snapshot() const = 0;

  // SGD over `indices` of `pool` for options.epochs epochs, shuffled by `seed`, updating only
  // parameters accepted by `trainable` (all when null). Pixels are scaled to [-1, 1].
  virtual absl::StatusOr<TrainStats> Train(const ExamplePool& pool,
                                           absl::Span<const uint32_t> indices,
                                           const TrainOptions& options,
                                           const TrainableFilter& trainable, uint64_t seed) = 0;

  virtual absl::StatusOr<EvalStats> Evaluate(const ExamplePool& pool,
                                             absl::Span<const uint32_t> indices) = 0;

  // The gradient of the mean cross-entropy over `batch` at the loaded parameters (training
  // mode: normalization layers use, and update, batch statistics), one entry per parameter
  // (no buffers), in Snapshot() order. Sets *loss to that mean loss. Algorithms whose step is
  // not plain SGD on one model (APFL's mixed model, FedALA's aggregation weights) build it
  // from this.
  virtual absl::StatusOr<ParameterSet> Gradient(const ExamplePool& pool,
                                                absl::Span<const uint32_t> batch,
                                                double* loss) = 0;

  // Continues `prompt` with the loaded language model (models/torch_transformer.h: the
  // generated bytes only). INVALID_ARGUMENT for a model that is not a language model.
  virtual absl::StatusOr<std::string> Generate(const std::string& prompt,
                                               const GenerationOptions& options) {
    return absl::UnimplementedError("this trainer does not generate text");
  }
  // The same, each step reward-guided by `guide` (GenerationOptions::guide_weight; ARGS), a
  // fresh guide (its text so far empty) that follows the text as it grows.
  virtual absl::StatusOr<std::string> GenerateGuided(const std::string& prompt,
                                                     const GenerationOptions& options,
                                                     TextGuide& guide) {
    return absl::UnimplementedError("this trainer does not generate text");
  }

  // The loaded reward model's reward for each text as an answer to `prompt` (empty: none), read
  // as a preference pair's candidates are. INVALID_ARGUMENT for a model that is not a reward
  // model.
  virtual absl::StatusOr<std::vector<double>> Reward(const std::string& prompt,
                                                     const std::vector<std::string>& texts) {
    return absl::UnimplementedError("this trainer does not score text");
  }

  // The loaded reward model as a guide for reward-guided decoding of an answer to `prompt`:
  // the same rewards as Reward(prompt, text so far + next byte), from a key/value cache of the
  // text so far (about two positions per next byte scored instead of the whole text). The
  // guide reads this trainer's model: use it before the next Load. INVALID_ARGUMENT for a model
  // that is not a reward model.
  virtual absl::StatusOr<std::unique_ptr<TextGuide>> RewardGuide(const std::string& prompt) {
    return absl::UnimplementedError("this trainer does not score text");
  }

  // Re-estimates the normalization layers' running statistics for the loaded parameters: the
  // exact average of batch statistics over `indices` in batches of `batch_size`, no gradient
  // step. FedBN uses it before evaluation, when the shared layers under a client's own
  // statistics have just been replaced by the aggregate. No-op for a model without
  // normalization layers.
  virtual absl::Status RecalibrateNormalization(const ExamplePool& pool,
                                                absl::Span<const uint32_t> indices,
                                                int batch_size) {
    return absl::OkStatus();
  }
};

// MOD-style decoding from several loaded language models over the same bytes
// (models/torch_transformer.h GenerateMixture): each next byte from sum_k weights[k] log p_k.
// Personalized Soups' experts mixed at decoding time instead of in their parameters.
absl::StatusOr<std::string> GenerateMixture(absl::Span<LocalTrainer* const> models,
                                            absl::Span<const double> weights,
                                            const std::string& prompt,
                                            const GenerationOptions& options);

// Sets LibTorch's intra-op thread count for the calling thread: OpenMP keeps the count per
// thread, so each worker thread that trains must call it.
void SetTorchThreads(int intra_op_threads);

}  // namespace tailor

#endif  // TAILOR_CLIENT_LOCAL_TRAINER_H_
