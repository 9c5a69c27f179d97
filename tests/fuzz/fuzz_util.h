// Helpers shared by the libFuzzer targets.
#ifndef TAILOR_TESTS_FUZZ_FUZZ_UTIL_H_
#define TAILOR_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "core/parameter_set.h"
#include "core/sha256.h"

namespace tailor::fuzz {

// `body` with the trailing SHA-256 a TLPS buffer ends with, so mutated bodies reach the checks
// after the digest (names, shapes, codecs) instead of all stopping at the checksum.
inline std::string WithValidDigest(absl::string_view body) {
  const Sha256Digest digest = Sha256(body);
  std::string out(body);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

// The bytes to decode: input[1:] as is, or (when the first byte is odd) with its last 32 bytes
// replaced by the digest of the rest.
inline std::string DecodableBytes(const uint8_t* data, size_t size) {
  if (size == 0) return "";
  absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0 || rest.size() < 32) return std::string(rest);
  return WithValidDigest(rest.substr(0, rest.size() - 32));
}

// The shared schema the update and codec targets check against: float32 w[3,2] and b[2].
ParameterSet FuzzSchema();

// A property every run must hold; violating it is a bug the fuzzer reports like a crash.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

}  // namespace tailor::fuzz

#endif  // TAILOR_TESTS_FUZZ_FUZZ_UTIL_H_
