// SecureRandom: the only source of randomness for privacy noise. A ChaCha20 keystream
// (libsodium) read through a buffer, keyed either from the operating system's entropy (a
// deployment: nobody can predict or replay the noise) or from the experiment seed (a
// simulation that must give the same numbers for the same seed; whoever knows the seed can
// recompute the noise, so such a run protects nothing against that person).
//
// Never std::mt19937 or core/random.h's xoshiro: their state is recoverable from outputs.
// Not thread-safe; one instance per consumer.
#ifndef TAILOR_PRIVACY_SECURE_RANDOM_H_
#define TAILOR_PRIVACY_SECURE_RANDOM_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace tailor {

using uint128 = unsigned __int128;

class SecureRandom {
 public:
  // Keyed by 32 bytes from the OS (libsodium's randombytes). INTERNAL if libsodium cannot
  // initialize.
  static absl::StatusOr<std::unique_ptr<SecureRandom>> FromOsEntropy();
  // Keyed by SHA-256 of (seed, stream): reproducible, independent per stream.
  static std::unique_ptr<SecureRandom> FromSeed(uint64_t seed, uint64_t stream);

  uint64_t NextU64();
  // Uniform in [0, n), n > 0, without bias (rejection from the next power of two).
  uint128 UniformBelow(uint128 n);
  // True with probability num / den exactly (0 <= num <= den, den > 0).
  bool Bernoulli(uint128 num, uint128 den);
  // True with probability p in [0, 1] taken as a 53-bit dyadic rational rounded down, so a
  // privacy analysis at rate p never under-states the rate used.
  bool BernoulliRate(double p);
  // Uniform in (0, 1), 53 random bits (never 0, so its log is finite).
  double UniformOpen();
  // n independent N(0, 1) floats by the Box-Muller transform. Floating point: for DP-SGD's
  // internal gradient noise, never for a released value (docs/privacy.md says why).
  void FillStandardNormal(float* out, size_t n);

  // True when the key came from the OS.
  bool secure() const { return secure_; }

 private:
  SecureRandom(const std::array<uint8_t, 32>& key, bool secure);
  void Refill();

  std::array<uint8_t, 32> key_;
  bool secure_;
  uint64_t block_counter_ = 0;  // ChaCha20 blocks of 64 bytes consumed
  static constexpr size_t kBufferWords = 512;  // 4 KiB of keystream per refill
  std::array<uint64_t, kBufferWords> buffer_;
  size_t next_ = kBufferWords;
};

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECURE_RANDOM_H_
