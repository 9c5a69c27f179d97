#include "core/serialization.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/sha256.h"

namespace tailor {
namespace {

constexpr char kMagic[4] = {'T', 'L', 'P', 'S'};
constexpr uint32_t kVersion = 1;
constexpr size_t kDigestBytes = 32;

template <typename T>
void Put(std::string* out, T value) {
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));  // Tailor targets little-endian hosts only.
  out->append(buf, sizeof(T));
}

// Bounds-checked reader over the body (everything before the digest).
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

  template <typename T>
  bool Get(T* value) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, absl::string_view* out) {
    if (remaining() < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

absl::Status Truncated(const Reader& r, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("parameter set truncated: input ends at byte ", r.offset(), " while reading ",
                   what));
}

}  // namespace

std::string SerializeParameterSet(const ParameterSet& set) {
  std::string out;
  size_t reserve = 12 + kDigestBytes;
  for (const auto& e : set.entries()) {
    reserve += 4 + e.name.size() + 2 + 8 * e.tensor.shape().size() + 8 + e.tensor.byte_size();
  }
  out.reserve(reserve);
  out.append(kMagic, 4);
  Put<uint32_t>(&out, kVersion);
  Put<uint32_t>(&out, static_cast<uint32_t>(set.size()));
  for (const auto& e : set.entries()) {
    Put<uint32_t>(&out, static_cast<uint32_t>(e.name.size()));
    out.append(e.name);
    Put<uint8_t>(&out, static_cast<uint8_t>(e.tensor.dtype()));
    Put<uint8_t>(&out, static_cast<uint8_t>(e.tensor.shape().size()));
    for (int64_t d : e.tensor.shape()) Put<int64_t>(&out, d);
    Put<uint64_t>(&out, e.tensor.byte_size());
    out.append(reinterpret_cast<const char*>(e.tensor.data()), e.tensor.byte_size());
  }
  Sha256Digest digest = Sha256(out);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

absl::StatusOr<ParameterSet> DeserializeParameterSet(absl::string_view bytes,
                                                     const DecodeLimits& limits) {
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return absl::InvalidArgumentError("not a Tailor parameter set (bad magic bytes)");
  }
  if (bytes.size() < 12 + kDigestBytes) {
    return absl::DataLossError(
        absl::StrCat("parameter set truncated: ", bytes.size(), " bytes is shorter than a header"));
  }
  // Parse the structure first so that a truncated buffer reports where it ends; the checksum
  // then catches corruption that still parses.
  absl::string_view body = bytes.substr(0, bytes.size() - kDigestBytes);
  Reader r(body);
  char magic[4];
  uint32_t version = 0, count = 0;
  r.Get(&magic);
  r.Get(&version);
  r.Get(&count);
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported parameter set version ", version, " (this build reads ",
                     kVersion, ")"));
  }
  if (count > limits.max_tensors) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter set declares ", count, " tensors, limit is ", limits.max_tensors));
  }
  ParameterSet set;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string where = absl::StrCat("tensor #", i);
    uint32_t name_len = 0;
    if (!r.Get(&name_len)) return Truncated(r, where + " name length");
    if (name_len == 0 || name_len > limits.max_name_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has name length ", name_len, " (allowed 1..",
                       limits.max_name_bytes, ")"));
    }
    absl::string_view name;
    if (!r.GetBytes(name_len, &name)) return Truncated(r, where + " name");
    const std::string label = absl::StrCat("tensor '", name, "'");
    uint8_t dtype = 0, rank = 0;
    if (!r.Get(&dtype) || !r.Get(&rank)) return Truncated(r, label + " header");
    if (!IsKnownDType(dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " has unknown dtype code ", static_cast<int>(dtype)));
    }
    if (rank > limits.max_rank) {
      return absl::InvalidArgumentError(absl::StrCat(label, " has rank ", static_cast<int>(rank),
                                                     ", limit is ",
                                                     static_cast<int>(limits.max_rank)));
    }
    std::vector<int64_t> shape(rank);
    for (auto& d : shape) {
      if (!r.Get(&d)) return Truncated(r, label + " shape");
    }
    const int64_t numel = NumElements(shape);
    if (numel < 0) {
      return absl::InvalidArgumentError(absl::StrCat(label, " has an invalid shape"));
    }
    uint64_t payload = 0;
    if (!r.Get(&payload)) return Truncated(r, label + " payload size");
    const size_t elem = DTypeSize(static_cast<DType>(dtype));
    if (static_cast<uint64_t>(numel) > UINT64_MAX / elem || payload != numel * elem) {
      return absl::InvalidArgumentError(absl::StrCat(label, " declares ", payload,
                                                     " payload bytes for ", numel, " elements"));
    }
    if (payload > r.remaining()) return Truncated(r, label + " payload");
    Tensor tensor(static_cast<DType>(dtype), std::move(shape));
    absl::string_view data;
    r.GetBytes(payload, &data);
    if (payload > 0) std::memcpy(tensor.data(), data.data(), payload);
    absl::Status added = set.Add(std::string(name), std::move(tensor));
    if (!added.ok()) return absl::InvalidArgumentError(added.message());
  }
  if (r.remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter set has ", r.remaining(), " unexpected bytes after the last tensor"));
  }
  Sha256Digest digest = Sha256(body);
  if (std::memcmp(digest.data(), bytes.data() + body.size(), kDigestBytes) != 0) {
    return absl::DataLossError("parameter set checksum mismatch: the bytes are corrupted");
  }
  return set;
}

}  // namespace tailor
