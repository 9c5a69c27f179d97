#include "aggregation/weighted_mean.h"

#include <cassert>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "aggregation/fixed_point_kernel.h"
#include "core/cpu_dispatch.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr double kScale = 4294967296.0;  // 2^32
constexpr double kLimit = 9.2e18;        // below 2^63, for the rounded term

// Quantizes one weighted term; false when it does not fit in int64.
inline bool Quantize(double value, double weight, int64_t* out) {
  const double scaled = value * (weight * kScale);  // as the vector kernel computes it
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

// 2^62: a sum bound below it leaves room for every term's rounding.
constexpr double kSumBound = 4611686018427387904.0;
// Elements per tile of the buffered fold: 512 KiB of sums, resident in L2 while the buffered
// updates pass over them.
constexpr size_t kTile = 65536;

}  // namespace

absl::Status WeightedMeanAggregator::Begin(const ParameterSet& schema) {
  TAILOR_RETURN_IF_ERROR(CheckFloatingSchema(schema));
  offsets_.clear();
  size_t offset = 0;
  for (const auto& e : schema.entries()) {
    offsets_.push_back(offset);
    offset += static_cast<size_t>(e.tensor.numel());
  }
  schema_ = ParameterSchema::Of(schema);
  sums_.resize(offset);  // left undefined: the first fold writes them (EnsureSumsZeroed)
  sums_valid_ = false;
  bound_.assign(schema_.size(), 0.0);
  pending_.clear();
  pending_bytes_ = 0;
  weight_sum_ = 0;
  num_updates_ = 0;
  begun_ = true;
  return absl::OkStatus();
}

absl::Status WeightedMeanAggregator::Admit(const ParameterSet& update, double weight,
                                           const std::vector<double>* max_abs, bool* fast) {
  if (!begun_) return absl::FailedPreconditionError("Add before Begin");
  if (!(weight > 0) || !std::isfinite(weight) || weight * kScale >= kLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("aggregation weight must be a finite "
                     "positive number below 2^31, got ",
                     weight));
  }
  TAILOR_RETURN_IF_ERROR(schema_.Check(update, "update"));
  const double scale = weight * kScale;
  std::vector<double> terms(update.size());
  *fast = true;
  for (size_t t = 0; t < update.size(); ++t) {
    const double largest = max_abs != nullptr && max_abs->size() == update.size()
                               ? (*max_abs)[t]
                               : update.entry(t).tensor.MaxAbs();
    if (!std::isfinite(largest)) {
      return absl::InvalidArgumentError(
          absl::StrCat("update tensor '", update.entry(t).name, "' holds a non-finite value"));
    }
    terms[t] = largest * scale + 1;  // + 1: rounding moves a term by at most half a unit
    *fast = *fast && largest * scale < kFixedPointFastLimit && bound_[t] + terms[t] < kSumBound;
  }
  // Charged whatever the path (and even if the exact path later refuses the update: a loose
  // bound only sends later updates down the exact path too), so it always bounds every sum.
  for (size_t t = 0; t < terms.size(); ++t) bound_[t] += terms[t];
  return absl::OkStatus();
}

void WeightedMeanAggregator::Count(double weight) {
  weight_sum_ += static_cast<__int128>(std::nearbyint(weight * kScale));
  ++num_updates_;
}

absl::Status WeightedMeanAggregator::Add(const ParameterSet& update, double weight) {
  bool fast = false;
  TAILOR_RETURN_IF_ERROR(Admit(update, weight, nullptr, &fast));
  Flush();  // keep the order of folds simple: what waited goes first
  TAILOR_RETURN_IF_ERROR(FoldNow(update, weight, fast));
  Count(weight);
  return absl::OkStatus();
}

