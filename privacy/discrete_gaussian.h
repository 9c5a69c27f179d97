// Exact sampling of the discrete Gaussian N_Z(0, σ²): P(x) ∝ exp(-x²/(2σ²)) over the integers,
// by Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS
// 2020), Algorithms 1-3: a discrete Laplace proposal accepted with probability
// exp(-(|y| - σ²/t)²/(2σ²)), every coin an exact rational Bernoulli drawn from SecureRandom.
//
// Why not a floating-point Gaussian: textbook samplers (Box-Muller, polar, Ziggurat) produce
// doubles whose spacing depends on the value, and the set of outputs x + noise that can occur
// reveals x (Mironov 2012 for Laplace; Jin et al., "Are We There Yet? Timing and Floating-Point
// Attacks on Differential Privacy Systems", S&P 2022, for Gaussian samplers). Tailor adds
// integer noise to the integer fixed-point sum of the clipped updates (privacy/dp_sum.h), so the
// released value carries no floating-point artefact and no timing depends on secret data other
// than through the noise draw itself.
//
// σ² is an integer (callers round it up: more noise, never less). Candidates beyond 2^34 are
// rejected outright; their acceptance probability is below exp(-500), so the distribution is
// exact to far below double precision.
#ifndef TAILOR_PRIVACY_DISCRETE_GAUSSIAN_H_
#define TAILOR_PRIVACY_DISCRETE_GAUSSIAN_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "privacy/secure_random.h"

namespace tailor {

// True with probability exp(-num/den) (num >= 0, den > 0), exactly (CKS Algorithm 1).
bool BernoulliExpMinus(SecureRandom& rng, uint128 num, uint128 den);

class DiscreteGaussianSampler {
 public:
  // The largest σ² accepted: 2^56 (σ = 2^28), which keeps every intermediate in 128 bits.
  static constexpr uint64_t kMaxSigmaSquared = uint64_t{1} << 56;

  // INVALID_ARGUMENT unless 1 <= sigma_squared <= kMaxSigmaSquared.
  static absl::StatusOr<DiscreteGaussianSampler> Create(uint64_t sigma_squared);

  int64_t Sample(SecureRandom& rng) const;
  uint64_t sigma_squared() const { return sigma_squared_; }

 private:
  explicit DiscreteGaussianSampler(uint64_t sigma_squared);
  int64_t SampleDiscreteLaplace(SecureRandom& rng) const;

  uint64_t sigma_squared_;
  uint64_t t_;  // the Laplace proposal's scale: floor(σ) + 1
};

}  // namespace tailor

#endif  // TAILOR_PRIVACY_DISCRETE_GAUSSIAN_H_
