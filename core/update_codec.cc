#include "core/update_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

constexpr int64_t kQ8Block = 1024;
constexpr char kQ8Suffix[] = "#q8";
constexpr char kQ8ScaleSuffix[] = "#q8.scale";
constexpr char kTopkIdxSuffix[] = "#topk.idx";
constexpr char kTopkValSuffix[] = "#topk.val";

uint32_t FloatBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  return x;
}
float BitsFloat(uint32_t x) {
  float f;
  std::memcpy(&f, &x, sizeof(f));
  return f;
}

// Element i of a float32 or float64 tensor, as double.
double ValueAt(const Tensor& t, size_t i) {
  return t.dtype() == DType::kFloat32 ? t.f32()[i] : t.f64()[i];
}
void SetValue(Tensor* t, size_t i, double v) {
  if (t->dtype() == DType::kFloat32) {
    t->f32()[i] = static_cast<float>(v);
  } else {
    t->f64()[i] = v;
  }
}

template <typename T>
T* As(Tensor* t) {
  return reinterpret_cast<T*>(t->data());
}
template <typename T>
const T* As(const Tensor& t) {
  return reinterpret_cast<const T*>(t.data());
}

absl::Status Compress16(const std::string& name, const Tensor& x, bool bf16, ParameterSet* out) {
  Tensor t(bf16 ? DType::kBFloat16 : DType::kFloat16, x.shape());
  uint16_t* dst = As<uint16_t>(&t);
  for (size_t i = 0; i < static_cast<size_t>(x.numel()); ++i) {
    const float v = static_cast<float>(ValueAt(x, i));
    dst[i] = bf16 ? FloatToBFloat16(v) : FloatToHalf(v);
    if ((dst[i] & 0x7fff) == (bf16 ? 0x7f80 : 0x7c00) && std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat("value ", v, " of tensor '", name,
                                                     "' is beyond ", bf16 ? "bf16" : "fp16",
                                                     "'s range; use another update codec"));
    }
  }
  return out->Add(name, std::move(t));
}

absl::Status CompressQ8(const std::string& name, const Tensor& x, Rng* rng, ParameterSet* out) {
  const int64_t n = x.numel();
  const int64_t blocks = (n + kQ8Block - 1) / kQ8Block;
  Tensor q(DType::kInt8, x.shape());
  Tensor scale(DType::kFloat32, {blocks, 2});
  int8_t* qv = As<int8_t>(&q);
  float* sv = scale.f32().data();
  for (int64_t b = 0; b < blocks; ++b) {
    const size_t begin = static_cast<size_t>(b * kQ8Block);
    const size_t end = static_cast<size_t>(std::min(n, (b + 1) * kQ8Block));
    float lo = static_cast<float>(ValueAt(x, begin)), hi = lo;
    for (size_t i = begin; i < end; ++i) {
      const float v = static_cast<float>(ValueAt(x, i));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const float step = (hi - lo) / 255.0f;
    sv[2 * b] = lo;
    sv[2 * b + 1] = step;
    for (size_t i = begin; i < end; ++i) {
      double level = 0;
      if (step > 0) {
        // floor(v + u), u ~ U[0,1): rounds up with probability equal to the fraction, so the
        // expected decoded value is the input.
        const double v = (ValueAt(x, i) - lo) / step;
        level = std::clamp(std::floor(v + rng->Uniform()), 0.0, 255.0);
      }
      qv[i] = static_cast<int8_t>(static_cast<int>(level) - 128);
    }
  }
  TAILOR_RETURN_IF_ERROR(out->Add(name + kQ8Suffix, std::move(q)));
  return out->Add(name + kQ8ScaleSuffix, std::move(scale));
}

absl::Status CompressTopK(const std::string& name, const Tensor& x, double fraction,
                          ParameterSet* out, Tensor* residual) {
  const int64_t n = x.numel();
  if (n > INT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", name, "' has ", n, " values, beyond topk's int32 indices"));
  }
  const int64_t k = std::min<int64_t>(
      n, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n)))));
  // The values to send from: Δ plus what earlier rounds did not send.
  std::vector<double> u(static_cast<size_t>(n));
  for (size_t i = 0; i < u.size(); ++i) {
    u[i] = ValueAt(x, i) + (residual ? ValueAt(*residual, i) : 0.0);
  }
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  // Largest magnitude first, ties by index: the selection depends on the values only.
  auto larger = [&u](int32_t a, int32_t b) {
    const double fa = std::fabs(u[a]), fb = std::fabs(u[b]);
    return fa != fb ? fa > fb : a < b;
  };
  if (k < n) std::nth_element(idx.begin(), idx.begin() + k, idx.end(), larger);
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  Tensor idx_t(DType::kInt32, {k});
  Tensor val_t(x.dtype(), {k});
  std::memcpy(idx_t.data(), idx.data(), idx.size() * sizeof(int32_t));
  for (size_t j = 0; j < idx.size(); ++j) SetValue(&val_t, j, u[static_cast<size_t>(idx[j])]);
  if (residual) {
    // The memory keeps exactly what the wire does not carry.
    for (size_t i = 0; i < u.size(); ++i) SetValue(residual, i, u[i]);
    for (size_t j = 0; j < idx.size(); ++j) {
      const size_t i = static_cast<size_t>(idx[j]);
      SetValue(residual, i, u[i] - ValueAt(val_t, j));
    }
  }
  TAILOR_RETURN_IF_ERROR(out->Add(name + kTopkIdxSuffix, std::move(idx_t)));
  return out->Add(name + kTopkValSuffix, std::move(val_t));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

