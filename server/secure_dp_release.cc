#include "server/secure_dp_release.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "privacy/secagg_input.h"

namespace tailor {

absl::StatusOr<SecureDpRelease> ReleaseSecureDpSum(const SecureSum& sum, int64_t values,
                                                   const SecureDpReleaseOptions& options,
                                                   DpSumAggregator& dp_sum) {
  TAILOR_ASSIGN_OR_RETURN(SecAggDpSum dp, DecodeSecAggDpSum(values, sum.words, options.field_bits));
  if (dp.count != static_cast<int64_t>(sum.survivors.size())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the secure sum counts ", dp.count, " clients but ", sum.survivors.size(),
        " inputs were summed"));
  }
  SecureDpRelease out;
  out.count = dp.count;
  out.within_clip = dp.within_clip;
  out.carried_noise_multiplier = options.noise_multiplier;
  if (options.noise_share == 0) {
    TAILOR_RETURN_IF_ERROR(dp_sum.AddGridSum(dp.sums, dp.count));
    TAILOR_ASSIGN_OR_RETURN(out.mean_delta, dp_sum.Finalize());
    return out;
  }
  // n shares of sigma_c^2 each: at least the configured sigma^2, as n >= the threshold.
  const double carried = static_cast<double>(options.noise_share) * static_cast<double>(dp.count);
  TAILOR_RETURN_IF_ERROR(dp_sum.AddGridSum(dp.sums, dp.count, carried));
  TAILOR_ASSIGN_OR_RETURN(out.mean_delta, dp_sum.FinalizeWithoutNoise());
  // n·sigma_c^2 >= sigma^2 >= (zS/g)^2 exactly; the max only absorbs double rounding.
  out.carried_noise_multiplier =
      std::max(options.noise_multiplier,
               std::sqrt(carried) * dp_sum.grid().grid / options.clip_norm);
  return out;
}

absl::StatusOr<SecureDpRelease> ReleaseNoiseAlone(const SecureDpReleaseOptions& options,
                                                  DpSumAggregator& dp_sum) {
  SecureDpRelease out;
  out.carried_noise_multiplier = options.noise_multiplier;
  TAILOR_ASSIGN_OR_RETURN(out.mean_delta, dp_sum.Finalize());
  return out;
}

}  // namespace tailor
