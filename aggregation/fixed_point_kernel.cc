#include "aggregation/fixed_point_kernel.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tailor {
namespace {

constexpr double kMagic = 6755399441055744.0;  // 1.5 · 2^52
constexpr double kFastLimit = kFixedPointFastLimit;

inline int64_t MagicBits() {
  int64_t bits;
  std::memcpy(&bits, &kMagic, sizeof(bits));
  return bits;
}

// One term: the integer nearest x (ties to even), valid for |x| < 2^51.
inline int64_t RoundViaMagic(double x) {
  const double shifted = x + kMagic;
  int64_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return bits - MagicBits();
}

inline uint64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<uint64_t>(a) + static_cast<uint64_t>(b);
}

// Scalar fast path, also the tail of the vector loops. `sign` is +1 to add, -1 to undo.
// Returns a nonzero flag when a term was out of range or a sum overflowed.
template <typename T>
uint64_t ScalarPass(const T* v, size_t begin, size_t end, double scale, int64_t* sums, bool undo) {
  uint64_t flags = 0;
  for (size_t i = begin; i < end; ++i) {
    const double x = static_cast<double>(v[i]) * scale;
    flags |= !(std::fabs(x) < kFastLimit);
    const int64_t q = RoundViaMagic(x);
    const int64_t a = sums[i];
    const int64_t r = static_cast<int64_t>(
        undo ? static_cast<uint64_t>(a) - static_cast<uint64_t>(q) : WrapAdd(a, q));
    if (!undo) flags |= static_cast<uint64_t>(((a ^ r) & (q ^ r)) < 0);
    sums[i] = r;
  }
  return flags;
}

__attribute__((target("avx2"))) inline __m256d LoadAsDouble(const float* p) {
  return _mm256_cvtps_pd(_mm_loadu_ps(p));
}
__attribute__((target("avx2"))) inline __m256d LoadAsDouble(const double* p) {
  return _mm256_loadu_pd(p);
}

template <typename T>
__attribute__((target("avx2"))) uint64_t Avx2Pass(const T* v, size_t n, double scale, int64_t* sums,
                                                  bool undo) {
  const __m256d vscale = _mm256_set1_pd(scale);
  const __m256d magic = _mm256_set1_pd(kMagic);
  const __m256i magic_bits = _mm256_castpd_si256(magic);
  const __m256d limit = _mm256_set1_pd(kFastLimit);
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  __m256d range_flags = _mm256_setzero_pd();
  __m256i overflow_flags = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    // The loop computes too much per byte for the hardware prefetcher to keep enough lines in
    // flight on its own: ask for the update's data ~2 KiB ahead (harmless past the end).
    _mm_prefetch(reinterpret_cast<const char*>(v + i) + 2048, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(sums + i) + 4096, _MM_HINT_T0);
    const __m256d x = _mm256_mul_pd(LoadAsDouble(v + i), vscale);
    // !(|x| < 2^51), unordered-true so that NaN is flagged.
    range_flags =
        _mm256_or_pd(range_flags, _mm256_cmp_pd(_mm256_and_pd(x, abs_mask), limit, _CMP_NLT_UQ));
    const __m256i q = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(x, magic)), magic_bits);
    __m256i* slot = reinterpret_cast<__m256i*>(sums + i);
    const __m256i a = _mm256_loadu_si256(slot);
    if (undo) {
      _mm256_storeu_si256(slot, _mm256_sub_epi64(a, q));
    } else {
      const __m256i r = _mm256_add_epi64(a, q);
      overflow_flags = _mm256_or_si256(
          overflow_flags, _mm256_and_si256(_mm256_xor_si256(a, r), _mm256_xor_si256(q, r)));
      _mm256_storeu_si256(slot, r);
    }
  }
  uint64_t flags = static_cast<uint64_t>(_mm256_movemask_pd(range_flags)) |
                   static_cast<uint64_t>(_mm256_movemask_pd(_mm256_castsi256_pd(overflow_flags)));
  return flags | ScalarPass(v, i, n, scale, sums, undo);
}

// The same terms without the checks, for callers that proved them unnecessary: half the
// instructions per value, so a fold over buffered updates is limited by memory, not compute.
template <typename T, bool kAssign>
__attribute__((target("avx2"))) void Avx2PassUnchecked(const T* v, size_t n, double scale,
                                                       int64_t* sums) {
  const __m256d vscale = _mm256_set1_pd(scale);
  const __m256d magic = _mm256_set1_pd(kMagic);
  const __m256i magic_bits = _mm256_castpd_si256(magic);
  // One 64-byte line of the update per step (16 floats or 8 doubles), with one prefetch per
  // line: the loop is otherwise too busy for the hardware prefetcher to stay ahead of it.
  constexpr size_t kStep = 64 / sizeof(T);
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    _mm_prefetch(reinterpret_cast<const char*>(v + i) + 2048, _MM_HINT_T0);
    for (size_t j = 0; j < kStep; j += 4) {
      const __m256d x = _mm256_mul_pd(LoadAsDouble(v + i + j), vscale);
      const __m256i q = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(x, magic)), magic_bits);
      __m256i* slot = reinterpret_cast<__m256i*>(sums + i + j);
      _mm256_storeu_si256(slot, kAssign ? q : _mm256_add_epi64(_mm256_loadu_si256(slot), q));
    }
  }
  if (kAssign) std::fill(sums + i, sums + n, 0);
  ScalarPass(v, i, n, scale, sums, false);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

template <typename T>
bool Accumulate(const T* v, size_t n, double scale, int64_t* sums) {
  // Chunks keep a refused input's undo cheap and local to the chunk being added.
  constexpr size_t kChunk = 1 << 16;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t len = std::min(kChunk, n - begin);
    const uint64_t flags = HasAvx2() ? Avx2Pass(v + begin, len, scale, sums + begin, false)
                                     : ScalarPass(v + begin, 0, len, scale, sums + begin, false);
    if (flags != 0) {
      // Undo this chunk and every earlier one: wrapping subtraction of the same terms.
      for (size_t b = 0; b <= begin; b += kChunk) {
        const size_t l = std::min(kChunk, n - b);
        if (HasAvx2()) {
          Avx2Pass(v + b, l, scale, sums + b, true);
        } else {
          ScalarPass(v + b, 0, l, scale, sums + b, true);
        }
      }
      return false;
    }
  }
  return true;
}

}  // namespace

bool AccumulateFixedPointFast(const float* values, size_t n, double scale, int64_t* sums) {
  return Accumulate(values, n, scale, sums);
}
bool AccumulateFixedPointFast(const double* values, size_t n, double scale, int64_t* sums) {
  return Accumulate(values, n, scale, sums);
}

namespace {

template <typename T>
void Unchecked(const T* values, size_t n, double scale, int64_t* sums, bool assign) {
  if (!HasAvx2()) {
    if (assign) std::fill(sums, sums + n, 0);
    ScalarPass(values, 0, n, scale, sums, false);
  } else if (assign) {
    Avx2PassUnchecked<T, true>(values, n, scale, sums);
  } else {
    Avx2PassUnchecked<T, false>(values, n, scale, sums);
  }
}

}  // namespace

void AccumulateFixedPointUnchecked(const float* values, size_t n, double scale, int64_t* sums,
                                   bool assign) {
  Unchecked(values, n, scale, sums, assign);
}
void AccumulateFixedPointUnchecked(const double* values, size_t n, double scale, int64_t* sums,
                                   bool assign) {
  Unchecked(values, n, scale, sums, assign);
}

const char* FixedPointKernelName() { return HasAvx2() ? "avx2" : "scalar"; }

}  // namespace tailor
