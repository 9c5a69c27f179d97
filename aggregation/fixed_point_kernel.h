// The inner loop of the exact weighted mean (aggregation/weighted_mean.h): sums[i] +=
// round(values[i] · scale) in int64, where scale = weight · 2^32.
//
// Fast path: while |values[i] · scale| < 2^51, the product is rounded to an integer by adding
// 1.5·2^52 (the FPU's round-to-nearest-even, identical to std::nearbyint) and the integer read
// from the double's mantissa bits. With AVX2 that is 4 elements per instruction and the loop
// runs at memory speed. Additions wrap (two's complement), and overflow is detected from the
// signs, so a failed chunk is undone exactly by wrapping subtraction of the same terms.
//
// The result is bit-identical to the scalar reference for every input the fast path accepts;
// inputs it refuses (a term of 2^51 or more, NaN, or an int64 overflow) are left to the caller's
// exact slow path, which reports them.
#ifndef TAILOR_AGGREGATION_FIXED_POINT_KERNEL_H_
#define TAILOR_AGGREGATION_FIXED_POINT_KERNEL_H_

#include <cstddef>
#include <cstdint>

namespace tailor {

// Adds the terms and returns true; or returns false with `sums` unchanged.
bool AccumulateFixedPointFast(const float* values, size_t n, double scale, int64_t* sums);
bool AccumulateFixedPointFast(const double* values, size_t n, double scale, int64_t* sums);

// The same sums for inputs already proven to fit (every |values[i] · scale| < 2^51 and no sum
// can overflow, e.g. from Tensor::MaxAbs and a running bound): no checks, about twice as fast.
// `assign`: sums[i] = the term instead of +=, for the first update folded into fresh sums.
void AccumulateFixedPointUnchecked(const float* values, size_t n, double scale, int64_t* sums,
                                   bool assign = false);
void AccumulateFixedPointUnchecked(const double* values, size_t n, double scale, int64_t* sums,
                                   bool assign = false);

// The largest |term| the fast path accepts: 2^51.
constexpr double kFixedPointFastLimit = 2251799813685248.0;

// "avx2" or "scalar": the path AccumulateFixedPointFast takes on this machine.
const char* FixedPointKernelName();

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_FIXED_POINT_KERNEL_H_
