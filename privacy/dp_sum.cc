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

absl::StatusOr<DpSumGrid> ComputeDpSumGrid(int64_t values, double noise_multiplier,
                                           double clip_norm) {
  const double d = static_cast<double>(values);
  const double z = noise_multiplier, s = clip_norm;
  if (!FiniteAndPositive(z) || !FiniteAndPositive(s)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a DP grid needs z > 0 and S > 0, got ", z, " and ", s));
  }
  DpSumGrid g;
  const double steps = std::max(kMinNoiseSteps, 500 * z * std::sqrt(d));
  g.grid = std::exp2(std::floor(std::log2(z * s / steps)));
  const double sigma = z * s / g.grid;  // in [steps, 2·steps)
  const double sigma_squared = std::ceil(sigma * sigma);
  if (sigma_squared > static_cast<double>(DiscreteGaussianSampler::kMaxSigmaSquared)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DP noise cannot be sampled on a fine enough grid for ", d,
        " parameters at noise multiplier ", z, " (z·sqrt(d) must stay below 2.6e5)"));
  }
  g.sigma_squared = static_cast<uint64_t>(sigma_squared);
  // S' = S - g·√d/2, less a relative 1e-9 for the rounding of x·factor/g in double.
  g.effective_clip = (s - g.grid * std::sqrt(d) / 2) * (1 - 1e-9);
  return g;
}

absl::Status DpSumAggregator::Begin(const ParameterSet& schema) {
  TAILOR_RETURN_IF_ERROR(CheckFloatingSchema(schema));
  schema_ = ParameterSchema::Of(schema);
  const double d = static_cast<double>(schema_.TotalElements());
  const double s = options_.clip_norm;
  TAILOR_ASSIGN_OR_RETURN(const DpSumGrid g,
                          ComputeDpSumGrid(schema_.TotalElements(), options_.noise_multiplier, s));
  grid_ = g.grid;
  sigma_squared_ = g.sigma_squared;
  effective_clip_ = g.effective_clip;
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
  const double factor = DpGridFactor(norm, grid());
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

absl::Status DpSumAggregator::AddGridSum(absl::Span<const int64_t> sums, int64_t count,
                                         double noise_sigma_squared) {
  if (!begun_) return absl::FailedPreconditionError("DP sum: AddGridSum before Begin");
  if (num_updates_ != 0) {
    return absl::FailedPreconditionError("DP sum: a grid sum after other updates");
  }
  if (sums.size() != sums_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a grid sum of ", sums.size(), " values for ", sums_.size()));
  }
  if (count < 0 || count > max_updates_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a grid sum of ", count, " updates (at most ", max_updates_, " fit this grid)"));
  }
  // Each update is at most S/g in L2 norm, so a sum of `count` is at most count·S/g in every
  // coordinate: anything beyond is not a sum of clipped updates.
  // Noise it carries is allowed 12 standard deviations (a false refusal: < 1e-30 a value).
  const double bound = static_cast<double>(count) * options_.clip_norm / grid_ + 1 +
                       12 * std::sqrt(std::max(0.0, noise_sigma_squared));
  for (size_t i = 0; i < sums.size(); ++i) {
    if (std::fabs(static_cast<double>(sums[i])) > bound) {
      return absl::InvalidArgumentError(absl::StrCat(
          "grid sum value ", i, " = ", sums[i], " is beyond what ", count,
          " clipped updates can add up to"));
    }
  }
  sums_.assign(sums.begin(), sums.end());
  num_updates_ = count;
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> DpSumAggregator::Finalize() { return Release(true); }

absl::StatusOr<ParameterSet> DpSumAggregator::FinalizeWithoutNoise() { return Release(false); }

absl::StatusOr<ParameterSet> DpSumAggregator::Release(bool add_noise) {
  if (!begun_) return absl::FailedPreconditionError("DP sum: Finalize before Begin");
  TAILOR_ASSIGN_OR_RETURN(DiscreteGaussianSampler noise,
                          DiscreteGaussianSampler::Create(sigma_squared_));
  auto draw = [&] { return add_noise ? noise.Sample(*options_.rng) : int64_t{0}; };
  ParameterSet out = schema_.UninitializedSet();
  const double scale = grid_ / options_.expected_cohort;
  size_t i = 0;
  for (size_t t = 0; t < out.size(); ++t) {
    Tensor& x = out.entry(t).tensor;
    if (x.dtype() == DType::kFloat32) {
      for (float& v : x.f32()) {
        v = static_cast<float>(static_cast<double>(sums_[i++] + draw()) * scale);
      }
    } else {
      for (double& v : x.f64()) {
        v = static_cast<double>(sums_[i++] + draw()) * scale;
      }
    }
  }
  begun_ = false;
  return out;
}

}  // namespace tailor
