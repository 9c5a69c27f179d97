#include "core/sha256.h"

#include <openssl/sha.h>

namespace tailor {

// OpenSSL rather than libsodium: OpenSSL uses the CPU's SHA extensions where present
// (several GB/s), libsodium's portable SHA-256 runs near 200 MB/s, which made hashing every
// upload a measurable share of a simulated round.
Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

std::string ToHex(const Sha256Digest& digest) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace tailor