absl::Status WeightedMeanAggregator::AddShared(std::shared_ptr<const ParameterSet> update,
                                               double weight, const std::vector<double>* max_abs) {
  if (update == nullptr) return absl::InvalidArgumentError("null update");
  bool fast = false;
  TAILOR_RETURN_IF_ERROR(Admit(*update, weight, max_abs, &fast));
  if (!fast || buffer_bytes_ <= 0) {
    // Big or suspicious values take the exact path, after everything buffered before them.
    Flush();
    TAILOR_RETURN_IF_ERROR(FoldNow(*update, weight, fast));
    Count(weight);
    return absl::OkStatus();
  }
  pending_bytes_ += static_cast<int64_t>(update->TotalBytes());
  pending_.push_back({std::move(update), weight * kScale});
  Count(weight);
  if (pending_bytes_ >= buffer_bytes_) Flush();
  return absl::OkStatus();
}

void WeightedMeanAggregator::EnsureSumsZeroed() {
  if (sums_valid_) return;
  std::fill(sums_.begin(), sums_.end(), 0);
  sums_valid_ = true;
}

namespace {

// mean[i] = sums[i] / total for a run of sums whose magnitudes are below 2^51: the int64 to
// double conversion goes through the same 1.5·2^52 trick (exact in that range, and the same
// double as a cast), which vectorizes where a cast does not (AVX2 has no int64 -> double).
TAILOR_AVX2_CLONES void WriteMeanSmall(const int64_t* sums, size_t n, double total, float* out) {
  constexpr double kMagicValue = 6755399441055744.0;  // 1.5 · 2^52
  int64_t magic_bits;
  std::memcpy(&magic_bits, &kMagicValue, sizeof(magic_bits));
  for (size_t i = 0; i < n; ++i) {
    const int64_t bits = sums[i] + magic_bits;
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    out[i] = static_cast<float>((d - kMagicValue) / total);
  }
}

// mean[i] = sums[i] / total for one tile of a tensor. `small`: every |sum| < 2^51.
void WriteMean(const int64_t* sums, size_t n, double total_weight, bool small, Tensor* dst,
               size_t begin) {
  if (dst->dtype() == DType::kFloat32) {
    float* v = dst->f32().data() + begin;
    if (small) {
      WriteMeanSmall(sums, n, total_weight, v);
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      v[i] = static_cast<float>(static_cast<double>(sums[i]) / total_weight);
    }
  } else {
    double* v = dst->f64().data() + begin;
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(sums[i]) / total_weight;
  }
}

}  // namespace

void WeightedMeanAggregator::Flush(ParameterSet* out) {
  if (pending_.empty()) return;
  const bool first = !sums_valid_;
  // The whole round in one fold (every update fit the buffer): the sums need not outlive their
  // tile, so they live in one cache-resident scratch tile and never travel to memory.
  const bool scratch = first && out != nullptr;
  if (scratch) scratch_.resize(kTile);
  const double total_weight = static_cast<double>(weight_sum_);
  for (size_t t = 0; t < schema_.size(); ++t) {
    const size_t n = static_cast<size_t>(schema_.entry(t).numel);
    const bool f32 = schema_.entry(t).dtype == DType::kFloat32;
    for (size_t begin = 0; begin < n; begin += kTile) {
      const size_t len = std::min(kTile, n - begin);
      int64_t* tile = scratch ? scratch_.data() : sums_.data() + offsets_[t] + begin;
      for (size_t k = 0; k < pending_.size(); ++k) {
        const Tensor& x = pending_[k].update->entry(t).tensor;
        // No checks needed: Admit proved every term fits and no sum can overflow. The first
        // update of a round's first fold writes the sums (they start undefined).
        const bool assign = first && k == 0;
        if (f32) {
          AccumulateFixedPointUnchecked(x.f32().data() + begin, len, pending_[k].scale, tile,
                                        assign);
        } else {
          AccumulateFixedPointUnchecked(x.f64().data() + begin, len, pending_[k].scale, tile,
                                        assign);
        }
      }
      if (out != nullptr) {
        WriteMean(tile, len, total_weight, bound_[t] < kFixedPointFastLimit, &out->entry(t).tensor,
                  begin);
      }
    }
  }
  sums_valid_ = !scratch;  // after a scratch fold the round is over (Finalize)
  pending_.clear();
  pending_bytes_ = 0;
}

