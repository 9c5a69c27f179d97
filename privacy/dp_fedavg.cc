#include "privacy/dp_fedavg.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "privacy/discrete_gaussian.h"
#include "privacy/dp_sum.h"

namespace tailor {
namespace {

bool FiniteAndPositive(double x) { return x > 0 && std::isfinite(x); }

// The count noise is drawn on a grid of 2^-11, so a centred bit bᵢ - 1/2 is ±2^10 steps.
constexpr double kCountGrid = 1.0 / 2048;

const char kClipNorm[] = "privacy/clip_norm";
const char kOrders[] = "privacy/rdp_orders";
const char kCurve[] = "privacy/rdp";

Tensor Float64Vector(const std::vector<double>& values) {
  Tensor t(DType::kFloat64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.f64().begin());
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DpFedAvg>> DpFedAvg::Create(const DpFedAvgOptions& o) {
  if (!FiniteAndPositive(o.clip_norm)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.clip_norm ", o.clip_norm,
                                                   " must be finite and > 0"));
  }
  if (!(o.target_epsilon >= 0) || !std::isfinite(o.target_epsilon)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.target_epsilon ", o.target_epsilon,
                                                   " must be finite and >= 0"));
  }
  if (o.noise_multiplier == 0 && o.target_epsilon > 0) {
    if (o.planned_rounds < 1) {
      return absl::InvalidArgumentError("privacy.target_epsilon needs the number of rounds");
    }
    auto z = NoiseMultiplierForEpsilon(o.sampling_rate, o.planned_rounds, o.target_epsilon,
                                       o.delta);
    if (!z.ok()) return Annotate(z.status(), "privacy.target_epsilon");
    DpFedAvgOptions derived = o;
    derived.noise_multiplier = *z;
    return Create(derived);
  }
  if (!FiniteAndPositive(o.noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.noise_multiplier ",
                                                   o.noise_multiplier, " must be finite and > 0"));
  }
  if (!(o.sampling_rate > 0 && o.sampling_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy.sampling_rate ", o.sampling_rate, " must be in (0, 1]"));
  }
  if (o.population < 1) {
    return absl::InvalidArgumentError(absl::StrCat("privacy: population ", o.population,
                                                   " must be >= 1"));
  }
  if (!(o.delta > 0 && o.delta < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.delta ", o.delta,
                                                   " must be in (0, 1)"));
  }
  if (!(o.epsilon_budget >= 0) || !std::isfinite(o.epsilon_budget)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy.epsilon_budget ", o.epsilon_budget,
                                                   " must be finite and >= 0"));
  }
  std::unique_ptr<DpFedAvg> dp(new DpFedAvg(o));
  if (o.epsilon_budget == 0) dp->options_.epsilon_budget = o.target_epsilon;
  dp->expected_cohort_ = o.sampling_rate * static_cast<double>(o.population);
  dp->update_noise_multiplier_ = o.noise_multiplier;
  if (o.adaptive_clipping) {
    if (!(o.target_quantile > 0 && o.target_quantile < 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "privacy.adaptive_clipping.target_quantile ", o.target_quantile, " must be in (0, 1)"));
    }
    if (!FiniteAndPositive(o.clip_learning_rate)) {
      return absl::InvalidArgumentError(
          absl::StrCat("privacy.adaptive_clipping.learning_rate ", o.clip_learning_rate,
                       " must be finite and > 0"));
    }
    if (!(o.count_stddev >= 0) || !std::isfinite(o.count_stddev)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "privacy.adaptive_clipping.count_stddev ", o.count_stddev, " must be finite and >= 0"));
    }
    dp->count_stddev_ = o.count_stddev > 0 ? o.count_stddev : dp->expected_cohort_ / 20;
    const double z = o.noise_multiplier, two_sigma_b = 2 * dp->count_stddev_;
    if (!(two_sigma_b > z)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "adaptive clipping: the count's noise (std ", dp->count_stddev_,
          ") must exceed z/2 = ", z / 2, " or the update would need infinite noise; raise "
          "privacy.adaptive_clipping.count_stddev or the sampling rate"));
    }
    dp->update_noise_multiplier_ = 1 / std::sqrt(1 / (z * z) - 1 / (two_sigma_b * two_sigma_b));
    const double max_steps =
        std::sqrt(static_cast<double>(DiscreteGaussianSampler::kMaxSigmaSquared));
    if (dp->count_stddev_ / kCountGrid > max_steps) {
      return absl::InvalidArgumentError(absl::StrCat(
          "adaptive clipping: count noise std ", dp->count_stddev_,
          " is above the sampler's range (at most ", max_steps * kCountGrid, ")"));
    }
  }
  if (!o.reproducible_noise) {
    TAILOR_ASSIGN_OR_RETURN(dp->os_random_, SecureRandom::FromOsEntropy());
  }
  return dp;
}

DpFedAvg::DpFedAvg(const DpFedAvgOptions& options)
    : options_(options), clip_norm_(options.clip_norm) {}

SecureRandom& DpFedAvg::RandomFor(Purpose purpose, int64_t round) {
  if (os_random_) return *os_random_;
  std::unique_ptr<SecureRandom>& slot = seeded_random_[purpose];
  slot = SecureRandom::FromSeed(options_.seed,
                                DeriveSeed(0x6470 /*"dp"*/, {static_cast<uint64_t>(purpose),
                                                              static_cast<uint64_t>(round)}));
  return *slot;
}

