// Serialization of a ParameterSet to bytes and back.
//
// Format "TLPS" version 1, little-endian:
//   magic "TLPS" | u32 version | u32 tensor count |
//   per tensor: u32 name length, name, u8 dtype, u8 rank, i64 dims[rank], u64 payload bytes,
//               payload |
//   32-byte SHA-256 of everything before it.
// Decoding checks every length against the remaining input (a truncated or corrupted buffer
// is refused with a message naming the tensor and offset, never read past its end), the
// checksum, dtypes, ranks, and that payload size equals numel × dtype size.
#ifndef TAILOR_CORE_SERIALIZATION_H_
#define TAILOR_CORE_SERIALIZATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/parameter_set.h"

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

}  // namespace tailor

#endif  // TAILOR_CORE_SERIALIZATION_H_
