#include "privacy/secagg_crypto.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

absl::Status InitSodium() {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  return absl::OkStatus();
}

void PutU64(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

Key32 RandomKey32(SecureRandom& random) {
  Key32 k;
  for (size_t i = 0; i < k.size(); i += 8) {
    const uint64_t w = random.NextU64();
    for (size_t b = 0; b < 8; ++b) k[i + b] = static_cast<uint8_t>(w >> (8 * b));
  }
  return k;
}

AgreementKeyPair::~AgreementKeyPair() { sodium_memzero(secret_key.data(), secret_key.size()); }

absl::StatusOr<AgreementKeyPair> NewAgreementKeyPair() {
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  Key32 seed;
  randombytes_buf(seed.data(), seed.size());
  absl::StatusOr<AgreementKeyPair> pair = AgreementKeyPairFromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return pair;
}

absl::StatusOr<AgreementKeyPair> AgreementKeyPairFromSeed(const Key32& seed) {
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  AgreementKeyPair pair;
  pair.secret_key = seed;
  if (crypto_scalarmult_base(pair.public_key.data(), pair.secret_key.data()) != 0) {
    return absl::InternalError("X25519 base-point multiplication failed");
  }
  return pair;
}

absl::StatusOr<Key32> X25519(const Key32& my_secret, const Key32& their_public) {
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  Key32 shared;
  if (crypto_scalarmult(shared.data(), my_secret.data(), their_public.data()) != 0) {
    return absl::InvalidArgumentError("the peer's public key is a low-order point");
  }
  return shared;
}

absl::StatusOr<Key32> AgreeSessionKey(const AgreementKeyPair& mine, const Key32& their_public,
                                      absl::Span<const uint8_t> session_id) {
  absl::StatusOr<Key32> shared = X25519(mine.secret_key, their_public);
  if (!shared.ok()) return shared.status();
  const bool mine_first = mine.public_key < their_public;
  const Key32& first = mine_first ? mine.public_key : their_public;
  const Key32& second = mine_first ? their_public : mine.public_key;
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  crypto_generichash_update(&state, shared->data(), shared->size());
  crypto_generichash_update(&state, first.data(), first.size());
  crypto_generichash_update(&state, second.data(), second.size());
  crypto_generichash_update(&state, session_id.data(), session_id.size());
  Key32 key;
  crypto_generichash_final(&state, key.data(), key.size());
  sodium_memzero(shared->data(), shared->size());
  sodium_memzero(&state, sizeof(state));
  return key;
}

Key32 SessionId(int64_t round, absl::Span<const std::pair<int64_t, Key32>> public_keys) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  const char domain[] = "tailor.secagg.session.v1";
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(domain), sizeof(domain));
  uint8_t word[8];
  PutU64(static_cast<uint64_t>(round), word);
  crypto_generichash_update(&state, word, sizeof(word));
  for (const auto& [client, key] : public_keys) {
    PutU64(static_cast<uint64_t>(client), word);
    crypto_generichash_update(&state, word, sizeof(word));
    crypto_generichash_update(&state, key.data(), key.size());
  }
  Key32 id;
  crypto_generichash_final(&state, id.data(), id.size());
  return id;
}

void ExpandMaskRange(const Key32& key, uint64_t stream, int bits, uint64_t first,
                     absl::Span<uint64_t> out) {
  // Initializing picks libsodium's vectorized ChaCha20 (about twice the portable one's speed
  // here); the portable cipher gives the same words if it fails. Once per process.
  static const bool initialized = sodium_init() >= 0;
  (void)initialized;
  uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
  PutU64(stream, nonce);
  // The keystream itself: zeros encrypted from block first / 8 on (8 words per 64-byte block),
  // a cache-sized piece at a time so no P-word buffer is ever allocated.
  static const uint8_t kZeros[kMaskTileWords * sizeof(uint64_t)] = {};
  for (size_t at = 0; at < out.size(); at += kMaskTileWords) {
    const size_t n = std::min(kMaskTileWords, out.size() - at);
    const uint64_t block = (first + at) / 8;
    crypto_stream_chacha20_ietf_xor_ic(reinterpret_cast<uint8_t*>(out.data() + at), kZeros,
                                       n * sizeof(uint64_t), nonce, static_cast<uint32_t>(block),
                                       key.data());
  }
  if (bits < 64) {
    const uint64_t keep = (uint64_t{1} << bits) - 1;
    for (uint64_t& w : out) w &= keep;
  }
}

void ExpandMask(const Key32& key, uint64_t stream, int bits, absl::Span<uint64_t> out) {
  ExpandMaskRange(key, stream, bits, 0, out);
}

absl::StatusOr<std::string> EncryptShare(const Key32& key, absl::Span<const uint8_t> plaintext,
                                         absl::Span<const uint8_t> associated) {
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  uint8_t* nonce = reinterpret_cast<uint8_t*>(out.data());
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &written, plaintext.data(),
      plaintext.size(), associated.data(), associated.size(), nullptr, nonce, key.data());
  out.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + written);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> DecryptShare(const Key32& key, const std::string& ciphertext,
                                                  absl::Span<const uint8_t> associated) {
  constexpr size_t kOverhead =
      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (ciphertext.size() < kOverhead) {
    return absl::InvalidArgumentError(absl::StrCat("an encrypted share of ", ciphertext.size(),
                                                   " bytes is shorter than its ", kOverhead,
                                                   "-byte nonce and tag"));
  }
  if (absl::Status s = InitSodium(); !s.ok()) return s;
  const uint8_t* nonce = reinterpret_cast<const uint8_t*>(ciphertext.data());
  std::vector<uint8_t> plain(ciphertext.size() - kOverhead);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), &written, nullptr, nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, associated.data(),
          associated.size(), nonce, key.data()) != 0) {
    return absl::DataLossError(
        "an encrypted share failed authentication (altered, or for another session or peer)");
  }
  plain.resize(written);
  return plain;
}

}  // namespace tailor
