#include "aggregation/aggregator.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "aggregation/coordinate_robust.h"
#include "aggregation/krum.h"
#include "aggregation/norm_bounded.h"
#include "aggregation/weighted_mean.h"

namespace tailor {

absl::Status CheckFloatingSchema(const ParameterSet& schema) {
  for (const auto& e : schema.entries()) {
    if (!e.tensor.IsFloating()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", e.name, "' is ",
                                                     DTypeName(e.tensor.dtype()),
                                                     "; aggregation needs floating point"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StreamingAggregator>> CreateAggregator(
    const AggregatorOptions& options) {
  if (!(options.norm_bound >= 0) || !std::isfinite(options.norm_bound)) {
    return absl::InvalidArgumentError(
        absl::StrCat("norm_bound must be finite and >= 0, got ", options.norm_bound));
  }
  if (options.norm_bound > 0 && options.name != "weighted_mean") {
    return absl::InvalidArgumentError(
        absl::StrCat("norm_bound applies to weighted_mean, not to ", options.name,
                     " (the robust rules bound outliers themselves)"));
  }
  if (options.name == "weighted_mean") {
    if (options.buffer_bytes < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("buffer_bytes must be >= 0, got ", options.buffer_bytes));
    }
    auto mean = std::make_unique<WeightedMeanAggregator>(options.buffer_bytes);
    if (options.norm_bound == 0) return mean;
    return std::make_unique<NormBoundedAggregator>(options.norm_bound, std::move(mean));
  }
  if (options.name == "median") {
    return std::make_unique<CoordinateRobustAggregator>(CoordinateRobustAggregator::Rule::kMedian,
                                                        0);
  }
  if (options.name == "trimmed_mean") {
    if (!(options.trim_fraction >= 0 && options.trim_fraction < 0.5)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trimmed_mean needs trim_fraction in [0, 0.5), got ", options.trim_fraction));
    }
    return std::make_unique<CoordinateRobustAggregator>(
        CoordinateRobustAggregator::Rule::kTrimmedMean, options.trim_fraction);
  }
  if (options.name == "krum" || options.name == "multi_krum") {
    if (options.byzantine_clients < -1) {
      return absl::InvalidArgumentError(
          absl::StrCat("byzantine_clients must be >= 0 (or -1: a fifth of the updates), got ",
                       options.byzantine_clients));
    }
    if (options.multi_krum_selected < 0 ||
        (options.name == "krum" && options.multi_krum_selected != 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("multi_krum_selected must be >= 0 and is multi_krum's, got ",
                       options.multi_krum_selected, " for ", options.name));
    }
    return std::make_unique<KrumAggregator>(
        options.byzantine_clients, options.name == "krum" ? 1 : options.multi_krum_selected);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown aggregator '", options.name,
                   "' (known: weighted_mean, median, trimmed_mean, krum, multi_krum)"));
}

}  // namespace tailor
