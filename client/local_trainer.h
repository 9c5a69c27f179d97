// LocalTrainer: trains and evaluates one model instance on a client's local data. The only
// client-side interface that touches LibTorch is its implementation (torch_trainer.cc); this
// header is torch-free so the runtime, algorithms and tests around it compile fast.
//
// Not thread-safe: each worker thread (or daemon) owns one trainer and reuses it across
// clients, loading each client's parameters before training.
#ifndef TAILOR_CLIENT_LOCAL_TRAINER_H_
#define TAILOR_CLIENT_LOCAL_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/parameter_set.h"
#include "data/image_dataset.h"

namespace tailor {

// Which parameters an optimization step may change.
using TrainableFilter = std::function<bool(const std::string& name)>;

struct TrainOptions {
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
  // How the shared update is compressed for upload (core/update_codec.h): "none", "fp16",
  // "bf16", "int8" or "topk" (with topk_fraction of each tensor sent).
  std::string upload_codec = "none";
  double topk_fraction = 0.01;
  // Differential privacy (privacy/clipping.h): when > 0 the shared update is clipped to this
  // L2 norm before it is encoded, and the upload says whether it was within it already.
  double clip_norm = 0;
};

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

  // `architecture` as in models/model_spec.h.
  static absl::StatusOr<std::unique_ptr<LocalTrainer>> Create(const std::string& architecture);

  // Overwrites the named parameters (a full set or any subset). INVALID_ARGUMENT for an unknown
  // name or a wrong shape.
  virtual absl::Status Load(const ParameterSet& params) = 0;
  // All parameters and buffers, in registration order.
  virtual ParameterSet Snapshot() const = 0;

  // SGD over `indices` of `pool` for options.epochs epochs, shuffled by `seed`, updating only
  // parameters accepted by `trainable` (all when null). Pixels are scaled to [-1, 1].
  virtual absl::StatusOr<TrainStats> Train(const ImageDataset& pool,
                                           absl::Span<const uint32_t> indices,
                                           const TrainOptions& options,
                                           const TrainableFilter& trainable, uint64_t seed) = 0;

  virtual absl::StatusOr<EvalStats> Evaluate(const ImageDataset& pool,
                                             absl::Span<const uint32_t> indices) = 0;
};

// Sets LibTorch's intra-op thread count for the calling thread: OpenMP keeps the count per
// thread, so each worker thread that trains must call it.
void SetTorchThreads(int intra_op_threads);

}  // namespace tailor

#endif  // TAILOR_CLIENT_LOCAL_TRAINER_H_
