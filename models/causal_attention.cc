#include "models/causal_attention.h"

#include <ATen/Parallel.h>
#include <cblas.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace tailor {
namespace {

// Query rows are processed in blocks of this many: block b multiplies against keys
// 0..end(b) only, so a 256-token sequence does 10/16 of the full score product. Smaller
// blocks skip more of the triangle but make GEMMs too small to run at full speed.
constexpr int64_t kQueryBlock = 64;

// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C. The BLAS is the one LibTorch calls (the
// libblas.so.3 the system selects: OpenBLAS here); ATen does not export its own wrapper.
template <typename T>
void RowGemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
             int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, im, in, ik, alpha, a, static_cast<int>(lda), b,
                static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, im, in, ik, alpha, a, static_cast<int>(lda), b,
                static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
  }
}

// exp(x) for x <= 0 in float, written so the compiler vectorizes the loops that call it
// (libm's expf is a scalar call; the softmax does one per score). Cody–Waite reduction
// x = n·ln2 + r, |r| <= ln2/2, and Cephes' degree-6 polynomial for e^r: within 2 ulp of
// expf over the range softmax uses. Inputs below -87 flush to ~1e-38 instead of 0.
inline float ExpNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const int32_t n = static_cast<int32_t>(x * 1.44269504088896341f - 0.5f);  // round(x/ln2)
  const float nf = static_cast<float>(n);
  const float r = (x - nf * 0.693359375f) + nf * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t bits = (n + 127) << 23;  // 2^n as a float's bit pattern
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return er * two_n;
}

// row[0..valid) holds scaled scores; leaves their softmax there and zeros in [valid, width),
// the masked positions of this query block.
__attribute__((target_clones("avx512f", "avx2", "default"))) void SoftmaxRow(float* row,
                                                                             int64_t valid,
                                                                             int64_t width) {
  float top = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : top)
  for (int64_t j = 0; j < valid; ++j) top = std::max(top, row[j]);
  float total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t j = 0; j < valid; ++j) {
    row[j] = ExpNonPositive(row[j] - top);
    total += row[j];
  }
  const float inv = 1.0f / total;
#pragma omp simd
  for (int64_t j = 0; j < valid; ++j) row[j] *= inv;
  std::fill(row + valid, row + width, 0.0f);
}

void SoftmaxRow(double* row, int64_t valid, int64_t width) {
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < valid; ++j) top = std::max(top, row[j]);
  double total = 0;
  for (int64_t j = 0; j < valid; ++j) total += row[j] = std::exp(row[j] - top);
  for (int64_t j = 0; j < valid; ++j) row[j] /= total;
  std::fill(row + valid, row + width, 0.0);
}

// Softmax backward for one row, in place over dp: dS_j = P_j·(dP_j − Σ_i P_i dP_i), where the
// sum equals dO·O (head_dim terms instead of one per key).
template <typename T>
void SoftmaxBackwardRowImpl(const T* p, T* dp, const T* d_out, const T* out, int64_t width,
                            int64_t head_dim) {
  T delta = 0;
#pragma omp simd reduction(+ : delta)
  for (int64_t d = 0; d < head_dim; ++d) delta += d_out[d] * out[d];
#pragma omp simd
  for (int64_t j = 0; j < width; ++j) dp[j] = p[j] * (dp[j] - delta);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void SoftmaxBackwardRow(
    const float* p, float* dp, const float* d_out, const float* out, int64_t width,
    int64_t head_dim) {
  SoftmaxBackwardRowImpl(p, dp, d_out, out, width, head_dim);
}

void SoftmaxBackwardRow(const double* p, double* dp, const double* d_out, const double* out,
                        int64_t width, int64_t head_dim) {
  SoftmaxBackwardRowImpl(p, dp, d_out, out, width, head_dim);
}

// The shapes of one call: tensors are [batch, time, model] row-major, head h of row t at
// offset t·model + h·head_dim; probabilities are [batch, heads, time, time].
struct Shape {
  int64_t batch, time, heads, head_dim, model;
  int64_t Rows(int64_t b, int64_t h) const { return b * time * model + h * head_dim; }
  int64_t Probs(int64_t b, int64_t h) const { return (b * heads + h) * time * time; }
};

Shape ShapeOf(const at::Tensor& q, int64_t heads) {
  Shape s;
  s.batch = q.size(0);
  s.time = q.size(1);
  s.model = q.size(2);
  s.heads = heads;
  s.head_dim = s.model / heads;
  return s;
}

// Runs fn(b, h) for every batch row and head, spread over LibTorch's intra-op threads (each
// BLAS call then runs on its caller's thread: OpenBLAS does not nest inside OpenMP).
template <typename Fn>
void ForEachHead(const Shape& s, Fn fn) {
  at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i / s.heads, i % s.heads);
  });
}

