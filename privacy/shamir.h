// Shamir's t-of-n secret sharing (issue 17: each client's mask-key secret and self-mask seed are
// shared with its neighbours so that the survivors of a round can remove a dropped client's
// masks). Over the prime field GF(2^127 - 1) with arithmetic whose time does not depend on the
// values (no branches or table lookups on secrets; the modular inverse is a fixed exponent), so
// timing does not leak a share. A byte secret is cut into 15-byte chunks, one field element
// each, every chunk with its own random polynomial of degree t - 1 from a SecureRandom.
//
// Any t shares (distinct x) give the secret back; t - 1 shares say nothing about it: for every
// candidate secret there is exactly one polynomial through them and it.
#ifndef TAILOR_PRIVACY_SHAMIR_H_
#define TAILOR_PRIVACY_SHAMIR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "privacy/secure_random.h"

namespace tailor {

// GF(p), p = 2^127 - 1: values in [0, p), constant-time operations.
namespace gf127 {
inline constexpr uint128 kPrime = (static_cast<uint128>(1) << 127) - 1;
uint128 Add(uint128 a, uint128 b);
uint128 Sub(uint128 a, uint128 b);
uint128 Mul(uint128 a, uint128 b);
// a^(p - 2): the inverse of a != 0 (0 for 0).
uint128 Inverse(uint128 a);
}  // namespace gf127

struct ShamirShare {
  uint32_t x = 0;             // the evaluation point, >= 1 (a participant's index + 1)
  std::vector<uint128> ys;    // one value per 15-byte chunk of the secret
};

// Shares of `secret` for the points `xs` (distinct, >= 1), any `threshold` of which recover it.
// INVALID_ARGUMENT for threshold < 1, threshold > xs.size(), a repeated or zero x, or an empty
// secret.
absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(absl::Span<const uint8_t> secret,
                                                     int threshold,
                                                     absl::Span<const uint32_t> xs,
                                                     SecureRandom& random);

// The secret of `secret_size` bytes from at least `threshold` shares (the first `threshold` are
// used). INVALID_ARGUMENT for fewer shares, repeated x, shares of different lengths or of
// another secret size, or a value outside the field.
absl::StatusOr<std::vector<uint8_t>> ShamirCombine(absl::Span<const ShamirShare> shares,
                                                   int threshold, size_t secret_size);

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SHAMIR_H_
