// Secure aggregation's algebra end to end (privacy/secagg_masking.h with the primitives and
// Shamir sharing): clients mask fixed-point inputs, some drop before sending theirs, some after;
// from any t helpers' shares the coordinator removes the masks and gets the plain sum exactly;
// with t - 1 helpers it cannot.
#include "privacy/secagg_masking.h"

#include <cmath>
#include <set>

#include "gtest/gtest.h"
#include "privacy/shamir.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

struct Client {
  AgreementKeyPair keys;
  Key32 self_seed{};
  std::vector<ShamirShare> key_shares, seed_shares;  // [holder]
  std::vector<uint64_t> encoded;
};

// One round with `n` clients, threshold `t`, `dropped_early` clients that shared their keys
// but never sent a masked input and `dropped_late` that sent it but then left (no help with
// unmasking). Returns whether unmasking worked; when it did, checks the sum exactly.
bool RunRound(int n, int t, int dropped_early, int dropped_late, uint64_t seed) {
  auto r = SecureRandom::FromSeed(seed, 1);
  const double clip = 1.0, grid = std::ldexp(1.0, -16);
  const SecAggField field = *ChooseSecAggField(n, clip, grid);
  const int d = 37;
  std::vector<Client> clients(static_cast<size_t>(n));
  std::vector<std::pair<int64_t, Key32>> published;
  std::vector<uint32_t> xs;
  for (int i = 0; i < n; ++i) {
    clients[i].keys = *AgreementKeyPairFromSeed(RandomKey32(*r));
    clients[i].self_seed = RandomKey32(*r);
    published.push_back({i, clients[i].keys.public_key});
    xs.push_back(static_cast<uint32_t>(i + 1));
  }
  const Key32 session = SessionId(9, published);
  for (Client& c : clients) {
    c.key_shares = *ShamirSplit(c.keys.secret_key, t, xs, *r);
    c.seed_shares = *ShamirSplit(c.self_seed, t, xs, *r);
  }
  // The last dropped_early clients never send; the dropped_late before them send and leave.
  const int senders = n - dropped_early, helpers = senders - dropped_late;
  std::vector<uint64_t> plain(d, 0), masked(d, 0);
  const uint64_t modulus_mask = (uint64_t{1} << field.bits) - 1;
  for (int i = 0; i < senders; ++i) {
    std::vector<float> update(d);
    double norm = 0;
    for (float& v : update) norm += (v = static_cast<float>(r->UniformOpen() - 0.5)) * v;
    for (float& v : update) v = static_cast<float>(v * clip / std::sqrt(norm) * r->UniformOpen());
    std::vector<uint64_t> x = *EncodeOnGrid(update, field, clip);
    for (int k = 0; k < d; ++k) plain[k] = (plain[k] + x[k]) & modulus_mask;
    std::vector<PeerKey> peers;
    for (int j = 0; j < n; ++j) {
      if (j != i) {
        peers.push_back({j, *AgreeSessionKey(clients[i].keys, clients[j].keys.public_key, session)});
      }
    }
    AddMasks(i, clients[i].self_seed, peers, field, absl::MakeSpan(x));
    AddModulo(x, field, absl::MakeSpan(masked));
  }
  // Unmasking from the helpers' shares: self seeds of senders, secret keys of the early drops.
  auto gather = [&](const std::vector<ShamirShare>& all) {
    std::vector<ShamirShare> held;
    for (int h = 0; h < helpers; ++h) held.push_back(all[static_cast<size_t>(h)]);
    return held;
  };
  std::vector<Key32> seeds;
  for (int i = 0; i < senders; ++i) {
    absl::StatusOr<std::vector<uint8_t>> seed = ShamirCombine(gather(clients[i].seed_shares), t, 32);
    if (!seed.ok()) return false;
    Key32 k;
    std::copy(seed->begin(), seed->end(), k.begin());
    EXPECT_EQ(k, clients[i].self_seed);
    seeds.push_back(k);
  }
  std::vector<DroppedPairMask> dropped;
  for (int e = senders; e < n; ++e) {
    absl::StatusOr<std::vector<uint8_t>> secret = ShamirCombine(gather(clients[e].key_shares), t, 32);
    if (!secret.ok()) return false;
    Key32 k;
    std::copy(secret->begin(), secret->end(), k.begin());
    const AgreementKeyPair rebuilt = *AgreementKeyPairFromSeed(k);
    EXPECT_EQ(rebuilt.public_key, clients[e].keys.public_key);
    for (int u = 0; u < senders; ++u) {
      dropped.push_back({u, e, *AgreeSessionKey(rebuilt, clients[u].keys.public_key, session)});
    }
  }
  RemoveMasks(seeds, dropped, field, absl::MakeSpan(masked));
  EXPECT_EQ(masked, plain) << "n " << n << " t " << t << " early " << dropped_early << " late "
                           << dropped_late;
  return true;
}

