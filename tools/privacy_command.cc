// `tailor privacy`: the RDP accountant from the command line. With --z: the ε spent after
// --steps rounds at sampling rate --q; with --epsilon: the noise multiplier that reaches it.
#include <cmath>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "privacy/pld_accountant.h"
#include "privacy/rdp_accountant.h"
#include "privacy/secagg_graph.h"
#include "tools/commands.h"

ABSL_FLAG(double, q, 0, "privacy: sampling rate per round (expected cohort / population), (0, 1]");
ABSL_FLAG(double, z, 0, "privacy: noise multiplier (noise std / clipping bound); or --epsilon");
ABSL_FLAG(int64_t, steps, 0, "privacy: rounds (steps) composed");
ABSL_FLAG(double, delta, 1e-5, "privacy: delta, (0, 1)");
ABSL_FLAG(double, epsilon, 0, "privacy: target epsilon: print the noise multiplier reaching it");
ABSL_FLAG(bool, json, false,
          "privacy: one JSON object with full precision instead of text (for scripts); with "
          "--curve, the RDP of one step at every default order");
ABSL_FLAG(int64_t, secagg_clients, 0,
          "privacy: print SecAgg+'s neighbours k and threshold t for this many clients "
          "(with --secagg_dropout and --secagg_corrupt)");
ABSL_FLAG(double, secagg_dropout, 0.1, "privacy: the fraction of clients that may drop out");
ABSL_FLAG(double, secagg_corrupt, 0.1,
          "privacy: the fraction of clients that may collude with the coordinator");
ABSL_FLAG(bool, curve, false, "privacy: print the RDP curve of one step at (--q, --z)");
ABSL_FLAG(std::string, accountant, "rdp",
          "privacy: with --z, 'rdp' (Renyi DP, what training budgets use), 'pld' (privacy loss "
          "distributions: tighter, slower) or 'both'");

namespace tailor {

int PrivacyCommand() {
  if (absl::GetFlag(FLAGS_secagg_clients) > 0) {
    // SecAgg+'s neighbours and threshold for a cohort (privacy/secagg_graph.h).
    const int64_t n = absl::GetFlag(FLAGS_secagg_clients);
    absl::StatusOr<SecAggPlusParams> p = ChooseSecAggPlus(
        n, absl::GetFlag(FLAGS_secagg_dropout), absl::GetFlag(FLAGS_secagg_corrupt));
    if (!p.ok()) {
      std::fprintf(stderr, "tailor privacy: %s\n", std::string(p.status().message()).c_str());
      return 2;
    }
    std::printf("clients %lld, dropout %g, corrupt %g: neighbours k = %d%s, threshold t = %d\n"
                "P[some client has t corrupt neighbours] <= 2^%.1f, "
                "P[some client keeps fewer than t] <= 2^%.1f\n",
                static_cast<long long>(n), absl::GetFlag(FLAGS_secagg_dropout),
                absl::GetFlag(FLAGS_secagg_corrupt), p->neighbours,
                p->neighbours == n - 1 ? " (everyone: plain SecAgg)" : "", p->threshold,
                p->log2_security_failure, p->log2_correctness_failure);
    return 0;
  }
  const double q = absl::GetFlag(FLAGS_q), z = absl::GetFlag(FLAGS_z);
  const double delta = absl::GetFlag(FLAGS_delta), target = absl::GetFlag(FLAGS_epsilon);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  if (absl::GetFlag(FLAGS_curve)) {
    auto curve = SubsampledGaussianRdpCurve(q, z, DefaultRdpOrders());
    if (!curve.ok()) {
      std::fprintf(stderr, "tailor privacy: %s\n", std::string(curve.status().message()).c_str());
      return 2;
    }
    std::printf("{\"q\":%.17g,\"z\":%.17g,\"orders\":[", q, z);
    for (size_t i = 0; i < curve->size(); ++i) {
      std::printf("%s%.17g", i ? "," : "", DefaultRdpOrders()[i]);
    }
    std::printf("],\"rdp\":[");
    for (size_t i = 0; i < curve->size(); ++i) std::printf("%s%.17g", i ? "," : "", (*curve)[i]);
    std::printf("]}\n");
    return 0;
  }
  if ((z > 0) == (target > 0)) {
    std::fprintf(stderr,
                 "tailor privacy: give exactly one of --z (to get epsilon) and "
                 "--epsilon (to get z)\n");
    return 2;
  }
  const std::string accountant = absl::GetFlag(FLAGS_accountant);
  if (accountant != "rdp" && accountant != "pld" && accountant != "both") {
    std::fprintf(stderr, "tailor privacy: --accountant must be rdp, pld or both, got '%s'\n",
                 accountant.c_str());
    return 2;
  }
  if (z > 0 && accountant != "rdp") {
    auto pld = PldEpsilon(q, z, steps, delta);
    if (!pld.ok()) {
      std::fprintf(stderr, "tailor privacy: %s\n", std::string(pld.status().message()).c_str());
      return 2;
    }
    if (accountant == "pld") {
      std::printf("epsilon: %.6f\ndelta:   %g\n(PLD of the Poisson-subsampled Gaussian, q=%g, "
                  "z=%g, %lld steps, add/remove neighbours)\n",
                  *pld, delta, q, z, static_cast<long long>(steps));
      return 0;
    }
    auto rdp = SubsampledGaussianEpsilon(q, z, steps, delta);
    if (!rdp.ok()) {
      std::fprintf(stderr, "tailor privacy: %s\n", std::string(rdp.status().message()).c_str());
      return 2;
    }
    std::printf("epsilon (RDP): %.6f\nepsilon (PLD): %.6f (%.1f%% lower)\ndelta:         %g\n",
                rdp->epsilon, *pld, 100 * (1 - *pld / rdp->epsilon), delta);
    return 0;
  }
  if (z > 0) {
    auto spent = SubsampledGaussianEpsilon(q, z, steps, delta);
    if (!spent.ok()) {
      std::fprintf(stderr, "tailor privacy: %s\n", std::string(spent.status().message()).c_str());
      return 2;
    }
    if (absl::GetFlag(FLAGS_json)) {
      std::printf("{\"epsilon\":%.17g,\"order\":%.17g,\"delta\":%.17g}\n", spent->epsilon,
                  spent->order, delta);
      return 0;
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
  // Printed rounded up, so that the z a user copies still meets the target.
  std::printf(
      "z: %.4f\n(the smallest noise multiplier with epsilon <= %g at delta %g, q=%g, "
      "%lld steps)\n",
      std::ceil(*needed * 1e4) / 1e4, target, delta, q, static_cast<long long>(steps));
  return 0;
}

}  // namespace tailor
