// Privacy-loss-distribution (PLD) accounting for the Poisson-subsampled Gaussian mechanism: a
// tighter (ε, δ) than RDP's conversion, at the cost of milliseconds to seconds per query.
//
// The privacy loss of one step is L(x) = log(P(x)/Q(x)) for x ~ P. With add/remove
// neighbours there are two pairs (Koskela, Jälkö and Honkela, "Computing Tight Differential
// Privacy Guarantees Using FFT", AISTATS 2020; Google's dp_accounting):
//   remove: P = (1-q)·N(0, z²) + q·N(1, z²),  Q = N(0, z²);
//   add:    P = N(0, z²),  Q = (1-q)·N(0, z²) + q·N(1, z²).
// Each step's loss is discretized on the grid kΔ by "connect the dots" (Doroshenko et al.,
// PETS 2022; dp_accounting's default for the Gaussian): the discrete distribution whose δ(ε)
// equals the exact one at every grid point and lies above it between them, with error O(Δ²).
// The T-step loss is the T-fold convolution (FFT, by repeated squaring); each product drops at
// most `tail_mass` per tail pessimistically (the lower tail joins the lowest kept loss, the
// upper one goes to +∞), and
//   δ(ε) = P(L = +∞) + Σ_k p_k · (1 - exp(ε - kΔ))₊,
// maximized over the two directions. Every approximation over-estimates δ, so the ε reported is
// an upper bound of the exact one; as Δ → 0 it converges to it. Composed losses wider than 2^22
// grid points (ε in the tens to hundreds) are refused with RESOURCE_EXHAUSTED.
#ifndef TAILOR_PRIVACY_PLD_ACCOUNTANT_H_
#define TAILOR_PRIVACY_PLD_ACCOUNTANT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace tailor {

struct PldOptions {
  // Δ, the loss grid (dp_accounting's default value_discretization_interval).
  double value_discretization = 1e-4;
  // Mass dropped (pessimistically) at each tail of each step and of each convolution.
  double tail_mass = 1e-15;
};

enum class PldDirection { kRemove, kAdd, kBoth };

// δ after `steps` steps at sampling rate q and noise multiplier z, for ε >= 0.
absl::StatusOr<double> PldDelta(double q, double z, int64_t steps, double epsilon,
                                PldDirection direction = PldDirection::kBoth,
                                const PldOptions& options = {});

// The smallest ε (to 1e-9 absolute) with δ(ε) <= delta.
absl::StatusOr<double> PldEpsilon(double q, double z, int64_t steps, double delta,
                                  const PldOptions& options = {});

}  // namespace tailor

#endif  // TAILOR_PRIVACY_PLD_ACCOUNTANT_H_
