// Personalized Soups (Jang et al. 2023, "Personalized Soups: Personalized Large Language Model
// Alignment via Post-hoc Parameter Merging") for LoRA experts: one expert per preference
// dimension, trained once, merged per user by that user's weights over the dimensions, with no
// training for the user. Torch-free: it works on parameter sets.
//
// The merge is exact in the weight deltas: each adapted projection W gets
// sum_k w_k · scale · B_k A_k, the weighted sum of the experts' own updates, rather than
// (sum w_k B_k)(sum w_k A_k) from averaging A and B apart, which adds cross terms no expert
// learned. The result is a plain model (the adapters folded in), as fast as the base.
#ifndef TAILOR_MODELS_LORA_SOUP_H_
#define TAILOR_MODELS_LORA_SOUP_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/parameter_set.h"

namespace tailor {

// `experts`: full parameter sets of one LoRA model (its base and its adapters, NAME.lora_A
// [r, in] and NAME.lora_B [out, r], and/or the personal NAME.plora_A / NAME.plora_B), the same
// base in each; `scale`: the model's alpha / rank. Returns every tensor that is not an adapter,
// each NAME.weight with its experts' weighted deltas added. INVALID_ARGUMENT when the counts
// differ, a weight is negative or not finite, the experts' bases or tensor names differ, or an
// adapter's shape does not fit its weight.
absl::StatusOr<ParameterSet> MergeLoraExperts(absl::Span<const ParameterSet* const> experts,
                                              absl::Span<const double> weights, double scale);

}  // namespace tailor

#endif  // TAILOR_MODELS_LORA_SOUP_H_
