// The secure-aggregation protocol in memory (privacy/secagg_protocol.h): whatever the dropouts
// at each phase, the coordinator gets exactly the sum of the inputs it counted, or aborts below
// the threshold; a client refuses the requests of a coordinator that tries to learn more.
#include "privacy/secagg_protocol.h"

#include <memory>

#include "absl/strings/match.h"
#include "core/status_macros.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

struct Trial {
  int n, t;
  // Counts dropping at each boundary: before advertising, after advertising, after sharing,
  // after the masked input.
  int before_advertise, after_advertise, after_share, after_input;
  int neighbours = 0;  // SecAgg+'s k; 0: everyone
};

// Runs one round; returns the coordinator's status, and on success checks the exact sum.
absl::Status RunProtocol(const Trial& trial, uint64_t seed) {
  SecAggRoundConfig config;
  config.round = 3;
  config.threshold = trial.t;
  config.field = *ChooseSecAggField(trial.n, 1.0, std::ldexp(1.0, -12));
  config.length = 19;
  config.neighbours = trial.neighbours;
  std::vector<std::unique_ptr<SecureRandom>> randoms;
  std::vector<std::unique_ptr<SecAggClient>> clients;
  for (int i = 0; i < trial.n; ++i) {
    randoms.push_back(SecureRandom::FromSeed(seed, static_cast<uint64_t>(i)));
    clients.push_back(std::make_unique<SecAggClient>(i, config, randoms.back().get()));
  }
  // The clients at each phase: the first ones stay, the last ones drop.
  int alive = trial.n - trial.before_advertise;
  SecAggServer server(config);
  std::vector<KeyAdvertisement> ads;
  for (int i = 0; i < alive; ++i) ads.push_back(clients[i]->Advertise());
  TAILOR_ASSIGN_OR_RETURN(std::vector<KeyAdvertisement> roster, server.CollectAdvertisements(ads));
  alive -= trial.after_advertise;
  std::vector<SealedShares> sealed;
  for (int i = 0; i < alive; ++i) {
    TAILOR_ASSIGN_OR_RETURN(std::vector<SealedShares> mine, clients[i]->ShareKeys(roster));
    // Shares go to the neighbours only (everyone else in plain SecAgg).
    const size_t peers = trial.neighbours > 0 && trial.neighbours < static_cast<int>(roster.size()) - 1
                             ? static_cast<size_t>(trial.neighbours)
                             : roster.size() - 1;
    EXPECT_EQ(mine.size(), peers);
    sealed.insert(sealed.end(), mine.begin(), mine.end());
  }
  TAILOR_ASSIGN_OR_RETURN(auto inbox, server.RouteShares(sealed));
  alive -= trial.after_share;
  std::vector<MaskedInput> inputs;
  std::vector<uint64_t> plain(config.length, 0);
  const uint64_t m = (uint64_t{1} << config.field.bits) - 1;
  auto values = SecureRandom::FromSeed(seed, 999);
  for (int i = 0; i < alive; ++i) {
    std::vector<uint64_t> x(config.length);
    for (uint64_t& w : x) w = values->NextU64() & (m >> 4);  // well inside the field
    for (size_t k = 0; k < x.size(); ++k) plain[k] = (plain[k] + x[k]) & m;
    TAILOR_ASSIGN_OR_RETURN(MaskedInput in, clients[i]->MaskInput(inbox[i], x));
    EXPECT_NE(in.words, x);
    inputs.push_back(std::move(in));
  }
  TAILOR_ASSIGN_OR_RETURN(UnmaskRequest request, server.CollectMaskedInputs(inputs));
  alive -= trial.after_input;
  std::vector<UnmaskResponse> responses;
  for (int i = 0; i < alive; ++i) {
    TAILOR_ASSIGN_OR_RETURN(UnmaskResponse r, clients[i]->Unmask(request));
    responses.push_back(std::move(r));
  }
  TAILOR_ASSIGN_OR_RETURN(std::vector<uint64_t> sum, server.Unmask(responses));
  EXPECT_EQ(sum, plain) << "n " << trial.n << " t " << trial.t;
  return absl::OkStatus();
}

TEST(SecAggProtocol, TheSumIsExactUnderDropoutsAtEveryPhaseAndAbortsBelowThreshold) {
  auto pick = SecureRandom::FromSeed(17, 1);
  for (int k = 0; k < 30; ++k) {
    Trial trial{};
    trial.n = 3 + static_cast<int>(pick->UniformBelow(8));
    trial.t = trial.n / 2 + 1 + static_cast<int>(pick->UniformBelow(static_cast<uint128>((trial.n + 1) / 2)));
    trial.t = std::min(trial.t, trial.n);
    // Spread exactly n - t drops over the four boundaries: t helpers remain.
    int drops = trial.n - trial.t;
    int* where[4] = {&trial.before_advertise, &trial.after_advertise, &trial.after_share,
                     &trial.after_input};
    while (drops-- > 0) ++*where[pick->UniformBelow(4)];
    EXPECT_OK(RunProtocol(trial, 40 + static_cast<uint64_t>(k)))
        << "n " << trial.n << " t " << trial.t;
    // One more drop at a random boundary: the round aborts, nothing is reconstructed.
    ++*where[pick->UniformBelow(4)];
    absl::Status aborted = RunProtocol(trial, 80 + static_cast<uint64_t>(k));
    EXPECT_EQ(aborted.code(), absl::StatusCode::kFailedPrecondition) << aborted;
    EXPECT_TRUE(absl::StrContains(aborted.message(), "threshold")) << aborted;
  }
}

