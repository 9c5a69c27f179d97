// Secure aggregation's primitives (privacy/secagg_crypto.h): known answers from RFC 7748
// (X25519) and RFC 8439 (ChaCha20), session binding, share encryption that refuses any change,
// and pairwise masks that cancel in the sum.
#include "privacy/secagg_crypto.h"

#include <set>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

Key32 Hex32(const char* hex) {
  const std::string bytes = absl::HexStringToBytes(hex);
  Key32 k{};
  std::copy(bytes.begin(), bytes.end(), k.begin());
  return k;
}

std::string Hex(const uint8_t* data, size_t n) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(data), n));
}

// RFC 7748, section 6.1.
TEST(SecAggCrypto, X25519MatchesRfc7748) {
  const Key32 alice_secret = Hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Key32 bob_secret = Hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  absl::StatusOr<AgreementKeyPair> alice = AgreementKeyPairFromSeed(alice_secret);
  absl::StatusOr<AgreementKeyPair> bob = AgreementKeyPairFromSeed(bob_secret);
  ASSERT_OK(alice);
  ASSERT_OK(bob);
  EXPECT_EQ(Hex(alice->public_key.data(), 32),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(Hex(bob->public_key.data(), 32),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  absl::StatusOr<Key32> shared = X25519(alice->secret_key, bob->public_key);
  ASSERT_OK(shared);
  EXPECT_EQ(Hex(shared->data(), 32),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  // A low-order point would give a key everyone knows.
  EXPECT_STATUS(X25519(alice->secret_key, Key32{}), absl::StatusCode::kInvalidArgument,
                "low-order point");
}

// RFC 8439, section 2.3.2: key 00..1f, nonce 00 00 00 09 00 00 00 4a 00 00 00 00, block 1.
TEST(SecAggCrypto, MaskExpansionIsTheChaCha20KeystreamOfRfc8439) {
  Key32 key;
  for (int i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(i);
  uint64_t words[16];
  ExpandMask(key, 0x4a00000009000000ULL, 64, absl::MakeSpan(words));
  EXPECT_EQ(Hex(reinterpret_cast<const uint8_t*>(words + 8), 64),
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
            "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
  uint64_t narrow[16];
  ExpandMask(key, 0x4a00000009000000ULL, 20, absl::MakeSpan(narrow));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(narrow[i], words[i] & ((1u << 20) - 1));
  uint64_t other[16];
  ExpandMask(key, 1, 64, absl::MakeSpan(other));
  EXPECT_NE(other[0], words[0]);
  // Made a tile at a time, a long mask is the one keystream: no block repeated or skipped at a
  // tile's edge, and any block-aligned range is that part of it.
  std::vector<uint64_t> whole(3 * kMaskTileWords + 13), pieces(whole.size());
  ExpandMask(key, 7, 64, absl::MakeSpan(whole));
  for (size_t at = 0; at < whole.size(); at += 1000) {
    const size_t n = std::min<size_t>(1000, whole.size() - at);
    ExpandMaskRange(key, 7, 64, at, absl::MakeSpan(pieces.data() + at, n));
  }
  EXPECT_EQ(whole, pieces);
  EXPECT_EQ(std::set<uint64_t>(whole.begin(), whole.end()).size(), whole.size());
}

TEST(SecAggCrypto, SessionKeysAgreeAndDifferPerSession) {
  auto a = NewAgreementKeyPair();
  auto b = NewAgreementKeyPair();
  ASSERT_OK(a);
  ASSERT_OK(b);
  const Key32 s1 = SessionId(1, {{0, a->public_key}, {1, b->public_key}});
  const Key32 s2 = SessionId(2, {{0, a->public_key}, {1, b->public_key}});
  EXPECT_NE(s1, s2);
  absl::StatusOr<Key32> ab = AgreeSessionKey(*a, b->public_key, s1);
  absl::StatusOr<Key32> ba = AgreeSessionKey(*b, a->public_key, s1);
  absl::StatusOr<Key32> ab2 = AgreeSessionKey(*a, b->public_key, s2);
  ASSERT_OK(ab);
  ASSERT_OK(ba);
  ASSERT_OK(ab2);
  EXPECT_EQ(*ab, *ba);
  EXPECT_NE(*ab, *ab2);
}

TEST(SecAggCrypto, ASharesCiphertextRefusesAnyChangeOrAnotherSession) {
  auto a = NewAgreementKeyPair();
  auto b = NewAgreementKeyPair();
  ASSERT_OK(a);
  ASSERT_OK(b);
  const Key32 key = *AgreeSessionKey(*a, b->public_key, SessionId(3, {}));
  const std::vector<uint8_t> share = {1, 2, 3, 4, 5};
  const std::vector<uint8_t> ad = {9, 9, 0, 1};  // (session, from, to) in the protocol
  absl::StatusOr<std::string> sealed = EncryptShare(key, share, ad);
  ASSERT_OK(sealed);
  absl::StatusOr<std::vector<uint8_t>> opened = DecryptShare(key, *sealed, ad);
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, share);
  EXPECT_NE(*EncryptShare(key, share, ad), *sealed);  // a fresh nonce each time
  std::string flipped = *sealed;
  flipped[flipped.size() - 1] ^= 1;
  EXPECT_STATUS(DecryptShare(key, flipped, ad), absl::StatusCode::kDataLoss, "authentication");
  EXPECT_STATUS(DecryptShare(key, *sealed, std::vector<uint8_t>{9, 9, 1, 0}),
                absl::StatusCode::kDataLoss, "authentication");
  EXPECT_STATUS(DecryptShare(key, "short", ad), absl::StatusCode::kInvalidArgument, "shorter");
}

// The pairwise masks of Bonawitz et al.: client i adds PRG(k_ij) for j > i and subtracts it for
// j < i, modulo 2^bits; over all clients the masks cancel exactly.
TEST(SecAggCrypto, PairwiseMasksCancelInTheSum) {
  constexpr int kClients = 5, kBits = 40, kWords = 257;
  std::vector<AgreementKeyPair> keys;
  std::vector<std::pair<int64_t, Key32>> published;
  for (int i = 0; i < kClients; ++i) {
    keys.push_back(*NewAgreementKeyPair());
    published.push_back({i, keys.back().public_key});
  }
  const Key32 session = SessionId(7, published);
  const uint64_t modulus_mask = (uint64_t{1} << kBits) - 1;
  std::vector<uint64_t> sum(kWords, 0), mask(kWords);
  for (int i = 0; i < kClients; ++i) {
    for (int j = 0; j < kClients; ++j) {
      if (i == j) continue;
      ExpandMask(*AgreeSessionKey(keys[i], keys[j].public_key, session), 0, kBits,
                 absl::MakeSpan(mask));
      for (int w = 0; w < kWords; ++w) {
        sum[w] = (j > i ? sum[w] + mask[w] : sum[w] - mask[w]) & modulus_mask;
      }
    }
  }
  for (uint64_t s : sum) ASSERT_EQ(s, 0u);
}

}  // namespace
}  // namespace tailor
