// `tailor privacy`: the RDP accountant from the command line. With --z: the ε spent after
// --steps rounds at sampling rate --q; with --epsilon: the noise multiplier that reaches it.
#include <cstdio>

#include "absl/flags/flag.h"
#include "privacy/rdp_accountant.h"
#include "tools/commands.h"

ABSL_FLAG(double, q, 0, "privacy: sampling rate per round (expected cohort / population), (0, 1]");
ABSL_FLAG(double, z, 0, "privacy: noise multiplier (noise std / clipping bound); or --epsilon");
ABSL_FLAG(int64_t, steps, 0, "privacy: rounds (steps) composed");
ABSL_FLAG(double, delta, 1e-5, "privacy: delta, (0, 1)");
ABSL_FLAG(double, epsilon, 0, "privacy: target epsilon: print the noise multiplier reaching it");

namespace tailor {

int PrivacyCommand() {
  const double q = absl::GetFlag(FLAGS_q), z = absl::GetFlag(FLAGS_z);
  const double delta = absl::GetFlag(FLAGS_delta), target = absl::GetFlag(FLAGS_epsilon);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  if ((z > 0) == (target > 0)) {
    std::fprintf(stderr,
                 "tailor privacy: give exactly one of --z (to get epsilon) and "
                 "--epsilon (to get z)\n");
    return 2;
  }
  if (z > 0) {
    auto spent = SubsampledGaussianEpsilon(q, z, steps, delta);
    if (!spent.ok()) {
      std::fprintf(stderr, "tailor privacy: %s\n", std::string(spent.status().message()).c_str());
      return 2;
    }
    std::printf(
        "epsilon: %.6f\ndelta:   %g\norder:   %g\n(RDP of the Poisson-subsampled "
        "Gaussian, q=%g, z=%g, %lld steps)\n",
        spent->epsilon, delta, spent->order, q, z, static_cast<long long>(steps));
    return 0;
  }
  auto needed = NoiseMultiplierForEpsilon(q, steps, target, delta);
  if (!needed.ok()) {
    std::fprintf(stderr, "tailor privacy: %s\n", std::string(needed.status().message()).c_str());
    return 2;
  }
  std::printf(
      "z: %.4f\n(the smallest noise multiplier with epsilon <= %g at delta %g, q=%g, "
      "%lld steps)\n",
      *needed, target, delta, q, static_cast<long long>(steps));
  return 0;
}

}  // namespace tailor
