// Serialization of a ParameterSet to bytes and back.
//
// Format "TLPS" version 1, little-endian:
//   magic "TLPS" | u32 version | u32 tensor count |
//   per tensor: u32 name length, name, u8 dtype, u8 rank, i64 dims[rank], u64 payload bytes,
//               payload |
//   32-byte SHA-256 of everything before it.
// The trailing digest is also the set's content address (a model version's id on the wire and
// its file name on disk): it determines the body, so it determines every byte.
//
// Decoding checks every length against the bytes the stream may still hold (a truncated or
// corrupted buffer is refused with a message naming the tensor and offset, never read past its
// end, and no declared size is allocated before it is known to fit), the checksum, dtypes,
// ranks, and that payload size equals numel × dtype size.
#ifndef TAILOR_CORE_SERIALIZATION_H_
#define TAILOR_CORE_SERIALIZATION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/parameter_set.h"
#include "core/sha256.h"

namespace tailor {

struct DecodeLimits {
  // Refuse inputs that declare more tensors than this. Default 1<<20.
  uint32_t max_tensors = 1u << 20;
  // Refuse names longer than this. Default 4096.
  uint32_t max_name_bytes = 4096;
  // Refuse ranks above this. Default 8.
  uint8_t max_rank = 8;
};

std::string SerializeParameterSet(const ParameterSet& set);

// INVALID_ARGUMENT for a malformed buffer (bad magic, version, dtype, sizes), DATA_LOSS for a
// truncated buffer or a checksum mismatch.
absl::StatusOr<ParameterSet> DeserializeParameterSet(absl::string_view bytes,
                                                     const DecodeLimits& limits = {});

// The content address of a serialized set that decoded successfully: its trailing digest, hex.
std::string ContentAddressOf(absl::string_view serialized);

// The serialized bytes of a parameter set without materializing them: small owned headers
// and views of the tensors' own buffers. Serving a model to many clients this way holds the
// model once (the coordinator streams a 1 GB model at 1.0x its size, not 2x), and writing it
// to a file needs no copy. Immutable; safe to share between threads.
class SerializedParameterSet {
 public:
  // Hashes the set once (one pass over its bytes).
  explicit SerializedParameterSet(std::shared_ptr<const ParameterSet> set);
  // A view of a set the caller keeps alive for the view's lifetime.
  explicit SerializedParameterSet(const ParameterSet& borrowed);
  // Not copyable or movable: pieces point into headers_.
  SerializedParameterSet(const SerializedParameterSet&) = delete;
  SerializedParameterSet& operator=(const SerializedParameterSet&) = delete;

  uint64_t size() const { return size_; }
  const std::string& content_address() const { return content_address_; }
  const ParameterSet& set() const { return *set_; }
  // Appends bytes [offset, offset + n) to *out; the range must lie within size().
  void AppendRange(uint64_t offset, size_t n, std::string* out) const;
  // The bytes as consecutive pieces, for a gathered write.
  const std::vector<absl::string_view>& pieces() const { return pieces_; }

 private:
  std::shared_ptr<const ParameterSet> set_;
  std::string headers_;  // every tensor header, back to back; pieces_ point into it
  Sha256Digest digest_;
  std::vector<absl::string_view> pieces_;
  std::vector<uint64_t> piece_starts_;  // offset of each piece in the serialized bytes
  uint64_t size_ = 0;
  std::string content_address_;
};

// Decodes a serialized set that arrives in pieces (a model fetched in chunks, an upload
// streamed in chunks), writing payloads straight into the tensors: no buffer of the whole
// message and no second copy. Errors are sticky: after one, Append and Finish return it.
class ParameterSetDecoder {
 public:
  // `max_bytes`: how many bytes the stream may hold at most (the announced or the allowed
  // size). A declared tensor that could not fit is refused before anything is allocated.
  explicit ParameterSetDecoder(uint64_t max_bytes, DecodeLimits limits = {});

  absl::Status Append(absl::string_view bytes);
  // The decoded set, once every byte arrived and the checksum matched; DATA_LOSS naming what
  // was being read when the stream ended early.
  absl::StatusOr<ParameterSet> Finish();
  // Bytes accepted so far: where a resumed stream continues.
  uint64_t bytes_consumed() const { return consumed_; }
  // The content address, valid after a successful Finish.
  const std::string& content_address() const { return content_address_; }

 private:
  enum class Field { kHeader, kNameLength, kName, kDtypeRank, kDims, kPayloadSize, kPayload,
                     kDigest, kDone };
  absl::Status Consume(absl::string_view* bytes);
  absl::Status FieldComplete();
  void Expect(Field field, size_t bytes);
  absl::Status Truncated() const;
  std::string Where() const;

  const uint64_t max_bytes_;
  const DecodeLimits limits_;
  absl::Status error_;
  Field field_ = Field::kHeader;
  size_t need_ = 12;       // bytes the current field still needs
  std::string scratch_;    // the current small field's bytes
  uint64_t consumed_ = 0;
  Sha256Hasher hasher_;    // over the body (everything before the digest)
  uint32_t count_ = 0;
  uint32_t index_ = 0;     // tensor being decoded
  std::string name_;
  uint8_t dtype_ = 0;
  std::vector<int64_t> shape_;
  Tensor tensor_;
  size_t payload_pos_ = 0;
  ParameterSet set_;
  std::string content_address_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_SERIALIZATION_H_
