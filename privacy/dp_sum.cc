#include "privacy/dp_sum.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/parameter_math.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

// The noise spans at least this many grid steps, and at least 500·z·√d so that the rounding
// margin g·√d/2 stays below S/1000.
constexpr double kMinNoiseSteps = 1 << 20;

bool FiniteAndPositive(double x) { return x > 0 && std::isfinite(x); }

}  // namespace

absl::StatusOr<std::unique_ptr<DpSumAggregator>> DpSumAggregator::Create(
    const DpSumOptions& options) {
  if (!FiniteAndPositive(options.clip_norm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DP clip norm ", options.clip_norm, " must be finite and > 0"));
  }
  if (!FiniteAndPositive(options.noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DP noise multiplier ", options.noise_multiplier, " must be finite and > 0"));
  }
  if (!FiniteAndPositive(options.expected_cohort)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DP expected cohort size ", options.expected_cohort, " must be finite and > 0"));
  }
  if (options.rng == nullptr) return absl::InvalidArgumentError("DP sum needs a noise source");
  return std::unique_ptr<DpSumAggregator>(new DpSumAggregator(options));
}

absl::Status DpSumAggregator::Begin(const ParameterSet& schema) {
  TAILOR_RETURN_IF_ERROR(CheckFloatingSchema(schema));
  schema_ = ParameterSchema::Of(schema);
  const double d = static_cast<double>(schema_.TotalElements());
  const double z = options_.noise_multiplier, s = options_.clip_norm;
  const double steps = std::max(kMinNoiseSteps, 500 * z * std::sqrt(d));
  grid_ = std::exp2(std::floor(std::log2(z * s / steps)));
  const double sigma = z * s / grid_;  // in [steps, 2·steps)
  const double sigma_squared = std::ceil(sigma * sigma);
  if (sigma_squared > static_cast<double>(DiscreteGaussianSampler::kMaxSigmaSquared)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DP noise cannot be sampled on a fine enough grid for ", d,
        " parameters at noise multiplier ", z, " (z·sqrt(d) must stay below 2.6e5)"));
  }
  sigma_squared_ = static_cast<uint64_t>(sigma_squared);
  // S' = S - g·√d/2, less a relative 1e-9 for the rounding of x·factor/g in double.
  effective_clip_ = (s - grid_ * std::sqrt(d) / 2) * (1 - 1e-9);
  max_updates_ = static_cast<int64_t>(std::ldexp(1.0, 61) / (s / grid_));
  sums_.assign(static_cast<size_t>(d), 0);
  num_updates_ = 0;
  num_clipped_ = 0;
  begun_ = true;
  return absl::OkStatus();
}

absl::Status DpSumAggregator::Add(const ParameterSet& update, double weight) {
  if (!begun_) return absl::FailedPreconditionError("DP sum: Add before Begin");
  if (!FiniteAndPositive(weight)) {
    return absl::InvalidArgumentError(absl::StrCat("weight ", weight, " must be finite and > 0"));
  }
  TAILOR_RETURN_IF_ERROR(schema_.Check(update, "update"));
  TAILOR_RETURN_IF_ERROR(Annotate(update.CheckFinite(), "update"));
  if (num_updates_ >= max_updates_) {
    return absl::OutOfRangeError(
        absl::StrCat("DP sum holds ", num_updates_, " updates; more could overflow"));
  }
  const double norm = L2Norm(update);
  if (norm > options_.clip_norm) ++num_clipped_;
  const double factor = (norm > effective_clip_ ? effective_clip_ / norm : 1.0) / grid_;
  size_t i = 0;
  for (const auto& e : update.entries()) {
    if (e.tensor.dtype() == DType::kFloat32) {
      for (float v : e.tensor.f32()) sums_[i++] += std::llrint(v * factor);
    } else {
      for (double v : e.tensor.f64()) sums_[i++] += std::llrint(v * factor);
    }
  }
  ++num_updates_;
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> DpSumAggregator::Finalize() {
  if (!begun_) return absl::FailedPreconditionError("DP sum: Finalize before Begin");
  TAILOR_ASSIGN_OR_RETURN(DiscreteGaussianSampler noise,
                          DiscreteGaussianSampler::Create(sigma_squared_));
  ParameterSet out = schema_.UninitializedSet();
  const double scale = grid_ / options_.expected_cohort;
  size_t i = 0;
  for (size_t t = 0; t < out.size(); ++t) {
    Tensor& x = out.entry(t).tensor;
    if (x.dtype() == DType::kFloat32) {
      for (float& v : x.f32()) {
        v = static_cast<float>(static_cast<double>(sums_[i++] + noise.Sample(*options_.rng)) *
                               scale);
      }
    } else {
      for (double& v : x.f64()) {
        v = static_cast<double>(sums_[i++] + noise.Sample(*options_.rng)) * scale;
      }
    }
  }
  begun_ = false;
  return out;
}

}  // namespace tailor
