// Reward models for pairwise preferences (issue 16): the byte transformer's body (its tensors
// by the same names, lm_head included, so a pretrained language model loads as the body) and a
// reward head over the hidden state at the candidate's end-of-text token (the last token a
// causal model reads, so it has seen the whole text). Registered as "byte_reward" and
// "byte_reward_tiny" (the byte transformer's two sizes).
//
// Head tensors by model.reward.head, and the part each keeps personal (spec.head_patterns, so
// FedPer-style algorithms give the method; fedavg gives one global reward, local one per user):
//   linear  reward.w [d]                                           personal: reward.*
//   pal     reward.prototypes [K, d], reward.mix [K]                personal: reward.mix
//   lore    reward.basis [K, d], reward.weights [K]                 personal: reward.weights
//   user    reward.w [d], reward.user_proj [e, d], reward.user [e]  personal: reward.user
// r(x) = w·h (linear); softmax(mix)·(P h) (pal); weights·(B h) (lore); (w + user·U)·h (user).
#ifndef TAILOR_MODELS_REWARD_SPEC_H_
#define TAILOR_MODELS_REWARD_SPEC_H_

#include "absl/status/statusor.h"
#include "models/model_spec.h"

namespace tailor {

absl::StatusOr<ModelSpec> ByteRewardSpec(const ModelOptions& options);
absl::StatusOr<ModelSpec> TinyByteRewardSpec(const ModelOptions& options);

// DPO (Rafailov et al. 2023) as a reward model: the byte transformer with LoRA adapters, whose
// implicit reward of a candidate is beta · (log pi(x | prompt) - log pi_ref(x | prompt)), pi
// the model with its adapters and pi_ref the same base without them (the frozen reference).
// Bradley-Terry's loss on that reward is DPO's loss, so the preference task trains it and
// pairwise accuracy measures it; the tuned model still generates. Registered as "byte_dpo"
// and "byte_dpo_tiny"; model.lora.rank defaults to 4; model.reward.beta to 0.1. The LoRA
// algorithms pick what is personal: oppu a personal adapter (per-user DPO), dual_lora shared
// and personal adapters (P-DPO-style), fedit one shared adapter (global DPO).
absl::StatusOr<ModelSpec> ByteDpoSpec(const ModelOptions& options);
absl::StatusOr<ModelSpec> TinyByteDpoSpec(const ModelOptions& options);

}  // namespace tailor

#endif  // TAILOR_MODELS_REWARD_SPEC_H_