absl::Status WeightedMeanAggregator::FoldNow(const ParameterSet& update, double weight, bool fast) {
  EnsureSumsZeroed();
  for (size_t t = 0; t < update.size(); ++t) {
    const NamedTensor& e = update.entry(t);
    int64_t* sums = sums_.data() + offsets_[t];
    if (fast) {
      const bool ok = e.tensor.dtype() == DType::kFloat32
                          ? AccumulateFixedPointFast(e.tensor.f32().data(), e.tensor.numel(),
                                                     weight * kScale, sums)
                          : AccumulateFixedPointFast(e.tensor.f64().data(), e.tensor.numel(),
                                                     weight * kScale, sums);
      assert(ok);
      (void)ok;
      continue;
    }
    absl::Status s = e.tensor.dtype() == DType::kFloat32
                         ? AccumulateTensor(e.tensor.f32(), weight, sums, e.name)
                         : AccumulateTensor(e.tensor.f64(), weight, sums, e.name);
    if (!s.ok()) {
      // Roll back the tensors already added so the aggregate is untouched.
      for (size_t u = 0; u < t; ++u) {
        const Tensor& prev = update.entry(u).tensor;
        if (prev.dtype() == DType::kFloat32) {
          SubtractTensor(prev.f32(), weight, sums_.data() + offsets_[u]);
        } else {
          SubtractTensor(prev.f64(), weight, sums_.data() + offsets_[u]);
        }
      }
      return s;
    }
  }
  return absl::OkStatus();
}

bool WeightedFixedPointTerm(double value, double weight, int64_t* term) {
  return Quantize(value, weight, term);
}

int64_t WeightFixedPointTerm(double weight) {
  return static_cast<int64_t>(std::nearbyint(weight * kScale));
}

absl::StatusOr<ParameterSet> WeightedMeanFromSums(const ParameterSet& schema,
                                                  absl::Span<const int64_t> sums,
                                                  int64_t weight_sum) {
  if (weight_sum <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("a weight sum of ", weight_sum));
  }
  if (sums.size() != static_cast<size_t>(schema.TotalElements())) {
    return absl::InvalidArgumentError(absl::StrCat(sums.size(), " sums for a model of ",
                                                   schema.TotalElements(), " values"));
  }
  ParameterSet out = schema;
  size_t at = 0;
  for (size_t t = 0; t < out.size(); ++t) {
    Tensor& dst = out.entry(t).tensor;
    const size_t n = static_cast<size_t>(dst.numel());
    // The small path writes the same doubles as a cast for |sum| < 2^51, so a cast serves all.
    WriteMean(sums.data() + at, n, static_cast<double>(weight_sum), /*small=*/false, &dst, 0);
    at += n;
  }
  return out;
}

absl::StatusOr<ParameterSet> WeightedMeanAggregator::Finalize() {
  if (!begun_) return absl::FailedPreconditionError("Finalize before Begin");
  if (num_updates_ == 0) {
    return absl::FailedPreconditionError("cannot aggregate an empty cohort: no update was added");
  }
  // sums are scaled by 2^32 and so is the weight sum: the ratio needs no rescaling.
  ParameterSet out = schema_.UninitializedSet();  // every value is written below
  if (!pending_.empty()) {
    Flush(&out);  // the last fold writes the mean tile by tile
    return out;
  }
  const double total_weight = static_cast<double>(weight_sum_);
  for (size_t t = 0; t < out.size(); ++t) {
    Tensor& dst = out.entry(t).tensor;
    WriteMean(sums_.data() + offsets_[t], static_cast<size_t>(dst.numel()), total_weight,
              bound_[t] < kFixedPointFastLimit, &dst, 0);
  }
  return out;
}

}  // namespace tailor
