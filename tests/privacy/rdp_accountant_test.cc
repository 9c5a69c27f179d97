// The RDP accountant against published values, against itself (closed form vs integral at
// integer orders), against the plain Gaussian's exact RDP, and bad input.
#include "privacy/rdp_accountant.h"

#include <cmath>

#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(RdpAccountant, ReproducesPublishedEpsilons) {
  // DP-SGD on MNIST (Abadi et al.; TF-Privacy's tutorial): q = 256/60000, z = 1.1, 60 epochs.
  auto mnist = SubsampledGaussianEpsilon(256.0 / 60000, 1.1, 14063, 1e-5);
  ASSERT_OK(mnist);
  EXPECT_NEAR(mnist->epsilon, 2.5967, 5e-5);
  auto second = SubsampledGaussianEpsilon(0.01, 1.0, 1000, 1e-6);
  ASSERT_OK(second);
  EXPECT_NEAR(second->epsilon, 2.4367, 5e-5);
}

TEST(RdpAccountant, IntegralAgreesWithTheClosedFormAtIntegerOrders) {
  for (double q : {1e-3, 0.01, 0.1, 0.5, 0.9}) {
    for (double z : {0.5, 1.0, 2.0, 5.0}) {
      for (double alpha : {2.0, 3.0, 7.0, 16.0, 40.0}) {
        const double closed = *SubsampledGaussianRdp(q, z, alpha);
        const double integral = *SubsampledGaussianRdpByIntegral(q, z, alpha);
        EXPECT_NEAR(integral, closed, 1e-9 * std::max(1.0, std::fabs(closed)))
            << "q=" << q << " z=" << z << " alpha=" << alpha;
      }
    }
  }
}

TEST(RdpAccountant, InterpolationBoundsFractionalOrdersFromAbove) {
  for (double q : {0.01, 0.2, 1.0}) {
    for (double z : {0.5, 1.0, 3.0}) {
      for (double alpha : {1.3, 2.5, 7.9}) {
        const double exact = *SubsampledGaussianRdpByIntegral(q, z, alpha);
        const double bound = *SubsampledGaussianRdpByInterpolation(q, z, alpha);
        EXPECT_GE(bound, exact * (1 - 1e-12)) << "q=" << q << " z=" << z << " alpha=" << alpha;
      }
    }
  }
  // At a tiny z the accountant takes the bound (the integral would need ~10^8 points) and
  // stays finite and ordered in alpha.
  const double tiny_low = *SubsampledGaussianRdp(0.1, 0.001, 1.5);
  EXPECT_EQ(tiny_low, *SubsampledGaussianRdpByInterpolation(0.1, 0.001, 1.5));
  EXPECT_TRUE(std::isfinite(tiny_low));
  EXPECT_LT(tiny_low, *SubsampledGaussianRdp(0.1, 0.001, 2.5));
}

TEST(RdpAccountant, WithoutSamplingItIsTheGaussiansExactRdp) {
  for (double z : {0.7, 1.3, 4.0}) {
    for (double alpha : {1.5, 2.0, 2.7, 12.0}) {
      EXPECT_NEAR(*SubsampledGaussianRdp(1.0, z, alpha), alpha / (2 * z * z), 1e-9)
          << "z=" << z << " alpha=" << alpha;
    }
  }
}

TEST(RdpAccountant, MoreStepsCostMoreAndMoreNoiseCostsLess) {
  const double few = SubsampledGaussianEpsilon(0.01, 1.0, 100, 1e-5)->epsilon;
  const double many = SubsampledGaussianEpsilon(0.01, 1.0, 10000, 1e-5)->epsilon;
  const double noisier = SubsampledGaussianEpsilon(0.01, 2.0, 10000, 1e-5)->epsilon;
  EXPECT_LT(few, many);
  EXPECT_LT(noisier, many);
  EXPECT_EQ(SubsampledGaussianEpsilon(0.01, 1.0, 0, 1e-5)->epsilon, 0);
}

