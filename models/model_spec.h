// Architectures without LibTorch: the one declaration of every model. An architecture's entry
// in the registry (model_spec.cc) turns its options into a ModelSpec — every parameter's name,
// shape and initialization, in module order — and the coordinator builds the initial global
// model from it without linking torch. The LibTorch module (models/torch_models.h) is built
// *from the spec*: it registers exactly these tensors and runs the family's forward program
// over them, so the names the coordinator distributes and the names the trainer trains cannot
// drift apart.
#ifndef TAILOR_MODELS_MODEL_SPEC_H_
#define TAILOR_MODELS_MODEL_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/parameter_set.h"
#include "core/task.h"

namespace tailor {

// A decoder-only transformer's shape (architecture "byte_transformer"). Unset fields (0) take
// the architecture's defaults.
struct TransformerOptions {
  int layers = 0;
  int d_model = 0;
  int heads = 0;
  int context = 0;
  // Hidden width of each block's MLP, as a multiple of d_model.
  int mlp_ratio = 0;
};

// LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"): each targeted
// projection W gains W + (alpha / rank) · B · A with A [rank, in] and B [out, rank], B = 0 at
// initialization. rank 0: no adapters.
struct LoraOptions {
  int rank = 0;
  double alpha = 0;  // 0: alpha = rank (a scale of 1)
  // Which projections of each block carry adapters: "q", "k", "v", "o", "mlp" (both MLP
  // layers). Empty: q and v, as in the paper.
  std::vector<std::string> targets;
  // A second adapter of this rank beside each one (`plora_A`, `plora_B`, same scale), for
  // algorithms that keep one adapter shared and one personal; 0: none. Needs rank > 0.
  int personal_rank = 0;
};

// A reward model's head over the transformer's pooled representation (architectures
// "byte_reward*", task pairwise preference). Unset fields take the defaults.
struct RewardOptions {
  // "linear" (one direction: a Bradley-Terry reward; default), "pal" (K shared prototype
  // directions mixed by personal softmax weights, as PAL), "lore" (a shared low-rank basis of
  // K directions with personal weights, as LoRe), "user" (a personal user embedding mapped to a
  // direction by a shared projection, as P-RLHF; zero, the generic user, at initialization).
  std::string head;
  int prototypes = 0;  // K for pal and lore; default 4
  int user_dim = 0;    // the user embedding's size for user; default 8
  // What the head reads: "end" (the hidden state at the candidate's end-of-text token; default)
  // or "mean" (the mean hidden state over the sequence through that token: rates such as
  // punctuation per byte are then one linear read away).
  std::string pool;
  // byte_dpo: DPO's beta, the implicit reward being beta · log(pi(x) / pi_ref(x)); default 0.1.
  double beta = 0;
  bool any() const { return !head.empty() || prototypes || user_dim || !pool.empty() || beta; }
};

struct ModelOptions {
  std::string architecture;
  TransformerOptions transformer;
  LoraOptions lora;
  RewardOptions reward;
};

struct ParameterSpec {
  enum class Init { kUniformFanIn, kOnes, kZeros, kNormal };
  std::string name;
  std::vector<int64_t> shape;
  // Fan-in of the layer the parameter belongs to; kUniformFanIn is U(±1/sqrt(fan_in)),
  // PyTorch's default for Linear and Conv2d weights and biases. Batch norm starts at weight 1,
  // bias 0, running mean 0 and running variance 1, as in PyTorch.
  int64_t fan_in = 1;
  Init init = Init::kUniformFanIn;
  // A buffer (batch-norm running statistics): part of the model, moved and stored like a
  // parameter, but not trained by gradients.
  bool buffer = false;
  // kNormal: N(0, normal_std²) (GPT-2's initialization for transformer weights).
  double normal_std = 0;
};

struct ModelSpec {
  std::string architecture;
  // Which forward program of models/torch_models.cc runs the parameters.
  std::string family;
  TaskKind task = TaskKind::kImageClassification;
  // The options the spec was built from (defaults filled in).
  ModelOptions options;
  // In module registration order (the order of named_parameters()).
  std::vector<ParameterSpec> parameters;
  // Glob patterns selecting the classifier head (FedPer's personal part).
  std::vector<std::string> head_patterns;
  // Glob patterns selecting the normalization layers (FedBN's personal part); empty when the
  // model has none.
  std::vector<std::string> norm_patterns;
  // Glob patterns selecting LoRA adapters; empty without LoRA.
  std::vector<std::string> lora_patterns;
  // Glob patterns selecting the second, personal adapters (LoraOptions::personal_rank).
  std::vector<std::string> personal_lora_patterns;
  // Classes (image classifiers) or the vocabulary size (language models).
  int num_classes = 0;
  // The names of the trained parameters (not buffers), in order.
  std::vector<std::string> TrainableNames() const;
  int64_t ParameterCount() const;
};

// The registry: the spec of `options.architecture` with its options checked (INVALID_ARGUMENT
// naming the option, e.g. "transformer.heads"), NOT_FOUND for an unknown architecture.
absl::StatusOr<ModelSpec> BuildModelSpec(const ModelOptions& options);
// An architecture with its default options.
absl::StatusOr<ModelSpec> GetModelSpec(const std::string& architecture);
// Every registered architecture, in registry order, with a one-line summary each.
struct ArchitectureInfo {
  std::string name;
  std::string summary;
};
const std::vector<ArchitectureInfo>& Architectures();

// Deterministic initial parameters for `spec` from `seed` (Tailor's own RNG, so coordinator
// and clients agree bit for bit without exchanging the model).
ParameterSet InitialParameters(const ModelSpec& spec, uint64_t seed);

}  // namespace tailor

#endif  // TAILOR_MODELS_MODEL_SPEC_H_
