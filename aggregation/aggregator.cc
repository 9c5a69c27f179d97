#include "aggregation/aggregator.h"

#include "absl/strings/str_cat.h"
#include "aggregation/coordinate_robust.h"
#include "aggregation/weighted_mean.h"

namespace tailor {

absl::StatusOr<std::unique_ptr<StreamingAggregator>> CreateAggregator(
    const AggregatorOptions& options) {
  if (options.name == "weighted_mean") return std::make_unique<WeightedMeanAggregator>();
  if (options.name == "median") {
    return std::make_unique<CoordinateRobustAggregator>(
        CoordinateRobustAggregator::Rule::kMedian, 0);
  }
  if (options.name == "trimmed_mean") {
    if (!(options.trim_fraction >= 0 && options.trim_fraction < 0.5)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trimmed_mean needs trim_fraction in [0, 0.5), got ", options.trim_fraction));
    }
    return std::make_unique<CoordinateRobustAggregator>(
        CoordinateRobustAggregator::Rule::kTrimmedMean, options.trim_fraction);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown aggregator '", options.name, "' (known: weighted_mean, median, trimmed_mean)"));
}

}  // namespace tailor
