#include "privacy/secagg_input.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "aggregation/weighted_mean.h"
#include "core/parameter_math.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr double kLossScale = 65536.0;  // 2^16
constexpr double kMaxLoss = 1e6;        // clamped: a diverged client cannot wrap the loss sum
constexpr double kSumLimit = 2147483648.0;  // 2^31: with 32 fraction bits, sums stay below 2^63

}  // namespace

SecAggField SecAggWeightedField() { return SecAggField{64, std::ldexp(1.0, -32)}; }

size_t SecAggInputLength(int64_t values) { return static_cast<size_t>(values) + 2; }

absl::Status SecAggFits(int64_t cohort, double clip_norm, int64_t max_weight) {
  if (cohort < 1 || !(clip_norm > 0) || !std::isfinite(clip_norm) || max_weight < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation needs a cohort >= 1, a clip norm > 0 and a max weight >= 1, got ",
        cohort, ", ", clip_norm, " and ", max_weight));
  }
  const double weights = static_cast<double>(cohort) * static_cast<double>(max_weight);
  if (!(weights * clip_norm < kSumLimit) || !(weights < kSumLimit)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation of ", cohort, " clients with weights up to ", max_weight,
        " and a clip norm of ", clip_norm, " could wrap the 64-bit sum (cohort x max_weight x "
        "clip_norm must stay below 2^31 = 2147483648): lower secure_aggregation.max_weight or "
        "the clip norm, or use a smaller cohort"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> EncodeSecAggInput(const ParameterSet& delta, double weight,
                                                        double loss, double clip_norm,
                                                        int64_t max_weight) {
  if (!(weight > 0) || weight > static_cast<double>(max_weight)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a weight of ", weight, " outside (0, ", max_weight, "]"));
  }
  if (!std::isfinite(loss)) return absl::InvalidArgumentError("the training loss is not finite");
  std::vector<uint64_t> words;
  words.reserve(SecAggInputLength(delta.TotalElements()));
  // |Δ[i]| <= ‖Δ‖ <= clip_norm, with room for float rounding.
  const double limit = weight * clip_norm * 4294967296.0 * (1 + 1e-6) + 1;
  for (size_t t = 0; t < delta.size(); ++t) {
    const Tensor& x = delta.entry(t).tensor;
    const bool f32 = x.dtype() == DType::kFloat32;
    const float* f = f32 ? x.f32().data() : nullptr;
    const double* d = f32 ? nullptr : x.f64().data();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) {
      const double v = f32 ? static_cast<double>(f[i]) : d[i];
      int64_t term = 0;
      if (!WeightedFixedPointTerm(v, weight, &term) || std::fabs(static_cast<double>(term)) > limit) {
        return absl::InvalidArgumentError(absl::StrCat(
            delta.entry(t).name, "[", i, "] = ", v, " is not finite or beyond the clip norm ",
            clip_norm, ": clip the update before secure aggregation"));
      }
      words.push_back(static_cast<uint64_t>(term));
    }
  }
  words.push_back(static_cast<uint64_t>(WeightFixedPointTerm(weight)));
  const double clamped = std::max(-kMaxLoss, std::min(kMaxLoss, loss));
  words.push_back(static_cast<uint64_t>(static_cast<int64_t>(std::nearbyint(weight * clamped * kLossScale))));
  return words;
}

absl::StatusOr<std::vector<uint64_t>> EncodeSecAggDpInput(const ParameterSet& delta,
                                                          bool within_clip_norm,
                                                          const DpSumGrid& grid) {
  TAILOR_RETURN_IF_ERROR(Annotate(delta.CheckFinite(), "the update"));
  const double factor = DpGridFactor(L2Norm(delta), grid);
  std::vector<uint64_t> words;
  words.reserve(SecAggInputLength(delta.TotalElements()));
  for (const auto& e : delta.entries()) {
    if (e.tensor.dtype() == DType::kFloat32) {
      for (float v : e.tensor.f32()) words.push_back(static_cast<uint64_t>(std::llrint(v * factor)));
    } else {
      for (double v : e.tensor.f64()) words.push_back(static_cast<uint64_t>(std::llrint(v * factor)));
    }
  }
  words.push_back(1);
  words.push_back(within_clip_norm ? 1 : 0);
  return words;
}

