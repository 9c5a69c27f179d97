// SHA-256 (OpenSSL). Used for checksums of serialized parameter sets and, later, for
// content-addressed model files.
#ifndef TAILOR_CORE_SHA256_H_
#define TAILOR_CORE_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tailor {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);
std::string ToHex(const Sha256Digest& digest);

}  // namespace tailor

#endif  // TAILOR_CORE_SHA256_H_