template <typename T>
void Forward(const Shape& s, const T* q, const T* k, const T* v, T* out, T* probs) {
  const T scale = T(1) / std::sqrt(static_cast<T>(s.head_dim));
  ForEachHead(s, [&](int64_t b, int64_t h) {
    const int64_t rows = s.Rows(b, h), ld = s.model, t = s.time;
    T* p = probs + s.Probs(b, h);
    for (int64_t r0 = 0; r0 < t; r0 += kQueryBlock) {
      const int64_t r1 = std::min(r0 + kQueryBlock, t), m = r1 - r0;
      RowGemm<T>(false, true, m, r1, s.head_dim, scale, q + rows + r0 * ld, ld, k + rows, ld, T(0),
                 p + r0 * t, t);
      for (int64_t r = r0; r < r1; ++r) SoftmaxRow(p + r * t, r + 1, r1);
      RowGemm<T>(false, false, m, s.head_dim, r1, T(1), p + r0 * t, t, v + rows, ld, T(0),
                 out + rows + r0 * ld, ld);
    }
  });
}

template <typename T>
void Backward(const Shape& s, const T* q, const T* k, const T* v, const T* out, const T* probs,
              const T* d_out, T* dq, T* dk, T* dv) {
  const T scale = T(1) / std::sqrt(static_cast<T>(s.head_dim));
  at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> ds(static_cast<size_t>(std::min(kQueryBlock, s.time) * s.time));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / s.heads, h = i % s.heads;
      const int64_t rows = s.Rows(b, h), ld = s.model, t = s.time;
      const T* p = probs + s.Probs(b, h);
      for (int64_t r0 = 0; r0 < t; r0 += kQueryBlock) {
        const int64_t r1 = std::min(r0 + kQueryBlock, t), m = r1 - r0;
        // dP = dO·V^T over the block's keys, then dS in place.
        RowGemm<T>(false, true, m, r1, s.head_dim, T(1), d_out + rows + r0 * ld, ld, v + rows, ld,
                   T(0), ds.data(), r1);
        for (int64_t r = r0; r < r1; ++r) {
          SoftmaxBackwardRow(p + r * t, ds.data() + (r - r0) * r1, d_out + rows + r * ld,
                             out + rows + r * ld, r1, s.head_dim);
        }
        // dQ = scale·dS·K; dK += scale·dS^T·Q; dV += P^T·dO.
        RowGemm<T>(false, false, m, s.head_dim, r1, scale, ds.data(), r1, k + rows, ld, T(0),
                   dq + rows + r0 * ld, ld);
        RowGemm<T>(true, false, r1, s.head_dim, m, scale, ds.data(), r1, q + rows + r0 * ld, ld,
                   T(1), dk + rows, ld);
        RowGemm<T>(true, false, r1, s.head_dim, m, T(1), p + r0 * t, t, d_out + rows + r0 * ld, ld,
                   T(1), dv + rows, ld);
      }
    }
  });
}

class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q_in,
                            const at::Tensor& k_in, const at::Tensor& v_in, int64_t heads) {
    const at::Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const Shape s = ShapeOf(q, heads);
    at::Tensor out = at::empty_like(q);
    at::Tensor probs = at::empty({s.batch, s.heads, s.time, s.time}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "CausalSelfAttention", [&] {
      Forward<scalar_t>(s, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                        out.data_ptr<scalar_t>(), probs.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({q, k, v, out, probs});
    ctx->saved_data["heads"] = heads;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3],
                     &probs = saved[4];
    const at::Tensor d_out = grads[0].contiguous();
    const Shape s = ShapeOf(q, ctx->saved_data["heads"].toInt());
    at::Tensor dq = at::empty_like(q), dk = at::zeros_like(k), dv = at::zeros_like(v);
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "CausalSelfAttentionBackward", [&] {
      Backward<scalar_t>(s, q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                         out.data_ptr<scalar_t>(), probs.data_ptr<scalar_t>(),
                         d_out.data_ptr<scalar_t>(), dq.data_ptr<scalar_t>(),
                         dk.data_ptr<scalar_t>(), dv.data_ptr<scalar_t>());
    });
    return {dq, dk, dv, at::Tensor()};
  }
};

}  // namespace

at::Tensor CausalSelfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               int64_t heads) {
  TORCH_CHECK(q.dim() == 3 && q.sizes() == k.sizes() && q.sizes() == v.sizes(),
              "attention wants q, k, v of one [batch, time, model] shape, got ", q.sizes(), ", ",
              k.sizes(), ", ", v.sizes());
  TORCH_CHECK(heads > 0 && q.size(2) % heads == 0, "model width ", q.size(2),
              " is not divisible into ", heads, " heads");
  TORCH_CHECK(q.device().is_cpu(), "the attention kernel runs on CPU");
  return CausalAttentionFunction::apply(q, k, v, heads);
}

at::Tensor ComposedCausalSelfAttention(const at::Tensor& q, const at::Tensor& k,
                                       const at::Tensor& v, int64_t heads) {
  const int64_t batch = q.size(0), n = q.size(1), model = q.size(2), head_dim = model / heads;
  auto split = [&](const at::Tensor& x) {
    return x.view({batch, n, heads, head_dim}).transpose(1, 2);
  };
  at::Tensor mask = torch::ones({n, n}, torch::kBool).triu(1);
  at::Tensor scores = torch::matmul(split(q), split(k).transpose(-2, -1)) *
                      (1.0 / std::sqrt(static_cast<double>(head_dim)));
  scores = scores.masked_fill(mask, -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(scores, -1), split(v))
      .transpose(1, 2)
      .reshape({batch, n, model});
}

}  // namespace tailor