TEST(SecAggProtocol, SecAggPlusSumsExactlyWithNeighbourhoodsOnly) {
  // k = 8, t = 5: each client's secrets have 9 holders (its neighbours and itself), so any 4
  // dropouts leave every reconstruction t holders, wherever in the graph they fall.
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Trial trial{24, 5, 1, 1, 1, 1, 8};
    EXPECT_OK(RunProtocol(trial, 300 + seed)) << seed;
  }
  // With k = 4, t = 3 and a third of the clients dropping after sharing, a survivor can lose
  // its neighbourhood: the round is then exact or aborts, never wrong; most rounds complete.
  int completed = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    Trial trial{18, 3, 0, 0, 6, 0, 4};
    absl::Status s = RunProtocol(trial, 400 + seed);
    if (s.ok()) {
      ++completed;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      EXPECT_TRUE(absl::StrContains(s.message(), "threshold")) << s;
    }
  }
  EXPECT_GE(completed, 1);
}

TEST(SecAggProtocol, TheNeighbourGraphComesFromTheSession) {
  Key32 a{}, b{};
  b[0] = 1;
  const std::vector<int64_t> ids = {3, 5, 8, 13, 21, 34, 55, 89};
  auto g1 = SecAggNeighbours(ids, 4, a), g2 = SecAggNeighbours(ids, 4, a);
  auto g3 = SecAggNeighbours(ids, 4, b);
  EXPECT_EQ(g1, g2);
  EXPECT_NE(g1, g3);
  for (const auto& [id, peers] : g1) {
    EXPECT_EQ(peers.size(), 4u);
    EXPECT_FALSE(peers.count(id));
    for (int64_t p : peers) EXPECT_TRUE(g1[p].count(id)) << "symmetric";
  }
  // 0 or k >= n - 1: everyone.
  for (const auto& [id, peers] : SecAggNeighbours(ids, 0, a)) EXPECT_EQ(peers.size(), 7u);
}

TEST(SecAggProtocol, AClientRefusesACoordinatorThatAsksForMore) {
  SecAggRoundConfig config{5, 2, *ChooseSecAggField(3, 1.0, 1.0 / 256), 4};
  std::vector<std::unique_ptr<SecureRandom>> randoms;
  std::vector<std::unique_ptr<SecAggClient>> clients;
  std::vector<KeyAdvertisement> ads;
  for (int i = 0; i < 3; ++i) {
    randoms.push_back(SecureRandom::FromSeed(5, static_cast<uint64_t>(i)));
    clients.push_back(std::make_unique<SecAggClient>(i, config, randoms.back().get()));
    ads.push_back(clients.back()->Advertise());
  }
  std::vector<SealedShares> all;
  for (auto& c : clients) {
    auto mine = c->ShareKeys(ads);
    ASSERT_OK(mine);
    all.insert(all.end(), mine->begin(), mine->end());
  }
  std::vector<SealedShares> to0;
  for (const SealedShares& s : all) {
    if (s.to == 0) to0.push_back(s);
  }
  // A tampered or redirected share is refused.
  std::vector<SealedShares> tampered = to0;
  tampered[0].ciphertext.back() ^= 1;
  EXPECT_STATUS(clients[0]->MaskInput(tampered, std::vector<uint64_t>(4, 0)),
                absl::StatusCode::kDataLoss, "authentication");
  std::vector<SealedShares> redirected = to0;
  for (const SealedShares& s : all) {
    if (s.to == 1 && s.from == 2) redirected[0] = SealedShares{s.from, 0, s.ciphertext};
  }
  EXPECT_STATUS(clients[0]->MaskInput(redirected, std::vector<uint64_t>(4, 0)),
                absl::StatusCode::kDataLoss, "authentication");
  ASSERT_OK(clients[0]->MaskInput(to0, std::vector<uint64_t>(4, 0)));
  // Both shares of one client, another round, then a second request.
  EXPECT_STATUS(clients[0]->Unmask({5, {1, 2}, {2}}), absl::StatusCode::kPermissionDenied,
                "both survivor and dropped");
  EXPECT_STATUS(clients[0]->Unmask({4, {0, 1}, {2}}), absl::StatusCode::kInvalidArgument,
                "round 4");
  EXPECT_STATUS(clients[0]->Unmask({5, {1}, {0}}), absl::StatusCode::kInvalidArgument,
                "named dropped");
  ASSERT_OK(clients[0]->Unmask({5, {0, 1}, {2}}));
  EXPECT_STATUS(clients[0]->Unmask({5, {0, 1, 2}, {}}), absl::StatusCode::kFailedPrecondition,
                "second unmasking request");
  // A roster without the client's own keys is refused.
  EXPECT_STATUS(clients[1]->ShareKeys(std::vector<KeyAdvertisement>{ads[0], ads[2]}),
                absl::StatusCode::kInvalidArgument, "own keys");
}

}  // namespace
}  // namespace tailor
