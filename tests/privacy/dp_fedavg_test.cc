// DP-FedAvg's mechanism: Poisson sampling at rate q, the budget, adaptive clipping's direction
// and fixed point, the noise split, and the checkpointed state.
#include "privacy/dp_fedavg.h"

#include <algorithm>
#include <cmath>

#include "tests/test_util.h"

namespace tailor {
namespace {

DpFedAvgOptions Options() {
  DpFedAvgOptions o;
  o.clip_norm = 1.0;
  o.noise_multiplier = 1.0;
  o.sampling_rate = 0.1;
  o.population = 1000;
  o.delta = 1e-5;
  o.reproducible_noise = true;
  o.seed = 17;
  return o;
}

TEST(DpFedAvg, PoissonCohortsHaveRateQAndAreIndependentPerRound) {
  DpFedAvgOptions o = Options();
  o.population = 100000;
  auto dp = DpFedAvg::Create(o).value();
  const std::vector<int64_t> first = dp->SampleCohort(1);
  // Binomial(10^5, 0.1): mean 10^4, std 94.9.
  EXPECT_NEAR(static_cast<double>(first.size()), 10000, 5 * 94.9);
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
  EXPECT_EQ(first, dp->SampleCohort(1));  // reproducible for a seed
  const std::vector<int64_t> second = dp->SampleCohort(2);
  std::vector<int64_t> both;
  std::set_intersection(first.begin(), first.end(), second.begin(), second.end(),
                        std::back_inserter(both));
  // Independent rounds overlap in q² of the population: 1000 ± 5·31.
  EXPECT_NEAR(static_cast<double>(both.size()), 1000, 5 * 31.5);
}

TEST(DpFedAvg, SpentFollowsTheAccountantAndTheBudgetStopsBeforeExceeding) {
  DpFedAvgOptions o = Options();
  const double per_10 = SubsampledGaussianEpsilon(0.1, 1.0, 10, 1e-5)->epsilon;
  const double per_11 = SubsampledGaussianEpsilon(0.1, 1.0, 11, 1e-5)->epsilon;
  o.epsilon_budget = 0.5 * (per_10 + per_11);  // room for 10 rounds, not 11
  auto dp = DpFedAvg::Create(o).value();
  EXPECT_EQ(dp->Spent().epsilon, 0);
  int rounds = 0;
  while (dp->NextRoundFitsBudget()) {
    ASSERT_OK(dp->CompleteRound(++rounds, 0, 0));
    ASSERT_LT(rounds, 100);
  }
  EXPECT_EQ(rounds, 10);
  EXPECT_NEAR(dp->Spent().epsilon, per_10, 1e-12);
  EXPECT_NEAR(dp->SpentAfterNextRound().epsilon, per_11, 1e-12);
}

TEST(DpFedAvg, AdaptiveClippingSplitsTheNoiseAndMovesTowardTheQuantile) {
  DpFedAvgOptions o = Options();
  o.adaptive_clipping = true;
  o.count_stddev = 2.0;
  o.clip_learning_rate = 0.2;
  o.target_quantile = 0.5;
  auto dp = DpFedAvg::Create(o).value();
  // z_Δ = (1 - 1/16)^(-1/2).
  EXPECT_NEAR(dp->update_noise_multiplier(), 1 / std::sqrt(1 - 1.0 / 16), 1e-12);
  // Everyone within the norm: the norm is too large and shrinks; nobody within: it grows.
  ASSERT_OK(dp->CompleteRound(1, 100, 100));
  EXPECT_LT(dp->clip_norm(), 1.0);
  const double shrunk = dp->clip_norm();
  ASSERT_OK(dp->CompleteRound(2, 100, 0));
  EXPECT_GT(dp->clip_norm(), shrunk);
  // Client norms spread log-uniformly over [0.1, 10] (median 1): starting at 20, the clip norm
  // settles near the median.
  o.clip_norm = 20;
  auto settling = DpFedAvg::Create(o).value();
  for (int round = 1; round <= 200; ++round) {
    int within = 0;
    for (int k = 0; k < 100; ++k) {
      within += std::pow(10.0, -1 + 2 * (k + 0.5) / 100) <= settling->clip_norm();
    }
    ASSERT_OK(settling->CompleteRound(round, 100, within));
  }
  EXPECT_NEAR(std::log(settling->clip_norm()), 0, 0.35);
}

TEST(DpFedAvg, AdaptiveClippingRefusesACountNoiseTooSmallForTheBudget) {
  DpFedAvgOptions o = Options();
  o.adaptive_clipping = true;
  o.count_stddev = 0.4;  // 2σ_b = 0.8 < z = 1
  EXPECT_STATUS(DpFedAvg::Create(o).status(), absl::StatusCode::kInvalidArgument,
                "count's noise");
}

TEST(DpFedAvg, StateRestoresTheSameEpsilonAndClipNorm) {
  DpFedAvgOptions o = Options();
  o.adaptive_clipping = true;
  o.count_stddev = 5;
  auto dp = DpFedAvg::Create(o).value();
  for (int r = 1; r <= 7; ++r) ASSERT_OK(dp->CompleteRound(r, 90, 30));
  const ParameterSet state = dp->State();
  auto restarted = DpFedAvg::Create(o).value();
  ASSERT_OK(restarted->Restore(state));
  EXPECT_EQ(restarted->Spent().epsilon, dp->Spent().epsilon);
  EXPECT_EQ(restarted->clip_norm(), dp->clip_norm());
  EXPECT_GT(restarted->Spent().epsilon, 0);

  EXPECT_STATUS(restarted->Restore(ParameterSet()), absl::StatusCode::kFailedPrecondition,
                "began without differential privacy");
  ParameterSet negative = state;
  negative.FindMutable("privacy/rdp")->f64()[3] = -1;
  EXPECT_STATUS(restarted->Restore(negative), absl::StatusCode::kInvalidArgument, "order");
  ParameterSet truncated;
  (void)truncated.Add("privacy/clip_norm", *state.Find("privacy/clip_norm"));
  EXPECT_STATUS(restarted->Restore(truncated), absl::StatusCode::kInvalidArgument,
                "privacy/rdp_orders");
  // A refused state leaves what was there.
  EXPECT_EQ(restarted->Spent().epsilon, dp->Spent().epsilon);
}

TEST(DpFedAvg, AFixedClipNormComesFromTheConfigOnResume) {
  DpFedAvgOptions o = Options();
  auto dp = DpFedAvg::Create(o).value();
  ASSERT_OK(dp->CompleteRound(1, 10, 5));
  o.clip_norm = 2.5;  // the operator changed S between runs
  auto resumed = DpFedAvg::Create(o).value();
  ASSERT_OK(resumed->Restore(dp->State()));
  EXPECT_EQ(resumed->clip_norm(), 2.5);
  EXPECT_EQ(resumed->Spent().epsilon, dp->Spent().epsilon);
}

TEST(DpFedAvg, RefusesBadOptionsByName) {
  auto refused = [](auto mutate, const char* what) {
    DpFedAvgOptions o = Options();
    mutate(o);
    EXPECT_STATUS(DpFedAvg::Create(o).status(), absl::StatusCode::kInvalidArgument, what);
  };
  refused([](DpFedAvgOptions& o) { o.clip_norm = 0; }, "privacy.clip_norm");
  refused([](DpFedAvgOptions& o) { o.noise_multiplier = std::nan(""); }, "noise_multiplier");
  refused([](DpFedAvgOptions& o) { o.sampling_rate = 1.5; }, "sampling_rate");
  refused([](DpFedAvgOptions& o) { o.delta = 1; }, "privacy.delta");
  refused([](DpFedAvgOptions& o) { o.epsilon_budget = -1; }, "epsilon_budget");
  refused([](DpFedAvgOptions& o) { o.adaptive_clipping = true; o.target_quantile = 1; },
          "target_quantile");
  refused([](DpFedAvgOptions& o) { o.adaptive_clipping = true; o.count_stddev = 1e6; },
          "sampler's range");
  refused([](DpFedAvgOptions& o) { o.noise_multiplier = 0; o.target_epsilon = 1; },
          "number of rounds");
}

}  // namespace
}  // namespace tailor
