#include "core/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>

namespace tailor {

// OpenSSL rather than libsodium: OpenSSL uses the CPU's SHA extensions where present
// (several GB/s), libsodium's portable SHA-256 runs near 200 MB/s, which made hashing every
// upload a measurable share of a simulated round.
Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

// EVP rather than SHA256_Init/Update/Final, which OpenSSL 3 deprecates.
Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}
Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }
void Sha256Hasher::Update(absl::string_view data) {
  EVP_DigestUpdate(ctx_, data.data(), data.size());
}
Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest digest;
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, digest.data(), &n);
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
