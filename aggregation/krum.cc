#include "aggregation/krum.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "aggregation/weighted_mean.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

template <typename T>
double SquaredDistance(absl::Span<const T> a, absl::Span<const T> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += d * d;
  }
  return sum;
}

double SquaredDistance(const ParameterSet& a, const ParameterSet& b) {
  double sum = 0;
  for (size_t t = 0; t < a.size(); ++t) {
    const Tensor& x = a.entry(t).tensor;
    const Tensor& y = b.entry(t).tensor;
    sum += x.dtype() == DType::kFloat32 ? SquaredDistance(x.f32(), y.f32())
                                        : SquaredDistance(x.f64(), y.f64());
  }
  return sum;
}

// A total order on update contents, to break score ties independently of arrival order.
int CompareContents(const ParameterSet& a, const ParameterSet& b) {
  for (size_t t = 0; t < a.size(); ++t) {
    const Tensor& x = a.entry(t).tensor;
    const int c = std::memcmp(x.data(), b.entry(t).tensor.data(), x.byte_size());
    if (c != 0) return c;
  }
  return 0;
}

}  // namespace

KrumAggregator::KrumAggregator(int byzantine, int selected)
    : byzantine_(byzantine), selected_(selected) {}

absl::Status KrumAggregator::Begin(const ParameterSet& schema) {
  TAILOR_RETURN_IF_ERROR(CheckFloatingSchema(schema));
  schema_ = ParameterSchema::Of(schema);
  updates_.clear();
  selection_.clear();
  return absl::OkStatus();
}

absl::Status KrumAggregator::Add(const ParameterSet& update, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) {
    return absl::InvalidArgumentError(absl::StrCat("weight ", weight, " must be finite and > 0"));
  }
  TAILOR_RETURN_IF_ERROR(schema_.Check(update, "update"));
  TAILOR_RETURN_IF_ERROR(Annotate(update.CheckFinite(), "update"));
  updates_.push_back({update, weight});
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> KrumAggregator::Finalize() {
  const int n = static_cast<int>(updates_.size());
  if (n == 0) return absl::FailedPreconditionError("no updates to aggregate: the cohort sent none");
  const int f = byzantine_ >= 0 ? byzantine_ : n / 5;
  if (n <= 2 * f + 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("krum tolerating f=", f, " Byzantine clients needs more than 2f+2=", 2 * f + 2,
                     " updates, got ", n));
  }
  const int m = selected_ == 0 ? n - f : selected_;
  if (m < 1 || m > n - f) {
    return absl::FailedPreconditionError(
        absl::StrCat("multi_krum selects m in [1, n-f=", n - f, "] updates, asked for ", m));
  }
  std::vector<double> distance(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      const double d = SquaredDistance(updates_[i].update, updates_[j].update);
      distance[static_cast<size_t>(i) * n + j] = distance[static_cast<size_t>(j) * n + i] = d;
    }
  }
  const int neighbours = n - f - 2;
  std::vector<double> score(n);
  std::vector<double> row;
  for (int i = 0; i < n; ++i) {
    row.clear();
    for (int j = 0; j < n; ++j) {
      if (j != i) row.push_back(distance[static_cast<size_t>(i) * n + j]);
    }
    std::sort(row.begin(), row.end());
    double s = 0;
    for (int k = 0; k < neighbours; ++k) s += row[k];
    score[i] = s;
  }
  std::vector<size_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (score[a] != score[b]) return score[a] < score[b];
    const int c = CompareContents(updates_[a].update, updates_[b].update);
    if (c != 0) return c < 0;
    return updates_[a].weight < updates_[b].weight;
  });
  selection_.assign(order.begin(), order.begin() + m);
  if (m == 1) return updates_[selection_[0]].update;  // Krum: the chosen update itself

  WeightedMeanAggregator mean;
  TAILOR_RETURN_IF_ERROR(mean.Begin(updates_[0].update));  // any update has the layout
  for (size_t i : selection_) {
    TAILOR_RETURN_IF_ERROR(mean.Add(updates_[i].update, updates_[i].weight));
  }
  return mean.Finalize();
}

}  // namespace tailor
