// Secure aggregation's primitives (issue 17; Bonawitz et al. CCS 2017), all from libsodium:
// X25519 key agreement whose result is bound to the round's session, the mask PRG (ChaCha20's
// keystream expanded into words modulo 2^bits), and XChaCha20-Poly1305 for the Shamir shares
// clients send each other through the coordinator, with the session and both parties' ids as
// associated data so a share cannot be replayed into another round or redirected. No cipher is
// written here; secrets are wiped with sodium_memzero when their holders die.
#ifndef TAILOR_PRIVACY_SECAGG_CRYPTO_H_
#define TAILOR_PRIVACY_SECAGG_CRYPTO_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "privacy/secure_random.h"

namespace tailor {

using Key32 = std::array<uint8_t, 32>;

// An X25519 key pair. The secret is wiped on destruction.
struct AgreementKeyPair {
  Key32 public_key{};
  Key32 secret_key{};
  AgreementKeyPair() = default;
  AgreementKeyPair(const AgreementKeyPair&) = default;
  AgreementKeyPair& operator=(const AgreementKeyPair&) = default;
  ~AgreementKeyPair();
};

// 32 bytes of `random`'s keystream (a key, a seed).
Key32 RandomKey32(SecureRandom& random);

// A fresh key pair from the operating system's entropy, or one whose secret is `seed` (a
// reproducible simulation; whoever knows the seed knows the key). INTERNAL if libsodium cannot
// initialize.
absl::StatusOr<AgreementKeyPair> NewAgreementKeyPair();
absl::StatusOr<AgreementKeyPair> AgreementKeyPairFromSeed(const Key32& seed);

// The raw X25519 shared secret (RFC 7748). INVALID_ARGUMENT when the peer's key is a low-order
// point (the result would be all zeros, known to anyone).
absl::StatusOr<Key32> X25519(const Key32& my_secret, const Key32& their_public);

// The key two clients share for this session: BLAKE2b-256 of the X25519 secret, both public
// keys in a fixed order and the session id, so the same pair gets unrelated keys in every
// round and both ends derive the same one.
absl::StatusOr<Key32> AgreeSessionKey(const AgreementKeyPair& mine, const Key32& their_public,
                                      absl::Span<const uint8_t> session_id);

// The session id: BLAKE2b-256 over the round and every advertised public key in client order.
Key32 SessionId(int64_t round, absl::Span<const std::pair<int64_t, Key32>> public_keys);

// Mask words: ChaCha20 (IETF, 96-bit nonce from `stream`) keyed by `key`, each 64-bit word of
// keystream reduced modulo 2^bits (1 <= bits <= 64). The same key and stream give the same words.
void ExpandMask(const Key32& key, uint64_t stream, int bits, absl::Span<uint64_t> out);
// Words [first, first + out.size()) of the same stream; `first` a multiple of 8 (one ChaCha20
// block), at most 2^35 words into the stream. Lets a caller add a mask a tile at a time.
inline constexpr size_t kMaskTileWords = 4096;
void ExpandMaskRange(const Key32& key, uint64_t stream, int bits, uint64_t first,
                     absl::Span<uint64_t> out);

// XChaCha20-Poly1305 with a random nonce (prefixed to the ciphertext) and `associated` data
// that must match on decryption. Decrypt: DATA_LOSS when the ciphertext or the associated data
// were altered, INVALID_ARGUMENT when it is too short.
absl::StatusOr<std::string> EncryptShare(const Key32& key, absl::Span<const uint8_t> plaintext,
                                         absl::Span<const uint8_t> associated);
absl::StatusOr<std::vector<uint8_t>> DecryptShare(const Key32& key, const std::string& ciphertext,
                                                  absl::Span<const uint8_t> associated);

}  // namespace tailor

#endif  // TAILOR_PRIVACY_SECAGG_CRYPTO_H_
