// Tailor's own tensor: dtype, shape and a contiguous little-endian buffer. The wire layer,
// aggregation, privacy and the server work on this type and never include LibTorch.
#ifndef TAILOR_CORE_TENSOR_H_
#define TAILOR_CORE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/buffer_pool.h"

namespace tailor {

// Element types. The numeric values are part of the serialized format: never renumber.
enum class DType : uint8_t {
  kFloat32 = 1,
  kFloat64 = 2,
  kInt64 = 3,
  // Wire-only types of the update codecs (core/update_codec.h); never model parameters.
  kFloat16 = 4,   // IEEE 754 binary16
  kBFloat16 = 5,  // the upper half of a float32
  kInt8 = 6,
  kInt32 = 7,
};

// Size in bytes of one element; 0 for an unknown value.
size_t DTypeSize(DType dtype);
// "float32", "float64", "int64", or "dtype(N)".
std::string DTypeName(DType dtype);
bool IsKnownDType(uint8_t value);

// A dense row-major tensor owning its bytes. Copyable (copies the buffer) and movable.
class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor. Dimensions must be >= 0.
  Tensor(DType dtype, std::vector<int64_t> shape);
  // A tensor whose bytes are left unset, for callers that overwrite every byte (decoders):
  // zero-filling a 40 MB buffer first costs as much as the copy that follows.
  static Tensor Uninitialized(DType dtype, std::vector<int64_t> shape);
  static Tensor FromFloats(std::vector<int64_t> shape, absl::Span<const float> values);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  size_t byte_size() const { return bytes_.size(); }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  // Typed views; the dtype must match (checked in debug builds).
  absl::Span<float> f32();
  absl::Span<const float> f32() const;
  absl::Span<double> f64();
  absl::Span<const double> f64() const;

  bool IsFloating() const { return dtype_ == DType::kFloat32 || dtype_ == DType::kFloat64; }
  // OK when every element is finite (non-floating tensors always are); otherwise
  // INVALID_ARGUMENT naming the first bad index.
  absl::Status CheckFinite() const;
  // The largest |element| of a float32/float64 tensor, or +infinity when an element is NaN or
  // infinite (0 for other dtypes and for an empty tensor). One vectorized read.
  double MaxAbs() const;
  // "float32[32,1,5,5]".
  std::string Describe() const;

  bool SameLayout(const Tensor& other) const {
    return dtype_ == other.dtype_ && shape_ == other.shape_;
  }
  bool operator==(const Tensor& other) const { return SameLayout(other) && bytes_ == other.bytes_; }

 private:
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  // Large payloads come from the recycling pool, and Uninitialized skips the zero-fill
  // (core/buffer_pool.h).
  std::vector<uint8_t, LargeBufferAllocator<uint8_t>> bytes_;
};

// Product of dimensions; -1 if any is negative or the product overflows int64.
int64_t NumElements(absl::Span<const int64_t> shape);

}  // namespace tailor

#endif  // TAILOR_CORE_TENSOR_H_
