// DP-FedAvg's noised mean of clipped updates (McMahan et al., "Learning Differentially Private
// Recurrent Language Models", ICLR 2018; DESIGN.md "Privacy formulas"):
//   Δ̃ = (Σ_k clip(Δ_k, S) + N(0, z²S²·I)) / E[m],   E[m] = q·N, the expected cohort size.
// Dividing by the expected rather than the actual cohort size keeps the sensitivity at S: the
// number of participants is itself private under Poisson sampling. Every client counts once;
// the sample-count weights of FedAvg would let one client's weight scale its influence.
//
// Exact arithmetic. Each clipped update is rounded to a fixed-point grid g (a power of two
// chosen so the noise spans at least 2^20 grid steps) and summed in int64, so the sum is the
// same bits in any arrival order. The clip norm used is S' = S - g·√d/2, so that the rounded
// integer vector has L2 norm at most S/g: the grid costs at most a 1/1000 of S and the
// sensitivity stays exactly S. The noise is the discrete Gaussian N_Z(0, σ²) in grid units with
// σ ≥ z·S/g (privacy/discrete_gaussian.h): the released sum is an exact multiple of g.
//
// The coordinator re-clips what clients should already have clipped: an update above S (a
// client that did not clip, or lossy codec rounding) is scaled down here and counted.
#ifndef TAILOR_PRIVACY_DP_SUM_H_
#define TAILOR_PRIVACY_DP_SUM_H_

#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "aggregation/aggregator.h"
#include "core/parameter_schema.h"
#include "privacy/discrete_gaussian.h"
#include "privacy/secure_random.h"

namespace tailor {

// A round's grid: g, the clip norm S' the rounded sum is clipped to, and the noise variance in
// grid units. A function of the schema size, z and S alone, so that a client can put its own
// update in grid units exactly as DpSumAggregator::Add would (secure aggregation, where the
// coordinator only ever sees the sum).
struct DpSumGrid {
  double grid = 0;
  double effective_clip = 0;
  uint64_t sigma_squared = 0;
};
absl::StatusOr<DpSumGrid> ComputeDpSumGrid(int64_t values, double noise_multiplier,
                                           double clip_norm);

// The factor that takes an update of L2 norm `norm` to grid units: clipped to S', divided by g
// (each value is then rounded to the nearest integer, llrint(v · factor)).
inline double DpGridFactor(double norm, const DpSumGrid& grid) {
  return (norm > grid.effective_clip ? grid.effective_clip / norm : 1.0) / grid.grid;
}

struct DpSumOptions {
  // S > 0: each update's L2 bound.
  double clip_norm = 0;
  // z > 0: noise std per coordinate is z·S (before the division).
  double noise_multiplier = 0;
  // E[m] > 0: the noised sum is divided by it.
  double expected_cohort = 0;
  // The noise source; not owned, must outlive Finalize.
  SecureRandom* rng = nullptr;
};

class DpSumAggregator : public StreamingAggregator {
 public:
  static absl::StatusOr<std::unique_ptr<DpSumAggregator>> Create(const DpSumOptions& options);

  absl::Status Begin(const ParameterSet& schema) override;
  // `weight` must be finite and > 0 but does not scale the update (see above).
  absl::Status Add(const ParameterSet& update, double weight) override;
  // Instead of Add: the sum of `count` updates already in grid units (DpGridFactor), as secure
  // aggregation delivers it. At most once per round, before Finalize.
  // `noise_sigma_squared`: the variance (grid units) of noise the sum already carries
  // (distributed DP), widening the check that it is a sum of clipped updates.
  absl::Status AddGridSum(absl::Span<const int64_t> sums, int64_t count,
                          double noise_sigma_squared = 0);
  // The mean of a sum that carries its noise already (distributed DP): no noise is added.
  absl::StatusOr<ParameterSet> FinalizeWithoutNoise();
  // The noised mean; defined with no update at all (noise alone), which a Poisson-sampled round
  // can produce.
  absl::StatusOr<ParameterSet> Finalize() override;
  int64_t num_updates() const override { return num_updates_; }

  // Updates this aggregator had to scale down (their norm exceeded S).
  int64_t num_clipped() const { return num_clipped_; }
  // The grid step g and the noise variance in grid units of the current round.
  double grid_step() const { return grid_; }
  // The round's grid (after Begin).
  DpSumGrid grid() const { return {grid_, effective_clip_, sigma_squared_}; }
  uint64_t noise_sigma_squared() const { return sigma_squared_; }

 private:
  explicit DpSumAggregator(const DpSumOptions& options) : options_(options) {}
  absl::StatusOr<ParameterSet> Release(bool add_noise);

  DpSumOptions options_;
  ParameterSchema schema_;
  bool begun_ = false;
  double grid_ = 0;          // g, a power of two
  double effective_clip_ = 0;  // S' = S - g·√d/2
  uint64_t sigma_squared_ = 0;
  std::vector<int64_t> sums_;  // Σ round(clip(Δ_k)/g), all tensors flattened
  int64_t max_updates_ = 0;    // beyond this the int64 sums could overflow
  int64_t num_updates_ = 0;
  int64_t num_clipped_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_PRIVACY_DP_SUM_H_
