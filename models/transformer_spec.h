// The byte-level decoder-only transformer's declaration: its vocabulary and the parameters its
// options imply. Registered in model_spec.cc as "byte_transformer" (≈3.4M parameters, small
// enough to train on 2 cores) and "byte_transformer_tiny" (for tests).
#ifndef TAILOR_MODELS_TRANSFORMER_SPEC_H_
#define TAILOR_MODELS_TRANSFORMER_SPEC_H_

#include "absl/status/statusor.h"
#include "models/model_spec.h"

namespace tailor {

// Tokens are bytes 0..255 plus a beginning-of-text and an end-of-text token: every byte string
// is representable, nothing is out of vocabulary, and bits per byte need no tokenizer.
inline constexpr int kBosToken = 256;
inline constexpr int kEosToken = 257;
inline constexpr int kByteVocabulary = 258;

// Pre-norm blocks (x + attn(ln1(x)), x + mlp(ln2(x))), causal multi-head self-attention with
// bias-free q/k/v/o projections, a GELU MLP, learned positions, a final layer norm and an
// untied output head (`lm_head.weight`, selectable on its own). GPT-2's initialization:
// N(0, 0.02) weights, residual projections (attn.o, mlp.proj) scaled by 1/sqrt(2·layers).
// Parameter names: tok_emb.weight, pos_emb.weight, blocks.<i>.{ln1,ln2}.{weight,bias},
// blocks.<i>.attn.{q,k,v,o}.weight, blocks.<i>.mlp.{fc,proj}.{weight,bias}, ln_f.{weight,bias},
// lm_head.weight, and per LoRA target <projection>.lora_A / <projection>.lora_B (and
// <projection>.plora_A / .plora_B with lora.personal_rank).
absl::StatusOr<ModelSpec> ByteTransformerSpec(const ModelOptions& options);
absl::StatusOr<ModelSpec> TinyByteTransformerSpec(const ModelOptions& options);

}  // namespace tailor

#endif  // TAILOR_MODELS_TRANSFORMER_SPEC_H_
