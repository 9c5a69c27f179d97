// DP-FedAvg at the coordinator: client-level differential privacy for the shared model
// (McMahan et al. 2018; Andrew et al., "Differentially Private Learning with Adaptive
// Clipping", NeurIPS 2021). Per round it
//   - samples the cohort by Poisson sampling: each client independently with probability q,
//     which is the sampling the RDP accountant assumes;
//   - hands the round a DpSumAggregator at the current clip norm S (privacy/dp_sum.h);
//   - composes the round into the RDP accountant, and with adaptive clipping moves S toward the
//     target quantile γ of the update norms: the clients' bits bᵢ = 1[‖Δᵢ‖ ≤ S], centred to
//     bᵢ - 1/2 (sensitivity 1/2), are summed with discrete Gaussian noise σ_b, and
//     S ← S·exp(-η(b̃ - γ)) with b̃ = (Σ(bᵢ - 1/2) + noise)/E[m] + 1/2.
// Adaptive clipping spends part of the budget on the count: the update's noise multiplier is
// z_Δ = (z⁻² - (2σ_b)⁻²)^(-1/2), so the pair of releases is exactly one Gaussian mechanism
// with multiplier z and the accountant stays on (q, z).
//
// Its state (the RDP curve, the clip norm) is part of the coordinator's checkpoint, committed
// with the model of the same round, so a restarted coordinator reports exactly what it had.
#ifndef TAILOR_PRIVACY_DP_FEDAVG_H_
#define TAILOR_PRIVACY_DP_FEDAVG_H_

#include <memory>
#include <vector>

#include "aggregation/aggregator.h"
#include "core/parameter_set.h"
#include "privacy/rdp_accountant.h"
#include "privacy/secure_random.h"

namespace tailor {

struct DpFedAvgOptions {
  // Initial clip norm S > 0.
  double clip_norm = 0;
  // Total noise multiplier z > 0 (the update's and, with adaptive clipping, the count's). 0:
  // derive it as the smallest z that keeps `planned_rounds` rounds within target_epsilon.
  double noise_multiplier = 0;
  double target_epsilon = 0;
  int64_t planned_rounds = 0;
  // Poisson sampling rate q in (0, 1], over `population` clients.
  double sampling_rate = 0;
  int64_t population = 0;
  // δ in (0, 1).
  double delta = 1e-5;
  // Stop before a round would take ε above this; 0: target_epsilon (0 too: no budget).
  double epsilon_budget = 0;
  // Adaptive clipping: target quantile γ in (0, 1), geometric learning rate η > 0, the count's
  // noise std σ_b (0: E[m]/20, the paper's choice).
  bool adaptive_clipping = false;
  double target_quantile = 0.5;
  double clip_learning_rate = 0.2;
  double count_stddev = 0;
  // Key the noise from the experiment seed (same numbers for the same seed) instead of the OS.
  // Whoever knows the seed can subtract the noise: for simulations, never for deployments.
  bool reproducible_noise = false;
  uint64_t seed = 0;
};

class DpFedAvg {
 public:
  // INVALID_ARGUMENT naming the first bad option.
  static absl::StatusOr<std::unique_ptr<DpFedAvg>> Create(const DpFedAvgOptions& options);

  // Round `round`'s cohort, ascending; may be empty (the round then releases noise alone).
  std::vector<int64_t> SampleCohort(int64_t round);
  // The noised-sum aggregator of round `round` at the current clip norm. It draws from this
  // object's generator: keep this object alive until the aggregator is finalized.
  absl::StatusOr<std::unique_ptr<StreamingAggregator>> AggregatorForRound(int64_t round);

  // Composes one round into the accountant and, with adaptive clipping, updates the clip norm
  // from the round's `accepted` updates, `within_clip` of whose clients reported a norm within
  // it.
  // `carried_noise_multiplier` > 0: the noise the round's release actually carried relative to
  // the clip norm (distributed DP, where it grows with the survivors), composed instead of the
  // configured z; it must not be below z.
  absl::Status CompleteRound(int64_t round, int64_t accepted, int64_t within_clip,
                             double carried_noise_multiplier = 0);

  // ε spent so far (δ from the options), and what one more round would make it.
  PrivacySpent Spent() const;
  PrivacySpent SpentAfterNextRound() const;
  // False when the next round would take ε above the budget.
  bool NextRoundFitsBudget() const;

  double clip_norm() const { return clip_norm_; }
  double noise_multiplier() const { return options_.noise_multiplier; }
  double update_noise_multiplier() const { return update_noise_multiplier_; }
  double expected_cohort() const { return expected_cohort_; }
  double sampling_rate() const { return options_.sampling_rate; }
  const DpFedAvgOptions& options() const { return options_; }
  // The last round's noised fraction of updates within the clip norm (adaptive clipping).
  double last_within_clip_fraction() const { return last_fraction_; }

  // Checkpointable state: tensors named "privacy/...": the RDP curve, and the clip norm (restored
  // only with adaptive clipping; otherwise the configured norm applies).
  ParameterSet State() const;
  // FAILED_PRECONDITION when `state` holds no privacy state (the run began without DP) or was
  // made with other RDP orders; INVALID_ARGUMENT for a malformed one.
  absl::Status Restore(const ParameterSet& state);

  static constexpr char kStatePrefix[] = "privacy/";

 private:
  explicit DpFedAvg(const DpFedAvgOptions& options);
  enum Purpose { kCohort = 0, kUpdateNoise = 1, kCountNoise = 2 };
  // The generator of one purpose in one round: a key per (seed, purpose, round) when
  // reproducible, the single OS-keyed stream otherwise. Valid until the next call for the same
  // purpose.
  SecureRandom& RandomFor(Purpose purpose, int64_t round);

  DpFedAvgOptions options_;
  double expected_cohort_ = 0;
  double update_noise_multiplier_ = 0;
  double count_stddev_ = 0;
  double clip_norm_ = 0;
  double last_fraction_ = 0;
  RdpAccountant accountant_;
  std::unique_ptr<SecureRandom> os_random_;
  std::unique_ptr<SecureRandom> seeded_random_[3];
};

}  // namespace tailor

#endif  // TAILOR_PRIVACY_DP_FEDAVG_H_
