#include "privacy/secagg_wire.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

std::string KeyBytes(const Key32& k) { return std::string(k.begin(), k.end()); }

absl::StatusOr<Key32> KeyFrom(const std::string& bytes, const char* what) {
  Key32 k{};
  if (bytes.size() != k.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", what, " of ", bytes.size(), " bytes (X25519 keys are 32)"));
  }
  std::copy(bytes.begin(), bytes.end(), k.begin());
  return k;
}

constexpr size_t kElementBytes = 16;
constexpr size_t kMaxChunks = 16;  // a 32-byte secret is 3 chunks of 15 bytes

v1::SecAggShare ShareToProto(int64_t whose, const ShamirShare& s) {
  v1::SecAggShare m;
  m.set_client_id(whose);
  m.set_x(s.x);
  std::string ys;
  for (uint128 y : s.ys) {
    for (size_t i = 0; i < kElementBytes; ++i) ys.push_back(static_cast<char>(y >> (8 * i)));
  }
  m.set_ys(std::move(ys));
  return m;
}

absl::StatusOr<ShamirShare> ShareFromProto(const v1::SecAggShare& m) {
  const std::string& ys = m.ys();
  if (ys.size() % kElementBytes != 0 || ys.size() / kElementBytes > kMaxChunks) {
    return absl::InvalidArgumentError(absl::StrCat("a Shamir share of ", ys.size(), " bytes"));
  }
  ShamirShare s;
  s.x = m.x();
  for (size_t at = 0; at < ys.size(); at += kElementBytes) {
    uint128 y = 0;
    for (size_t i = 0; i < kElementBytes; ++i) {
      y |= static_cast<uint128>(static_cast<uint8_t>(ys[at + i])) << (8 * i);
    }
    if (y >= gf127::kPrime) return absl::InvalidArgumentError("a Shamir share outside the field");
    s.ys.push_back(y);
  }
  return s;
}

}  // namespace

v1::SecAggAdvertisement ToProto(const KeyAdvertisement& ad) {
  v1::SecAggAdvertisement m;
  m.set_client_id(ad.client);
  m.set_cipher_public(KeyBytes(ad.cipher_public));
  m.set_mask_public(KeyBytes(ad.mask_public));
  return m;
}

absl::StatusOr<KeyAdvertisement> FromProto(const v1::SecAggAdvertisement& msg) {
  KeyAdvertisement ad;
  ad.client = msg.client_id();
  TAILOR_ASSIGN_OR_RETURN(ad.cipher_public, KeyFrom(msg.cipher_public(), "cipher public key"));
  TAILOR_ASSIGN_OR_RETURN(ad.mask_public, KeyFrom(msg.mask_public(), "mask public key"));
  return ad;
}

v1::SecAggSealedShares ToProto(const SealedShares& s) {
  v1::SecAggSealedShares m;
  m.set_from_client(s.from);
  m.set_to_client(s.to);
  m.set_ciphertext(s.ciphertext);
  return m;
}

SealedShares FromProto(const v1::SecAggSealedShares& msg) {
  return SealedShares{msg.from_client(), msg.to_client(), msg.ciphertext()};
}

v1::SecAggUnmaskResponse ToProto(const UnmaskResponse& r) {
  v1::SecAggUnmaskResponse m;
  for (const auto& [whose, share] : r.seed_shares) *m.add_seed_shares() = ShareToProto(whose, share);
  for (const auto& [whose, share] : r.key_shares) *m.add_key_shares() = ShareToProto(whose, share);
  return m;
}

absl::StatusOr<UnmaskResponse> FromProto(int64_t client, const v1::SecAggUnmaskResponse& msg) {
  UnmaskResponse r;
  r.client = client;
  for (const v1::SecAggShare& s : msg.seed_shares()) {
    TAILOR_ASSIGN_OR_RETURN(ShamirShare share, ShareFromProto(s));
    if (!r.seed_shares.emplace(s.client_id(), std::move(share)).second) {
      return absl::InvalidArgumentError(absl::StrCat("two seed shares for client ", s.client_id()));
    }
  }
  for (const v1::SecAggShare& s : msg.key_shares()) {
    TAILOR_ASSIGN_OR_RETURN(ShamirShare share, ShareFromProto(s));
    if (!r.key_shares.emplace(s.client_id(), std::move(share)).second) {
      return absl::InvalidArgumentError(absl::StrCat("two key shares for client ", s.client_id()));
    }
  }
  return r;
}

size_t SecAggWordBytes(int bits) { return static_cast<size_t>(std::min(64, std::max(8, bits)) + 7) / 8; }

std::string PackWords(absl::Span<const uint64_t> words, int bits) {
  const size_t width = SecAggWordBytes(bits);
  std::string out(words.size() * width, '\0');
  for (size_t i = 0; i < words.size(); ++i) {
    for (size_t b = 0; b < width; ++b) out[width * i + b] = static_cast<char>(words[i] >> (8 * b));
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> UnpackWords(const std::string& bytes, size_t expected,
                                                  int bits) {
  const size_t width = SecAggWordBytes(bits);
  if (bytes.size() != expected * width) {
    return absl::InvalidArgumentError(absl::StrCat("a masked input of ", bytes.size(),
                                                   " bytes, the round sums ", expected,
                                                   " words of ", width));
  }
  std::vector<uint64_t> words(expected);
  for (size_t i = 0; i < expected; ++i) {
    uint64_t w = 0;
    for (size_t b = 0; b < width; ++b) {
      w |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[width * i + b])) << (8 * b);
    }
    words[i] = w;
  }
  return words;
}

}  // namespace tailor