absl::Status Mismatch(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("update tensor '", name, "' ", what));
}

absl::StatusOr<Tensor> ExpandQ8(const std::string& name, const Tensor& q, const Tensor& scale,
                                const Tensor& like) {
  const int64_t n = like.numel();
  const int64_t blocks = (n + kQ8Block - 1) / kQ8Block;
  if (q.dtype() != DType::kInt8 || q.shape() != like.shape()) {
    return Mismatch(name, absl::StrCat("has int8 levels ", q.Describe(), ", expected int8 of ",
                                       like.Describe(), "'s shape"));
  }
  if (scale.dtype() != DType::kFloat32 || scale.shape() != std::vector<int64_t>{blocks, 2}) {
    return Mismatch(name, absl::StrCat("has int8 scales ", scale.Describe(), ", expected float32[",
                                       blocks, ",2]"));
  }
  const float* sv = scale.f32().data();
  for (int64_t b = 0; b < blocks; ++b) {
    if (!std::isfinite(sv[2 * b]) || !std::isfinite(sv[2 * b + 1]) || sv[2 * b + 1] < 0) {
      return Mismatch(name, absl::StrCat("has int8 block ", b, " with invalid (minimum, step) = (",
                                         sv[2 * b], ", ", sv[2 * b + 1], ")"));
    }
  }
  Tensor out(like.dtype(), like.shape());
  const int8_t* qv = As<int8_t>(q);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = i / kQ8Block;
    const double level = static_cast<double>(static_cast<int>(qv[i]) + 128);
    SetValue(&out, static_cast<size_t>(i),
             static_cast<double>(sv[2 * b]) + level * static_cast<double>(sv[2 * b + 1]));
  }
  return out;
}

absl::StatusOr<Tensor> ExpandTopK(const std::string& name, const Tensor& idx, const Tensor& val,
                                  const Tensor& like) {
  const int64_t n = like.numel();
  if (idx.dtype() != DType::kInt32 || idx.shape().size() != 1 || idx.numel() > n) {
    return Mismatch(name, absl::StrCat("has topk indices ", idx.Describe(),
                                       ", expected int32[k] with k <= ", n));
  }
  if (val.dtype() != like.dtype() || val.shape() != idx.shape()) {
    return Mismatch(name, absl::StrCat("has topk values ", val.Describe(), ", expected ",
                                       DTypeName(like.dtype()), "[", idx.numel(), "]"));
  }
  Tensor out(like.dtype(), like.shape());
  const int32_t* iv = As<int32_t>(idx);
  for (int64_t j = 0; j < idx.numel(); ++j) {
    if (iv[j] < 0 || iv[j] >= n || (j > 0 && iv[j] <= iv[j - 1])) {
      return Mismatch(name, absl::StrCat("has topk index ", iv[j], " at position ", j,
                                         ", out of range [0, ", n, ") or not strictly increasing"));
    }
    SetValue(&out, static_cast<size_t>(iv[j]), ValueAt(val, static_cast<size_t>(j)));
  }
  return out;
}

}  // namespace

