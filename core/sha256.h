// SHA-256 (OpenSSL). Used for checksums of serialized parameter sets and content-addressed
// model files.
#ifndef TAILOR_CORE_SHA256_H_
#define TAILOR_CORE_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, declared here so OpenSSL stays out of the header

namespace tailor {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);

// Incremental SHA-256, for bytes that arrive or are produced in pieces.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(absl::string_view data);
  Sha256Digest Finish();

 private:
  ::evp_md_ctx_st* ctx_;
};
std::string ToHex(const Sha256Digest& digest);

}  // namespace tailor

#endif  // TAILOR_CORE_SHA256_H_
