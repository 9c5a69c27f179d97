#include "privacy/discrete_gaussian.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

// exp(-num/den) for num <= den: the parity of the first K with Bernoulli(γ/K) = 0.
bool BernoulliExpMinusAtMostOne(SecureRandom& rng, uint128 num, uint128 den) {
  uint64_t k = 1;
  while (rng.Bernoulli(num, den * k)) ++k;
  return (k & 1) == 1;
}

uint64_t FloorSqrt(uint64_t s) {
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<double>(s)));
  while (r > 0 && static_cast<uint128>(r) * r > s) --r;
  while (static_cast<uint128>(r + 1) * (r + 1) <= s) ++r;
  return r;
}

constexpr uint64_t kMaxCandidate = uint64_t{1} << 34;

}  // namespace

bool BernoulliExpMinus(SecureRandom& rng, uint128 num, uint128 den) {
  // exp(-γ) = exp(-1)^floor(γ) · exp(-(γ - floor(γ))).
  for (uint128 whole = num / den; whole > 0; --whole) {
    if (!BernoulliExpMinusAtMostOne(rng, 1, 1)) return false;
  }
  return BernoulliExpMinusAtMostOne(rng, num % den, den);
}

absl::StatusOr<DiscreteGaussianSampler> DiscreteGaussianSampler::Create(uint64_t sigma_squared) {
  if (sigma_squared < 1 || sigma_squared > kMaxSigmaSquared) {
    return absl::InvalidArgumentError(absl::StrCat("discrete Gaussian: sigma^2 = ", sigma_squared,
                                                   " is outside [1, 2^56]"));
  }
  return DiscreteGaussianSampler(sigma_squared);
}

DiscreteGaussianSampler::DiscreteGaussianSampler(uint64_t sigma_squared)
    : sigma_squared_(sigma_squared), t_(FloorSqrt(sigma_squared) + 1) {}

// CKS Algorithm 2 with integer scale t: P(y) ∝ exp(-|y|/t).
int64_t DiscreteGaussianSampler::SampleDiscreteLaplace(SecureRandom& rng) const {
  for (;;) {
    const uint64_t u = static_cast<uint64_t>(rng.UniformBelow(t_));
    if (!BernoulliExpMinusAtMostOne(rng, u, t_)) continue;
    uint64_t v = 0;
    while (BernoulliExpMinusAtMostOne(rng, 1, 1)) ++v;
    const uint128 x = u + static_cast<uint128>(t_) * v;
    const bool negative = (rng.NextU64() & 1) != 0;
    if (negative && x == 0) continue;
    if (x > kMaxCandidate) return static_cast<int64_t>(kMaxCandidate) + 1;  // rejected below
    return negative ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
}

// CKS Algorithm 3: accept y with probability exp(-(|y| - σ²/t)² / (2σ²)), which with integer
// σ² = s is exp(-(|y|·t - s)² / (2·s·t²)).
int64_t DiscreteGaussianSampler::Sample(SecureRandom& rng) const {
  for (;;) {
    const int64_t y = SampleDiscreteLaplace(rng);
    const uint64_t magnitude = static_cast<uint64_t>(y < 0 ? -y : y);
    if (magnitude > kMaxCandidate) continue;
    const __int128 gap = static_cast<__int128>(magnitude) * t_ - sigma_squared_;
    const uint128 num = static_cast<uint128>(gap < 0 ? -gap : gap);
    const uint128 den = static_cast<uint128>(2) * sigma_squared_ * t_ * t_;
    if (BernoulliExpMinus(rng, num * num, den)) return y;
  }
}

}  // namespace tailor