uint16_t FloatToHalf(float value) {
  const uint32_t x = FloatBits(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);  // inf, NaN
  if (abs >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity
  if (abs < 0x38800000) {
    // Below 2^-14: a subnormal half, in units of 2^-24. Scaling by 2^24 is exact and
    // nearbyint rounds to nearest even; 1024 carries into the smallest normal, as it should.
    return sign | static_cast<uint16_t>(std::nearbyint(BitsFloat(abs) * 16777216.0f));
  }
  const uint32_t mant = abs & 0x7fffff;
  uint32_t h = ((((abs >> 23) - 127 + 15) << 10) | (mant >> 13));
  const uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // a carry moves into the exponent
  return sign | static_cast<uint16_t>(h);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exp = (half >> 10) & 0x1f;
  const uint32_t mant = half & 0x3ff;
  if (exp == 0) {
    const float v = static_cast<float>(mant) / 16777216.0f;  // exact
    return sign ? -v : v;
  }
  if (exp == 31) return BitsFloat(sign | 0x7f800000 | (mant << 13));
  return BitsFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

uint16_t FloatToBFloat16(float value) {
  const uint32_t x = FloatBits(value);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

float BFloat16ToFloat(uint16_t bf) { return BitsFloat(static_cast<uint32_t>(bf) << 16); }

absl::Status ValidateUpdateCodec(const UpdateCodecOptions& o) {
  if (o.name != "none" && o.name != "fp16" && o.name != "bf16" && o.name != "int8" &&
      o.name != "topk") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown update codec '", o.name, "' (known: none, fp16, bf16, int8, topk)"));
  }
  if (!(o.topk_fraction > 0 && o.topk_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("topk_fraction must be in (0, 1], got ", o.topk_fraction));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParameterSet> CompressUpdate(const ParameterSet& update,
                                            const UpdateCodecOptions& options, uint64_t seed,
                                            ParameterSet* residual) {
  TAILOR_RETURN_IF_ERROR(ValidateUpdateCodec(options));
  for (const auto& e : update.entries()) {
    if (!e.tensor.IsFloating()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot compress non-floating tensor '", e.name, "'"));
    }
  }
  if (options.name == "none") return update;
  const bool feedback = options.name == "topk" && residual != nullptr;
  if (feedback) {
    if (residual->empty()) {
      for (const auto& e : update.entries()) {
        TAILOR_RETURN_IF_ERROR(residual->Add(e.name, Tensor(e.tensor.dtype(), e.tensor.shape())));
      }
    }
    TAILOR_RETURN_IF_ERROR(update.CheckSameSchema(*residual, "error-feedback memory"));
  }
  Rng rng(seed);
  ParameterSet wire;
  for (size_t t = 0; t < update.size(); ++t) {
    const NamedTensor& e = update.entry(t);
    if (options.name == "fp16" || options.name == "bf16") {
      TAILOR_RETURN_IF_ERROR(Compress16(e.name, e.tensor, options.name == "bf16", &wire));
    } else if (options.name == "int8") {
      TAILOR_RETURN_IF_ERROR(CompressQ8(e.name, e.tensor, &rng, &wire));
    } else {
      TAILOR_RETURN_IF_ERROR(CompressTopK(e.name, e.tensor, options.topk_fraction, &wire,
                                          feedback ? &residual->entry(t).tensor : nullptr));
    }
  }
  return wire;
}

absl::StatusOr<ParameterSet> ExpandUpdate(ParameterSet wire, const ParameterSet& schema) {
  // Encoded entries are expanded in place of their parameter; anything else passes through for
  // the caller's schema check, whose messages name what is unknown, missing or misshapen.
  ParameterSet out;
  for (size_t c = 0; c < wire.size(); ++c) {
    NamedTensor& e = wire.entry(c);
    const size_t hash = e.name.find('#');
    const std::string base = e.name.substr(0, hash);
    const Tensor* want = schema.Find(base);
    const std::string next = c + 1 < wire.size() ? wire.entry(c + 1).name : std::string();
    if (want != nullptr && hash == std::string::npos &&
        (e.tensor.dtype() == DType::kFloat16 || e.tensor.dtype() == DType::kBFloat16)) {
      if (e.tensor.shape() != want->shape() || !want->IsFloating()) {
        return Mismatch(base,
                        absl::StrCat("is ", e.tensor.Describe(), ", expected ", want->Describe()));
      }
      Tensor dense(want->dtype(), want->shape());
      const uint16_t* src = As<uint16_t>(e.tensor);
      const bool bf16 = e.tensor.dtype() == DType::kBFloat16;
      for (size_t i = 0; i < static_cast<size_t>(dense.numel()); ++i) {
        SetValue(&dense, i, bf16 ? BFloat16ToFloat(src[i]) : HalfToFloat(src[i]));
      }
      TAILOR_RETURN_IF_ERROR(out.Add(base, std::move(dense)));
    } else if (want != nullptr && want->IsFloating() && e.name == base + kQ8Suffix &&
               next == base + kQ8ScaleSuffix) {
      TAILOR_ASSIGN_OR_RETURN(Tensor dense,
                              ExpandQ8(base, e.tensor, wire.entry(c + 1).tensor, *want));
      TAILOR_RETURN_IF_ERROR(out.Add(base, std::move(dense)));
      ++c;
    } else if (want != nullptr && want->IsFloating() && e.name == base + kTopkIdxSuffix &&
               next == base + kTopkValSuffix) {
      TAILOR_ASSIGN_OR_RETURN(Tensor dense,
                              ExpandTopK(base, e.tensor, wire.entry(c + 1).tensor, *want));
      TAILOR_RETURN_IF_ERROR(out.Add(base, std::move(dense)));
      ++c;
    } else {
      TAILOR_RETURN_IF_ERROR(out.Add(e.name, std::move(e.tensor)));
    }
  }
  return out;
}

}  // namespace tailor