TEST(RdpAccountant, ATinySamplingRateStillCostsSomethingAtEveryOrder) {
  // q/z below ~3e-8 used to round A_α to exactly 1: that order's RDP was 0, the conversion then
  // said ε = 0 after any number of rounds, and a negative fractional order made the stored curve
  // unloadable. For tiny q, log A_α ≈ C(α,2)·q²·(e^(1/z²) − 1).
  const double q = 1e-9, z = 1.0;
  for (double alpha : {2.0, 3.0, 10.0}) {
    const double expected = alpha / 2 * q * q * std::expm1(1 / (z * z));
    EXPECT_NEAR(*SubsampledGaussianRdp(q, z, alpha), expected, 1e-6 * expected) << alpha;
  }
  for (double alpha : {1.1, 1.5, 2.5, 7.9}) {
    const double rdp = *SubsampledGaussianRdp(q, z, alpha);
    EXPECT_GT(rdp, 0) << alpha;
    // The bound used here is never below the true value (≈ the integer formula at α).
    EXPECT_GE(rdp, alpha / 2 * q * q * std::expm1(1 / (z * z)) * (1 - 1e-9)) << alpha;
  }
  RdpAccountant accountant;
  ASSERT_OK(accountant.AddSteps(q, z, 1000));
  for (double r : accountant.rdp()) EXPECT_GT(r, 0);
  const double one_thousand = accountant.Epsilon(1e-5)->epsilon;
  EXPECT_GT(one_thousand, 0);
  ASSERT_OK(accountant.AddSteps(q, z, 1000));
  EXPECT_GT(accountant.Epsilon(1e-5)->epsilon, one_thousand);
  // The curve is a valid checkpoint.
  ASSERT_OK(RdpAccountant::FromCurve(accountant.orders(), accountant.rdp()));
  // One order at 0 among positive ones is converted, not taken for "nothing released".
  std::vector<double> curve = accountant.rdp();
  curve[0] = 0;
  EXPECT_GT(EpsilonFromRdp(accountant.orders(), curve, 1e-5)->epsilon, 0);
  EXPECT_FALSE(EpsilonFromRdp(accountant.orders(), std::vector<double>(curve.size(), -1), 1e-5).ok());
}

TEST(RdpAccountant, BadInputIsRefusedByName) {
  EXPECT_STATUS(SubsampledGaussianRdp(0, 1, 2).status(), absl::StatusCode::kInvalidArgument,
                "sampling rate q");
  EXPECT_STATUS(SubsampledGaussianRdp(1.5, 1, 2).status(), absl::StatusCode::kInvalidArgument,
                "sampling rate q");
  EXPECT_STATUS(SubsampledGaussianRdp(0.1, 0, 2).status(), absl::StatusCode::kInvalidArgument,
                "noise multiplier z");
  EXPECT_STATUS(SubsampledGaussianRdp(0.1, 1, 1).status(), absl::StatusCode::kInvalidArgument,
                "RDP order");
  EXPECT_STATUS(SubsampledGaussianEpsilon(0.1, 1, 10, 0).status(),
                absl::StatusCode::kInvalidArgument, "delta");
  EXPECT_STATUS(SubsampledGaussianEpsilon(0.1, 1, -1, 1e-5).status(),
                absl::StatusCode::kInvalidArgument, "steps");
}

TEST(RdpAccountant, TheNoiseForATargetMeetsItAndBarelyLessWouldNot) {
  for (double q : {0.001, 0.01, 0.2}) {
    for (double target : {1.0, 3.0, 8.0}) {
      auto z = NoiseMultiplierForEpsilon(q, 500, target, 1e-5);
      ASSERT_OK(z);
      EXPECT_LE(SubsampledGaussianEpsilon(q, *z, 500, 1e-5)->epsilon, target);
      EXPECT_GT(SubsampledGaussianEpsilon(q, *z * (1 - 3e-4), 500, 1e-5)->epsilon, target)
          << "q=" << q << " target=" << target << " z=" << *z;
    }
  }
  EXPECT_STATUS(NoiseMultiplierForEpsilon(0.01, 100, 0, 1e-5).status(),
                absl::StatusCode::kInvalidArgument, "target epsilon");
}

}  // namespace
}  // namespace tailor
