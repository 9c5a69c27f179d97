#include "aggregation/weighted_mean.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr double kScale = 4294967296.0;  // 2^32
constexpr double kLimit = 9.2e18;        // below 2^63, for the rounded term

// Quantizes one weighted term; false when it does not fit in int64.
inline bool Quantize(double value, double weight, int64_t* out) {
  const double scaled = value * weight * kScale;
  if (!(std::fabs(scaled) < kLimit)) return false;  // also rejects NaN
  *out = static_cast<int64_t>(std::nearbyint(scaled));
  return true;
}

template <typename T>
absl::Status AccumulateTensor(absl::Span<const T> values, double weight, int64_t* sums,
                              const std::string& name) {
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t q = 0;
    if (!Quantize(static_cast<double>(values[i]), weight, &q) ||
        __builtin_add_overflow(sums[i], q, &sums[i])) {
      // Undo this tensor's partial sum before reporting.
      for (size_t j = 0; j < i; ++j) {
        int64_t undo = 0;
        Quantize(static_cast<double>(values[j]), weight, &undo);
        sums[j] -= undo;
      }
      return absl::OutOfRangeError(
          absl::StrCat("update value ", values[i], " x weight ", weight, " in tensor '", name,
                       "' overflows the fixed-point accumulator (|sum| must stay below 2^31)"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
void SubtractTensor(absl::Span<const T> values, double weight, int64_t* sums) {
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t q = 0;
    Quantize(static_cast<double>(values[i]), weight, &q);
    sums[i] -= q;
  }
}

}  // namespace

absl::Status WeightedMeanAggregator::Begin(const ParameterSet& schema) {
  schema_ = ParameterSet();
  for (const auto& e : schema.entries()) {
    if (!e.tensor.IsFloating()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot average non-floating tensor '", e.name, "'"));
    }
    TAILOR_RETURN_IF_ERROR(schema_.Add(e.name, Tensor(e.tensor.dtype(), e.tensor.shape())));
  }
  sums_.assign(static_cast<size_t>(schema_.TotalElements()), 0);
  weight_sum_ = 0;
  num_updates_ = 0;
  begun_ = true;
  return absl::OkStatus();
}

absl::Status WeightedMeanAggregator::Add(const ParameterSet& update, double weight) {
  if (!begun_) return absl::FailedPreconditionError("Add before Begin");
  if (!(weight > 0) || !std::isfinite(weight) || weight * kScale >= kLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("aggregation weight must be a finite "
                     "positive number below 2^31, got ",
                     weight));
  }
  TAILOR_RETURN_IF_ERROR(schema_.CheckSameSchema(update, "update"));
  size_t offset = 0;
  for (size_t t = 0; t < update.size(); ++t) {
    const NamedTensor& e = update.entry(t);
    absl::Status s = e.tensor.dtype() == DType::kFloat32
                         ? AccumulateTensor(e.tensor.f32(), weight, sums_.data() + offset, e.name)
                         : AccumulateTensor(e.tensor.f64(), weight, sums_.data() + offset, e.name);
    if (!s.ok()) {
      // Roll back the tensors already added so the aggregate is untouched.
      size_t back = 0;
      for (size_t u = 0; u < t; ++u) {
        const Tensor& prev = update.entry(u).tensor;
        if (prev.dtype() == DType::kFloat32) {
          SubtractTensor(prev.f32(), weight, sums_.data() + back);
        } else {
          SubtractTensor(prev.f64(), weight, sums_.data() + back);
        }
        back += static_cast<size_t>(prev.numel());
      }
      return s;
    }
    offset += static_cast<size_t>(e.tensor.numel());
  }
  weight_sum_ += static_cast<__int128>(std::nearbyint(weight * kScale));
  ++num_updates_;
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> WeightedMeanAggregator::Finalize() {
  if (!begun_) return absl::FailedPreconditionError("Finalize before Begin");
  if (num_updates_ == 0) {
    return absl::FailedPreconditionError("cannot aggregate an empty cohort: no update was added");
  }
  ParameterSet out = schema_;
  // sums are scaled by 2^32 and so is the weight sum: the ratio needs no rescaling.
  const double total_weight = static_cast<double>(weight_sum_);
  size_t offset = 0;
  for (size_t t = 0; t < out.size(); ++t) {
    Tensor& dst = out.entry(t).tensor;
    const size_t n = static_cast<size_t>(dst.numel());
    if (dst.dtype() == DType::kFloat32) {
      auto v = dst.f32();
      for (size_t i = 0; i < n; ++i) {
        v[i] = static_cast<float>(static_cast<double>(sums_[offset + i]) / total_weight);
      }
    } else {
      auto v = dst.f64();
      for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(sums_[offset + i]) / total_weight;
    }
    offset += n;
  }
  return out;
}

}  // namespace tailor
