// Coordinate-wise robust rules (Yin et al., "Byzantine-Robust Distributed Learning: Towards
// Optimal Statistical Rates", ICML 2018): each parameter of the result is the median, or the
// β-trimmed mean, of that parameter over the cohort's updates. A minority of arbitrary
// (malicious or broken) updates cannot move it beyond the honest values' range.
//
// Memory: these rules need every value of a coordinate at once, so they hold all K updates:
// K × P values (K updates of P parameters), against O(P) for the weighted mean.
//
// Weights are ignored on purpose: a client's claimed sample count is not verified, and letting
// it scale a client's influence would hand a Byzantine client the lever these rules remove.
//
// Arrival order cannot change the result: each coordinate's values are sorted before they are
// combined, and the trimmed mean sums the kept values in sorted order (bitwise reproducible).
#ifndef TAILOR_AGGREGATION_COORDINATE_ROBUST_H_
#define TAILOR_AGGREGATION_COORDINATE_ROBUST_H_

#include <vector>

#include "aggregation/aggregator.h"
#include "core/parameter_schema.h"

namespace tailor {

class CoordinateRobustAggregator : public StreamingAggregator {
 public:
  enum class Rule { kMedian, kTrimmedMean };
  // `trim_fraction` (trimmed mean): the share β of updates dropped at each end per coordinate,
  // floor(β·K) of them; 0 <= β < 0.5.
  CoordinateRobustAggregator(Rule rule, double trim_fraction);

  absl::Status Begin(const ParameterSet& schema) override;
  absl::Status Add(const ParameterSet& update, double weight) override;
  absl::StatusOr<ParameterSet> Finalize() override;
  int64_t num_updates() const override { return static_cast<int64_t>(updates_.size()); }

 private:
  // Combines one coordinate's values (sorted in place).
  double Combine(std::vector<double>& values) const;

  const Rule rule_;
  const double trim_fraction_;
  ParameterSchema schema_;
  std::vector<ParameterSet> updates_;
};

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_COORDINATE_ROBUST_H_
