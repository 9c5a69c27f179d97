#include "privacy/shamir.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace gf127 {
namespace {

constexpr int kChunkBytes = 15;  // 120 bits < 127: every chunk is a field element

// x mod p for x < 2^128, without branches: fold the top bit, then subtract p once if needed.
uint128 Reduce128(uint128 x) {
  x = (x & kPrime) + (x >> 127);
  const uint128 minus = x - kPrime;
  // minus's top bit is set exactly when x < p (it wrapped): keep x then, else x - p.
  const uint128 keep_x = static_cast<uint128>(0) - (minus >> 127);
  return (x & keep_x) | (minus & ~keep_x);
}

}  // namespace

uint128 Add(uint128 a, uint128 b) { return Reduce128(a + b); }  // a + b < 2^128

uint128 Sub(uint128 a, uint128 b) { return Reduce128(a + (kPrime - b)); }

uint128 Mul(uint128 a, uint128 b) {
  // 64-bit limbs; the 254-bit product is hi·2^128 + lo, and 2^127 ≡ 1, so it is
  // ≡ (lo mod 2^127) + (lo >> 127) + 2·hi.
  const uint64_t a0 = static_cast<uint64_t>(a), a1 = static_cast<uint64_t>(a >> 64);
  const uint64_t b0 = static_cast<uint64_t>(b), b1 = static_cast<uint64_t>(b >> 64);
  const uint128 p00 = static_cast<uint128>(a0) * b0;
  const uint128 p01 = static_cast<uint128>(a0) * b1;
  const uint128 p10 = static_cast<uint128>(a1) * b0;
  const uint128 p11 = static_cast<uint128>(a1) * b1;  // < 2^126
  const uint128 middle = p01 + p10;                    // < 2^128 (a1, b1 < 2^63)
  const uint128 lo = p00 + (middle << 64);
  const uint128 carry = lo < p00 ? 1 : 0;  // (a comparison of public widths; compiles to adc)
  const uint128 hi = p11 + (middle >> 64) + carry;  // < 2^127
  const uint128 folded = Reduce128((lo & kPrime) + (lo >> 127));
  return Reduce128(folded + Reduce128(hi << 1));
}

uint128 Inverse(uint128 a) {
  // Fermat: a^(p-2), p - 2 = 2^127 - 3 = 0b111...1101 (bit 1 clear). The exponent is public,
  // so the sequence of squarings and multiplications is the same for every a.
  uint128 result = 1;
  for (int bit = 126; bit >= 0; --bit) {
    result = Mul(result, result);
    if (bit != 1) result = Mul(result, a);
  }
  return result;
}

}  // namespace gf127

namespace {

using gf127::kChunkBytes;

size_t Chunks(size_t bytes) { return (bytes + kChunkBytes - 1) / kChunkBytes; }

absl::Status CheckPoints(absl::Span<const uint32_t> xs) {
  std::set<uint32_t> seen;
  for (uint32_t x : xs) {
    if (x == 0) return absl::InvalidArgumentError("share point 0 would be the secret itself");
    if (!seen.insert(x).second) {
      return absl::InvalidArgumentError(absl::StrCat("share point ", x, " appears twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(absl::Span<const uint8_t> secret,
                                                     int threshold,
                                                     absl::Span<const uint32_t> xs,
                                                     SecureRandom& random) {
  if (secret.empty()) return absl::InvalidArgumentError("an empty secret");
  if (threshold < 1 || static_cast<size_t>(threshold) > xs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("threshold ", threshold, " must be in [1, ",
                                                   xs.size(), "] (the number of shares)"));
  }
  if (absl::Status s = CheckPoints(xs); !s.ok()) return s;
  std::vector<ShamirShare> shares(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) shares[i].x = xs[i];
  std::vector<uint128> coefficients(static_cast<size_t>(threshold));
  for (size_t c = 0; c < Chunks(secret.size()); ++c) {
    uint128 value = 0;
    for (size_t b = c * kChunkBytes; b < std::min(secret.size(), (c + 1) * kChunkBytes); ++b) {
      value |= static_cast<uint128>(secret[b]) << (8 * (b - c * kChunkBytes));
    }
    coefficients[0] = value;
    for (size_t k = 1; k < coefficients.size(); ++k) {
      coefficients[k] = random.UniformBelow(gf127::kPrime);
    }
    for (ShamirShare& share : shares) {
      // Horner's rule at x.
      uint128 y = 0;
      for (size_t k = coefficients.size(); k-- > 0;) {
        y = gf127::Add(gf127::Mul(y, share.x), coefficients[k]);
      }
      share.ys.push_back(y);
    }
  }
  for (uint128& k : coefficients) k = 0;  // the polynomial is as secret as the secret
  return shares;
}

absl::StatusOr<std::vector<uint8_t>> ShamirCombine(absl::Span<const ShamirShare> shares,
                                                   int threshold, size_t secret_size) {
  if (threshold < 1 || shares.size() < static_cast<size_t>(threshold)) {
    return absl::InvalidArgumentError(absl::StrCat(shares.size(), " shares, ", threshold,
                                                   " needed"));
  }
  const absl::Span<const ShamirShare> used = shares.subspan(0, static_cast<size_t>(threshold));
  std::vector<uint32_t> xs;
  for (const ShamirShare& s : used) {
    xs.push_back(s.x);
    if (s.ys.size() != Chunks(secret_size)) {
      return absl::InvalidArgumentError(absl::StrCat("share at point ", s.x, " holds ",
                                                     s.ys.size(), " values, a ", secret_size,
                                                     "-byte secret needs ", Chunks(secret_size)));
    }
    for (uint128 y : s.ys) {
      if (y >= gf127::kPrime) {
        return absl::InvalidArgumentError(absl::StrCat("share at point ", s.x,
                                                       " holds a value outside the field"));
      }
    }
  }
  if (absl::Status s = CheckPoints(xs); !s.ok()) return s;
  // Lagrange coefficients at 0: l_i = prod_{j != i} x_j / (x_j - x_i).
  std::vector<uint128> lagrange(used.size());
  for (size_t i = 0; i < used.size(); ++i) {
    uint128 num = 1, den = 1;
    for (size_t j = 0; j < used.size(); ++j) {
      if (j == i) continue;
      num = gf127::Mul(num, used[j].x);
      den = gf127::Mul(den, gf127::Sub(used[j].x, used[i].x));
    }
    lagrange[i] = gf127::Mul(num, gf127::Inverse(den));
  }
  std::vector<uint8_t> secret(secret_size);
  for (size_t c = 0; c < Chunks(secret_size); ++c) {
    uint128 value = 0;
    for (size_t i = 0; i < used.size(); ++i) {
      value = gf127::Add(value, gf127::Mul(lagrange[i], used[i].ys[c]));
    }
    for (size_t b = c * kChunkBytes; b < std::min(secret_size, (c + 1) * kChunkBytes); ++b) {
      secret[b] = static_cast<uint8_t>(value >> (8 * (b - c * kChunkBytes)));
    }
  }
  return secret;
}

}  // namespace tailor
