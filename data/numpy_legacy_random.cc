#include "data/numpy_legacy_random.h"

#include <cmath>

namespace tailor {

NumpyLegacyRandom::NumpyLegacyRandom(uint32_t seed) {
  // mt19937_seed (init_genrand), which np.random.seed uses for a scalar integer.
  for (int pos = 0; pos < 624; ++pos) {
    key_[pos] = seed;
    seed = 1812433253u * (seed ^ (seed >> 30)) + static_cast<uint32_t>(pos) + 1u;
  }
  pos_ = 624;
}

void NumpyLegacyRandom::Refill() {
  constexpr uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrixA = 0x9908b0dfu;
  int i = 0;
  for (; i < 624 - 397; ++i) {
    const uint32_t y = (key_[i] & kUpper) | (key_[i + 1] & kLower);
    key_[i] = key_[i + 397] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  }
  for (; i < 623; ++i) {
    const uint32_t y = (key_[i] & kUpper) | (key_[i + 1] & kLower);
    key_[i] = key_[i + (397 - 624)] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  }
  const uint32_t y = (key_[623] & kUpper) | (key_[0] & kLower);
  key_[623] = key_[396] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  pos_ = 0;
}

uint32_t NumpyLegacyRandom::NextU32() {
  if (pos_ == 624) Refill();
  uint32_t y = key_[pos_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

double NumpyLegacyRandom::Double() {
  const int32_t a = static_cast<int32_t>(NextU32() >> 5);
  const int32_t b = static_cast<int32_t>(NextU32() >> 6);
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyLegacyRandom::StandardExponential() { return -std::log(1.0 - Double()); }

double NumpyLegacyRandom::Gauss() {
  if (has_gauss_) {
    has_gauss_ = false;
    const double t = gauss_;
    gauss_ = 0;
    return t;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * Double() - 1.0;
    x2 = 2.0 * Double() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

double NumpyLegacyRandom::StandardGamma(double shape) {
  if (shape == 1.0) return StandardExponential();
  if (shape == 0.0) return 0.0;
  if (shape < 1.0) {
    while (true) {
      const double u = Double();
      const double v = StandardExponential();
      if (u <= 1.0 - shape) {
        const double x = std::pow(u, 1.0 / shape);
        if (x <= v) return x;
      } else {
        const double y = -std::log((1 - u) / shape);
        const double x = std::pow(1.0 - shape + shape * y, 1.0 / shape);
        if (x <= v + y) return x;
      }
    }
  }
  const double b = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9 * b);
  while (true) {
    double x, v;
    do {
      x = Gauss();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = Double();
    if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return b * v;
    if (std::log(u) < 0.5 * x * x + b * (1.0 - v + std::log(v))) return b * v;
  }
}

std::vector<double> NumpyLegacyRandom::Dirichlet(const std::vector<double>& alpha) {
  std::vector<double> out(alpha.size());
  double acc = 0;
  for (size_t j = 0; j < alpha.size(); ++j) {
    out[j] = StandardGamma(alpha[j]);
    acc = acc + out[j];
  }
  const double inv = 1.0 / acc;
  for (double& x : out) x = x * inv;
  return out;
}

uint64_t NumpyLegacyRandom::Interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value;
  if (max <= 0xffffffffu) {
    while ((value = (NextU32() & mask)) > max) {
    }
  } else {
    while ((value = (((static_cast<uint64_t>(NextU32()) << 32) | NextU32()) & mask)) > max) {
    }
  }
  return value;
}

std::vector<uint32_t> NumpyLegacyRandom::Permutation(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = i;
  Shuffle(&v);
  return v;
}

double NumpyPairwiseSum(const double* a, size_t n) {
  // numpy/core/src/umath/loops_utils.h.src: pairwise_sum with an 8-way unrolled base case of
  // up to 128 elements.
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i;
    for (i = 8; i < n - (n % 8); i += 8) {
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return NumpyPairwiseSum(a, n2) + NumpyPairwiseSum(a + n2, n - n2);
}

}  // namespace tailor
