// The PLD accountant: exact for composed Gaussians, never above RDP's bound, never below the
// exact one-step value, and bad input refused. tests/privacy/pld_crosscheck.py checks it against
// exact two-step values too.
#include "privacy/pld_accountant.h"

#include <cmath>

#include "privacy/rdp_accountant.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// A coarser grid than the default keeps these tests fast; connect-the-dots' error is O(Δ²).
PldOptions Coarse() {
  PldOptions o;
  o.value_discretization = 1e-3;
  return o;
}

TEST(PldAccountant, ComposedGaussiansMatchTheClosedForm) {
  // q = 1: T steps of noise z are one Gaussian with μ = √T/z:
  // δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2).
  for (auto [z, steps] : {std::pair<double, int64_t>{1.0, 1}, {2.0, 10}, {5.0, 100}}) {
    const double mu = std::sqrt(static_cast<double>(steps)) / z;
    for (double eps : {0.3, 1.0, 2.0}) {
      const double exact =
          NormalCdf(-eps / mu + mu / 2) - std::exp(eps) * NormalCdf(-eps / mu - mu / 2);
      auto got = PldDelta(1.0, z, steps, eps, PldDirection::kBoth, Coarse());
      ASSERT_OK(got);
      EXPECT_GE(*got, exact * (1 - 1e-12)) << "z=" << z << " T=" << steps << " eps=" << eps;
      EXPECT_LE(*got, exact * (1 + 1e-4)) << "z=" << z << " T=" << steps << " eps=" << eps;
    }
  }
}

TEST(PldAccountant, IsTighterThanRdpAcrossTheGrid) {
  for (double q : {0.001, 0.01, 0.1}) {
    for (double z : {1.0, 2.0}) {
      for (int64_t steps : {1, 300}) {
        auto pld = PldEpsilon(q, z, steps, 1e-5, Coarse());
        auto rdp = SubsampledGaussianEpsilon(q, z, steps, 1e-5);
        ASSERT_OK(pld);
        ASSERT_OK(rdp);
        EXPECT_LT(*pld, rdp->epsilon) << "q=" << q << " z=" << z << " T=" << steps;
        EXPECT_GT(*pld, 0.0);
      }
    }
  }
}

TEST(PldAccountant, EpsilonAndDeltaAreInverse) {
  auto eps = PldEpsilon(0.05, 1.2, 300, 1e-6, Coarse());
  ASSERT_OK(eps);
  auto at = PldDelta(0.05, 1.2, 300, *eps, PldDirection::kBoth, Coarse());
  ASSERT_OK(at);
  EXPECT_LE(*at, 1e-6);
  auto below = PldDelta(0.05, 1.2, 300, *eps - 1e-3, PldDirection::kBoth, Coarse());
  ASSERT_OK(below);
  EXPECT_GT(*below, 1e-6);  // the smallest such ε, not merely a valid one
  EXPECT_EQ(*PldEpsilon(0.05, 1.2, 0, 1e-6), 0.0);
}

TEST(PldAccountant, RefusesBadInputByName) {
  EXPECT_STATUS(PldEpsilon(0, 1, 10, 1e-5).status(), absl::StatusCode::kInvalidArgument,
                "sampling rate q");
  EXPECT_STATUS(PldEpsilon(0.1, -1, 10, 1e-5).status(), absl::StatusCode::kInvalidArgument,
                "noise multiplier z");
  EXPECT_STATUS(PldEpsilon(0.1, 1, -1, 1e-5).status(), absl::StatusCode::kInvalidArgument,
                "steps");
  EXPECT_STATUS(PldEpsilon(0.1, 1, 10, 0).status(), absl::StatusCode::kInvalidArgument, "delta");
  EXPECT_STATUS(PldDelta(0.1, 1, 10, -1).status(), absl::StatusCode::kInvalidArgument, "epsilon");
  PldOptions coarse;
  coarse.value_discretization = 1;
  EXPECT_STATUS(PldEpsilon(0.1, 1, 10, 1e-5, coarse).status(),
                absl::StatusCode::kInvalidArgument, "discretization");
  // ε in the hundreds: refused rather than allocating gigabytes.
  EXPECT_STATUS(PldEpsilon(1.0, 0.1, 100, 1e-5).status(),
                absl::StatusCode::kResourceExhausted, "coarser");
}

}  // namespace
}  // namespace tailor
