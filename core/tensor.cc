#include "core/tensor.h"

#include <cassert>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tailor {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
  }
  return 0;
}

bool IsKnownDType(uint8_t value) { return value >= 1 && value <= 3; }

std::string DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
  }
  return absl::StrCat("dtype(", static_cast<int>(dtype), ")");
}

int64_t NumElements(absl::Span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > INT64_MAX / d) return -1;
    n *= d;
  }
  return n;
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(NumElements(shape_)) {
  assert(numel_ >= 0);
  bytes_.assign(static_cast<size_t>(numel_) * DTypeSize(dtype_), 0);
}

Tensor Tensor::Uninitialized(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = NumElements(t.shape_);
  assert(t.numel_ >= 0);
  t.bytes_.resize(static_cast<size_t>(t.numel_) * DTypeSize(dtype));
  return t;
}

Tensor Tensor::FromFloats(std::vector<int64_t> shape, absl::Span<const float> values) {
  Tensor t(DType::kFloat32, std::move(shape));
  assert(static_cast<int64_t>(values.size()) == t.numel());
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

absl::Span<float> Tensor::f32() {
  assert(dtype_ == DType::kFloat32);
  return {reinterpret_cast<float*>(bytes_.data()), static_cast<size_t>(numel_)};
}
absl::Span<const float> Tensor::f32() const {
  assert(dtype_ == DType::kFloat32);
  return {reinterpret_cast<const float*>(bytes_.data()), static_cast<size_t>(numel_)};
}
absl::Span<double> Tensor::f64() {
  assert(dtype_ == DType::kFloat64);
  return {reinterpret_cast<double*>(bytes_.data()), static_cast<size_t>(numel_)};
}
absl::Span<const double> Tensor::f64() const {
  assert(dtype_ == DType::kFloat64);
  return {reinterpret_cast<const double*>(bytes_.data()), static_cast<size_t>(numel_)};
}

namespace {
template <typename T>
absl::Status CheckFiniteSpan(absl::Span<const T> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("non-finite value ", values[i], " at flat index ", i));
    }
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status Tensor::CheckFinite() const {
  if (dtype_ == DType::kFloat32) return CheckFiniteSpan(f32());
  if (dtype_ == DType::kFloat64) return CheckFiniteSpan(f64());
  return absl::OkStatus();
}

std::string Tensor::Describe() const {
  return absl::StrCat(DTypeName(dtype_), "[", absl::StrJoin(shape_, ","), "]");
}

}  // namespace tailor
