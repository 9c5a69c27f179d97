#include "privacy/secure_random.h"

#include <sodium.h>

#include <cmath>
#include <cstring>

#include "core/sha256.h"

namespace tailor {

absl::StatusOr<std::unique_ptr<SecureRandom>> SecureRandom::FromOsEntropy() {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  std::array<uint8_t, 32> key;
  randombytes_buf(key.data(), key.size());
  return std::unique_ptr<SecureRandom>(new SecureRandom(key, /*secure=*/true));
}

std::unique_ptr<SecureRandom> SecureRandom::FromSeed(uint64_t seed, uint64_t stream) {
  // sodium_init is only needed for randombytes and CPU feature dispatch; the stream cipher
  // works either way, but initializing picks the fast implementation.
  if (sodium_init() < 0) {
    // Only the CPU dispatch failed to initialize; the portable cipher still works.
  }
  char material[32] = "tailor-dp-noise:";
  std::memcpy(material + 16, &seed, 8);
  std::memcpy(material + 24, &stream, 8);
  const Sha256Digest digest = Sha256(absl::string_view(material, sizeof(material)));
  std::array<uint8_t, 32> key;
  std::memcpy(key.data(), digest.data(), key.size());
  return std::unique_ptr<SecureRandom>(new SecureRandom(key, /*secure=*/false));
}

SecureRandom::SecureRandom(const std::array<uint8_t, 32>& key, bool secure)
    : key_(key), secure_(secure) {}

void SecureRandom::Refill() {
  static const uint8_t kZeros[kBufferWords * 8] = {};
  static const uint8_t kNonce[crypto_stream_chacha20_NONCEBYTES] = {};
  // The keystream itself (zeros XOR keystream), continuing at the next block: each key has a
  // 2^64-block counter, far beyond any run.
  crypto_stream_chacha20_xor_ic(reinterpret_cast<uint8_t*>(buffer_.data()), kZeros,
                                sizeof(kZeros), kNonce, block_counter_, key_.data());
  block_counter_ += sizeof(kZeros) / 64;
  next_ = 0;
}

uint64_t SecureRandom::NextU64() {
  if (next_ == kBufferWords) Refill();
  return buffer_[next_++];
}

uint128 SecureRandom::UniformBelow(uint128 n) {
  if (n <= 1) return 0;
  const uint128 max = n - 1;
  // Mask to the smallest power of two above n - 1 and reject: fewer than 2 draws expected.
  int bits = 0;
  for (uint128 m = max; m != 0; m >>= 1) ++bits;
  const uint128 mask = bits == 128 ? ~uint128{0} : ((uint128{1} << bits) - 1);
  for (;;) {
    uint128 r = NextU64();
    if (bits > 64) r |= static_cast<uint128>(NextU64()) << 64;
    r &= mask;
    if (r <= max) return r;
  }
}

bool SecureRandom::BernoulliRate(double p) {
  const uint128 den = uint128{1} << 53;
  return Bernoulli(static_cast<uint128>(std::floor(p * 0x1p53)), den);
}

double SecureRandom::UniformOpen() {
  return (static_cast<double>(NextU64() >> 11) + 0.5) * 0x1p-53;
}

void SecureRandom::FillStandardNormal(float* out, size_t n) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (size_t i = 0; i < n; i += 2) {
    const double radius = std::sqrt(-2 * std::log(UniformOpen()));
    const double angle = kTwoPi * UniformOpen();
    out[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < n) out[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
}

bool SecureRandom::Bernoulli(uint128 num, uint128 den) {
  if (num >= den) return true;
  if (num == 0) return false;
  return UniformBelow(den) < num;
}

}  // namespace tailor