std::vector<int64_t> DpFedAvg::SampleCohort(int64_t round) {
  SecureRandom& rng = RandomFor(kCohort, round);
  std::vector<int64_t> cohort;
  for (int64_t id = 0; id < options_.population; ++id) {
    if (rng.BernoulliRate(options_.sampling_rate)) cohort.push_back(id);
  }
  return cohort;
}

absl::StatusOr<std::unique_ptr<StreamingAggregator>> DpFedAvg::AggregatorForRound(int64_t round) {
  DpSumOptions sum;
  sum.clip_norm = clip_norm_;
  sum.noise_multiplier = update_noise_multiplier_;
  sum.expected_cohort = expected_cohort_;
  sum.rng = &RandomFor(kUpdateNoise, round);
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<DpSumAggregator> aggregator,
                          DpSumAggregator::Create(sum));
  return std::unique_ptr<StreamingAggregator>(std::move(aggregator));
}

absl::Status DpFedAvg::CompleteRound(int64_t round, int64_t accepted, int64_t within_clip,
                                     double carried_noise_multiplier) {
  if (accepted < 0 || within_clip < 0 || within_clip > accepted) {
    return absl::InvalidArgumentError(absl::StrCat("round ", round, ": ", within_clip,
                                                   " updates within the clip norm of ", accepted));
  }
  double z = options_.noise_multiplier;
  if (carried_noise_multiplier > 0) {
    if (options_.adaptive_clipping || !(carried_noise_multiplier >= z)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "round ", round, ": a release carrying noise multiplier ", carried_noise_multiplier,
          " (configured ", z, ", adaptive clipping ",
          options_.adaptive_clipping ? "on" : "off", ") cannot be accounted"));
    }
    z = carried_noise_multiplier;
  }
  TAILOR_RETURN_IF_ERROR(accountant_.AddSteps(options_.sampling_rate, z, 1));
  if (!options_.adaptive_clipping) return absl::OkStatus();
  // Σ(bᵢ - 1/2) in steps of 2^-11: +2^10 for a bit of 1, -2^10 for a 0.
  const int64_t centred = (2 * within_clip - accepted) * 1024;
  const double sigma = count_stddev_ / kCountGrid;
  TAILOR_ASSIGN_OR_RETURN(
      DiscreteGaussianSampler noise,
      DiscreteGaussianSampler::Create(static_cast<uint64_t>(std::ceil(sigma * sigma))));
  const int64_t noised = centred + noise.Sample(RandomFor(kCountNoise, round));
  last_fraction_ = static_cast<double>(noised) * kCountGrid / expected_cohort_ + 0.5;
  const double next = clip_norm_ * std::exp(-options_.clip_learning_rate *
                                            (last_fraction_ - options_.target_quantile));
  if (!FiniteAndPositive(next)) {
    return absl::InternalError(absl::StrCat("adaptive clipping produced clip norm ", next));
  }
  clip_norm_ = next;
  return absl::OkStatus();
}

PrivacySpent DpFedAvg::Spent() const {
  // The options were validated, so the conversion cannot fail.
  return accountant_.Epsilon(options_.delta).value();
}

PrivacySpent DpFedAvg::SpentAfterNextRound() const {
  return accountant_.EpsilonAfter(options_.sampling_rate, options_.noise_multiplier, 1,
                                  options_.delta).value();
}

bool DpFedAvg::NextRoundFitsBudget() const {
  return options_.epsilon_budget == 0 || SpentAfterNextRound().epsilon <= options_.epsilon_budget;
}

ParameterSet DpFedAvg::State() const {
  ParameterSet state;
  (void)state.Add(kClipNorm, Float64Vector({clip_norm_}));
  (void)state.Add(kOrders, Float64Vector(accountant_.orders()));
  (void)state.Add(kCurve, Float64Vector(accountant_.rdp()));
  return state;
}

absl::Status DpFedAvg::Restore(const ParameterSet& state) {
  const Tensor* clip = state.Find(kClipNorm);
  const Tensor* orders = state.Find(kOrders);
  const Tensor* curve = state.Find(kCurve);
  if (clip == nullptr && orders == nullptr && curve == nullptr) {
    return absl::FailedPreconditionError(
        "the checkpoint holds no privacy state: the run began without differential privacy, "
        "so no epsilon can be claimed for it; start a new run (or a new checkpoint directory)");
  }
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{kClipNorm, clip},
                                {kOrders, orders}, {kCurve, curve}}) {
    if (t == nullptr || t->dtype() != DType::kFloat64 || t->shape().size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("privacy state: '", name, "' is missing or not a float64 vector"));
    }
  }
  if (clip->numel() != 1 || !FiniteAndPositive(clip->f64()[0])) {
    return absl::InvalidArgumentError("privacy state: the clip norm is not one positive number");
  }
  std::vector<double> stored_orders(orders->f64().begin(), orders->f64().end());
  if (stored_orders != accountant_.orders()) {
    return absl::FailedPreconditionError(
        "privacy state: the checkpoint's RDP orders differ from this build's");
  }
  TAILOR_ASSIGN_OR_RETURN(
      RdpAccountant restored,
      RdpAccountant::FromCurve(std::move(stored_orders),
                               std::vector<double>(curve->f64().begin(), curve->f64().end())));
  accountant_ = std::move(restored);
  // The adaptive norm is state; a fixed one is configuration (changing it mid-run is safe: the
  // noise scales with it, so each round's ε is the same).
  if (options_.adaptive_clipping) clip_norm_ = clip->f64()[0];
  return absl::OkStatus();
}

}  // namespace tailor
