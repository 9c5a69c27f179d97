// Causal multi-head self-attention as one autograd operation with its own backward, for the
// byte transformer's full-sequence forward (training and scoring).
//
// Why not three LibTorch ops (matmul, masked softmax, matmul): on CPU most of an LM step is
// GEMM, and the composed version spends GEMM time on the upper triangle the mask then throws
// away, materializes the scores three times (scaled, masked, softmaxed) and copies each head
// out of and back into [batch, time, d_model]. This kernel multiplies only the causal block
// triangle, reads and writes the heads in place through the BLAS leading dimension, and fuses
// scale, mask and softmax into one pass over each row (and the softmax backward into one
// more). The arithmetic is the same: outputs and gradients match the composed version to
// rounding (tests/models/torch_models_test.cc).
//
// LibTorch 1.13 has no fused attention on CPU (PyTorch 2's scaled_dot_product_attention).
#ifndef TAILOR_MODELS_CAUSAL_ATTENTION_H_
#define TAILOR_MODELS_CAUSAL_ATTENTION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tailor {

// q, k, v: [batch, time, heads · head_dim] (float32 or float64, CPU; any strides) → the
// attended values [batch, time, heads · head_dim], contiguous, with query i seeing keys 0..i.
// Scores are scaled by 1/sqrt(head_dim). Differentiable in q, k and v.
at::Tensor CausalSelfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               int64_t heads);

// The same attention composed of LibTorch operations (the reference the kernel is tested and
// benchmarked against).
at::Tensor ComposedCausalSelfAttention(const at::Tensor& q, const at::Tensor& k,
                                       const at::Tensor& v, int64_t heads);

}  // namespace tailor

#endif  // TAILOR_MODELS_CAUSAL_ATTENTION_H_