TEST(SecAggMasking, TheUnmaskedSumIsThePlainSumExactlyUnderDropoutsAtEachPhase) {
  auto pick = SecureRandom::FromSeed(11, 1);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = 2 + static_cast<int>(pick->UniformBelow(9));
    const int t = 1 + static_cast<int>(pick->UniformBelow(static_cast<uint128>(n)));
    // Drops that leave exactly t helpers, at the two phase boundaries in some split.
    const int drops = n - t;
    const int early = static_cast<int>(pick->UniformBelow(static_cast<uint128>(drops + 1)));
    EXPECT_TRUE(RunRound(n, t, early, drops - early, 100 + static_cast<uint64_t>(trial)))
        << "n " << n << " t " << t << ": " << t << " helpers must suffice";
    if (t >= 2) {
      // One more drop: t - 1 helpers cannot unmask, and the round must abort.
      EXPECT_FALSE(RunRound(n, t, early, drops - early + 1, 500 + static_cast<uint64_t>(trial)))
          << "n " << n << " t " << t << ": t - 1 helpers unmasked";
    }
  }
}

// What the coordinator sees of one client is uniform whatever the input: the masked words of an
// all-zero input and of an input at the clip norm both pass a chi-square test over 16 buckets
// (15 degrees of freedom; 37.7 is the 0.1% critical value).
// A sum long enough to be unmasked on several cores: masks removed range by range leave exactly
// what was there before they were added (a range that started on the wrong word of a mask
// stream, or a word taken twice, would not).
TEST(SecAggMasking, UnmaskingALongSumInRangesIsExact) {
  const SecAggField field{64, 1.0};
  auto r = SecureRandom::FromSeed(33, 1);
  std::vector<uint64_t> plain(300001), sum(plain.size(), 0);
  for (uint64_t& w : plain) w = r->NextU64();
  const Key32 a = RandomKey32(*r), b = RandomKey32(*r), pair = RandomKey32(*r);
  // Client 0 (survivor) masked with client 5 (dropped after sharing); client 1 has no peers.
  std::vector<uint64_t> x0 = plain, x1(plain.size(), 0);
  AddMasks(0, a, {{5, pair}}, field, absl::MakeSpan(x0));
  AddMasks(1, b, {}, field, absl::MakeSpan(x1));
  AddModulo(x0, field, absl::MakeSpan(sum));
  AddModulo(x1, field, absl::MakeSpan(sum));
  RemoveMasks({a, b}, {{0, 5, pair}}, field, absl::MakeSpan(sum));
  EXPECT_EQ(sum, plain);
}

TEST(SecAggMasking, OneMaskedInputLooksUniformWhateverItHolds) {
  const SecAggField field{20, 1.0 / 1024};
  auto r = SecureRandom::FromSeed(21, 1);
  for (float value : {0.0f, 1.0f}) {
    std::vector<float> update(8192, 0.0f);
    update[0] = value;  // one coordinate at the clip norm, the rest 0
    std::vector<uint64_t> x = *EncodeOnGrid(update, field, 1.0);
    AddMasks(0, RandomKey32(*r), {{1, RandomKey32(*r)}, {2, RandomKey32(*r)}}, field,
             absl::MakeSpan(x));
    std::vector<int> buckets(16, 0);
    for (uint64_t w : x) ++buckets[static_cast<size_t>(w >> (field.bits - 4))];
    const double expected = x.size() / 16.0;
    double chi2 = 0;
    for (int b : buckets) chi2 += (b - expected) * (b - expected) / expected;
    EXPECT_LT(chi2, 37.7) << "input " << value;
  }
}

TEST(SecAggMasking, TheFieldHoldsTheSumAndRefusesWhatCouldWrap) {
  absl::StatusOr<SecAggField> f = ChooseSecAggField(1000, 1.0, std::ldexp(1.0, -20));
  ASSERT_OK(f);
  EXPECT_EQ(f->bits, 31);  // |sum| <= 1000 · (2^20 + 1) < 2^30, and a bit for the sign
  EXPECT_STATUS(ChooseSecAggField(1 << 20, 1e6, 1e-12), absl::StatusCode::kInvalidArgument,
                "could wrap");
  EXPECT_STATUS(ChooseSecAggField(0, 1, 1), absl::StatusCode::kInvalidArgument, "clients >= 1");
  // Encoding and decoding: negative values and the grid's rounding.
  const SecAggField g{16, 0.25};
  absl::StatusOr<std::vector<uint64_t>> x = EncodeOnGrid(std::vector<float>{-1.0f, 0.6f}, g, 2.0);
  ASSERT_OK(x);
  EXPECT_EQ(DecodeSum(*x, g), (std::vector<double>{-1.0, 0.5}));
  EXPECT_STATUS(EncodeOnGrid(std::vector<float>{NAN}, g, 2.0), absl::StatusCode::kInvalidArgument,
                "not finite");
  EXPECT_STATUS(EncodeOnGrid(std::vector<float>{9.0f}, g, 2.0), absl::StatusCode::kInvalidArgument,
                "beyond the clip norm");
}

}  // namespace
}  // namespace tailor
