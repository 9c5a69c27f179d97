#include "core/sha256.h"

#include <sodium.h>

namespace tailor {

Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest digest;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
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
