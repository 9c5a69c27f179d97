// Krum and Multi-Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant
// Gradient Descent", NeurIPS 2017). With n updates of which at most f are Byzantine (n > 2f+2),
// each update i is scored by the sum of squared L2 distances to its n - f - 2 nearest other
// updates; honest updates cluster, so an outlier scores high however it is crafted. Krum returns
// the best-scored update; Multi-Krum returns the weighted mean of the m best (m = n - f by
// default), trading some robustness for the variance reduction of averaging.
//
// Memory: every update is held until the round closes, K × P values, plus the K × K distance
// matrix. Time: K²/2 distances of P elements each.
//
// Arrival order cannot change the result: a distance is computed element by element in index
// order ((a-b)² is symmetric in IEEE arithmetic), a score sums its neighbours' distances in
// ascending order, equal scores are broken by comparing the updates' values (then weights), and
// the selected updates are averaged by the order-independent fixed-point weighted mean.
#ifndef TAILOR_AGGREGATION_KRUM_H_
#define TAILOR_AGGREGATION_KRUM_H_

#include <vector>

#include "aggregation/aggregator.h"
#include "core/parameter_schema.h"

namespace tailor {

class KrumAggregator : public StreamingAggregator {
 public:
  // `byzantine` = f, or -1 for floor(n/5) of the n updates received. `selected` = m: 1 is
  // Krum, 0 means n - f (Multi-Krum's default).
  KrumAggregator(int byzantine, int selected);

  absl::Status Begin(const ParameterSet& schema) override;
  absl::Status Add(const ParameterSet& update, double weight) override;
  // FAILED_PRECONDITION with no update, or when n <= 2f + 2 or m > n - f.
  absl::StatusOr<ParameterSet> Finalize() override;
  int64_t num_updates() const override { return static_cast<int64_t>(updates_.size()); }

  // Indices (into the order of Add) of the updates the last Finalize averaged, best first.
  const std::vector<size_t>& last_selection() const { return selection_; }

 private:
  struct Held {
    ParameterSet update;
    double weight;
  };
  const int byzantine_;
  const int selected_;
  ParameterSchema schema_;
  std::vector<Held> updates_;
  std::vector<size_t> selection_;
};

}  // namespace tailor

#endif  // TAILOR_AGGREGATION_KRUM_H_