absl::Status AddSecAggDpNoise(int64_t values, uint64_t sigma_squared, SecureRandom& rng,
                              std::vector<uint64_t>* words) {
  if (values < 0 || static_cast<size_t>(values) > words->size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("noise for ", values, " values of an input of ", words->size(), " words"));
  }
  TAILOR_ASSIGN_OR_RETURN(DiscreteGaussianSampler noise,
                          DiscreteGaussianSampler::Create(sigma_squared));
  for (int64_t i = 0; i < values; ++i) {
    (*words)[static_cast<size_t>(i)] += static_cast<uint64_t>(noise.Sample(rng));
  }
  return absl::OkStatus();
}

SecAggField SecAggDpField(int64_t max_clients, const DpSumGrid& grid,
                          uint64_t noise_sigma_squared) {
  const double per_client = std::ceil(grid.effective_clip / grid.grid) + 1 +
                            12 * std::sqrt(static_cast<double>(noise_sigma_squared));
  const double bound = static_cast<double>(std::max<int64_t>(1, max_clients)) * per_client;
  const int bits = static_cast<int>(std::ceil(std::log2(bound + 1))) + 1;
  return SecAggField{bits > 62 ? 64 : bits, grid.grid};
}

absl::StatusOr<SecAggDpSum> DecodeSecAggDpSum(int64_t values, absl::Span<const uint64_t> sum,
                                              int bits) {
  if (sum.size() != SecAggInputLength(values)) {
    return absl::InvalidArgumentError(absl::StrCat("a sum of ", sum.size(), " words for ", values,
                                                   " shared values"));
  }
  SecAggDpSum out;
  out.sums.resize(static_cast<size_t>(values));
  // Two's complement modulo 2^bits.
  auto signed_value = [bits](uint64_t w) {
    if (bits >= 64) return static_cast<int64_t>(w);
    const uint64_t modulus = uint64_t{1} << bits;
    w &= modulus - 1;
    return w >= modulus / 2 ? static_cast<int64_t>(w) - static_cast<int64_t>(modulus)
                            : static_cast<int64_t>(w);
  };
  for (size_t i = 0; i < out.sums.size(); ++i) out.sums[i] = signed_value(sum[i]);
  out.count = signed_value(sum[values]);
  out.within_clip = signed_value(sum[values + 1]);
  if (out.count < 0 || out.within_clip < 0 || out.within_clip > out.count) {
    return absl::InvalidArgumentError(absl::StrCat("a sum that counts ", out.count,
                                                   " clients with ", out.within_clip,
                                                   " within the clip norm"));
  }
  return out;
}

absl::StatusOr<SecAggMean> DecodeSecAggSum(const ParameterSet& schema,
                                           absl::Span<const uint64_t> sum) {
  const size_t values = static_cast<size_t>(schema.TotalElements());
  if (sum.size() != SecAggInputLength(static_cast<int64_t>(values))) {
    return absl::InvalidArgumentError(absl::StrCat("a sum of ", sum.size(), " words for ", values,
                                                   " shared values"));
  }
  // Two's complement: the words are the int64 sums.
  std::vector<int64_t> sums(values);
  for (size_t i = 0; i < values; ++i) sums[i] = static_cast<int64_t>(sum[i]);
  const int64_t weight_sum = static_cast<int64_t>(sum[values]);
  SecAggMean out;
  TAILOR_ASSIGN_OR_RETURN(out.mean_delta, WeightedMeanFromSums(schema, sums, weight_sum));
  out.weight_sum = static_cast<double>(weight_sum) / 4294967296.0;
  out.train_loss = static_cast<double>(static_cast<int64_t>(sum[values + 1])) / kLossScale /
                   out.weight_sum;
  return out;
}

}  // namespace tailor
