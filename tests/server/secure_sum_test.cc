// Secure aggregation between the coordinator's driver (server/secure_sum.h) and real client
// participants (client/secagg_participant.h) over serialized tailor.v1 messages: the unmasked
// mean is bit-identical to the plain weighted mean of exactly the clients whose inputs made it,
// with dropouts at every boundary, for SecAgg and SecAgg+; below the threshold the round aborts.
#include "server/secure_sum.h"

#include <set>

#include "absl/strings/match.h"
#include "aggregation/weighted_mean.h"
#include "client/secagg_participant.h"
#include "core/personalization_policy.h"
#include "core/wire_update.h"
#include "privacy/secagg_input.h"
#include "privacy/secagg_wire.h"
#include "server/coordinator.h"
#include "server/round.h"
#include "privacy/secagg_graph.h"
#include "tailor/v1/coordinator.pb.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

// Carries each request straight to the participant, unless the client is set to drop at that
// request's phase (1 roster, 2 inbox, 3 unmasking).
class DirectTransport : public ClientTransport {
 public:
  void DispatchTrain(const TrainTask&, const std::vector<int64_t>&,
                     std::shared_ptr<UpdateSink>) override {}
  void DispatchEval(const EvalTask&, const std::vector<int64_t>&, std::shared_ptr<EvalSink>) override {}
  void DispatchSecAgg(int64_t, const std::map<int64_t, std::string>& requests,
                      std::shared_ptr<SecAggSink> sink) override {
    ++phase_;
    for (const auto& [id, request] : requests) {
      if (drop_at.count(id) && drop_at[id] == phase_) {
        sink->OnSecAggFailure(id, absl::UnavailableError("gone"));
        continue;
      }
      absl::StatusOr<std::string> reply = participants[id]->Handle(request);
      if (reply.ok()) {
        sink->OnSecAggReply(id, *reply);
      } else {
        sink->OnSecAggFailure(id, reply.status());
      }
    }
  }
  std::map<int64_t, std::unique_ptr<SecAggParticipant>> participants;
  std::map<int64_t, int> drop_at;  // client -> phase (0: never advertises)

 private:
  int phase_ = 0;
};

struct Outcome {
  absl::Status status;
  SecureSumStats stats;
};

// n clients, threshold t, SecAgg+ neighbours k; `drops[c]` is the boundary client c drops at.
Outcome RunRound(int n, int t, int k, const std::map<int64_t, int>& drops, uint64_t seed) {
  const ParameterSet schema = RandomSet({{"w", {7, 5}}, {"b", {5}}}, 1);
  auto global = std::make_shared<const ParameterSet>(schema);
  TrainTask task;
  task.round = 4;
  task.global_shared = global;
  task.secure_aggregation = SecureAggregationTask{t, k, /*clip_norm=*/10.0, /*max_weight=*/1000};
  DirectTransport transport;
  transport.drop_at = drops;
  std::map<int64_t, std::string> ads;
  std::map<int64_t, std::pair<ParameterSet, double>> updates;
  for (int c = 0; c < n; ++c) {
    ParameterSet delta = RandomSet({{"w", {7, 5}}, {"b", {5}}}, seed * 100 + c, 0.3);
    UpdateUpload up;
    up.client_id = c;
    up.round = task.round;
    up.weight = 10 + c;
    up.stats.mean_loss = 0.5 + 0.1 * c;
    up.payload = *EncodeSharedUpdate(delta, PersonalizationPolicy());
    updates[c] = {delta, up.weight};
    auto p = std::make_unique<SecAggParticipant>(c);
    up.within_clip_norm = true;
    up.record_epsilon = 2.5;
    EXPECT_OK(p->Begin(task, SecureRandom::FromSeed(seed, static_cast<uint64_t>(c)), &up));
    // Nothing of the client's own is left beside the advertisement.
    EXPECT_TRUE(up.payload.empty());
    EXPECT_EQ(up.weight, 0);
    EXPECT_EQ(up.stats.mean_loss, 0);
    EXPECT_FALSE(up.within_clip_norm);
    EXPECT_EQ(up.record_epsilon, -1);
    transport.participants[c] = std::move(p);
    if (!(drops.count(c) && drops.at(c) == 0)) ads[c] = up.secagg_advertisement;
  }
  SecureSumOptions o;
  o.config.round = task.round;
  o.config.threshold = t;
  o.config.neighbours = k;
  o.config.field = SecAggWeightedField();
  o.config.length = SecAggInputLength(schema.TotalElements());
  o.transport = &transport;
  o.env = Env::Default();
  o.phase_timeout = absl::Seconds(5);
  Outcome out;
  absl::StatusOr<SecureSum> sum = RunSecureSum(ads, o, &out.stats);
  out.status = sum.status();
  if (!sum.ok()) return out;
  // Whose inputs are in the sum: everyone who did not drop before sending it.
  std::vector<int64_t> expected;
  WeightedMeanAggregator plain;
  EXPECT_OK(plain.Begin(schema));
  double weighted_loss = 0, weight = 0;
  for (int c = 0; c < n; ++c) {
    if (drops.count(c) && drops.at(c) <= 2) continue;
    expected.push_back(c);
    EXPECT_OK(plain.Add(updates[c].first, updates[c].second));
    weighted_loss += updates[c].second * (0.5 + 0.1 * c);
    weight += updates[c].second;
  }
  EXPECT_EQ(sum->survivors, expected);
  absl::StatusOr<SecAggMean> mean = DecodeSecAggSum(schema, sum->words);
  EXPECT_OK(mean);
  absl::StatusOr<ParameterSet> reference = plain.Finalize();
  EXPECT_OK(reference);
  if (mean.ok() && reference.ok()) {
    EXPECT_TRUE(mean->mean_delta == *reference) << "not bit-identical to the plain weighted mean";
    EXPECT_DOUBLE_EQ(mean->weight_sum, weight);
    EXPECT_NEAR(mean->train_loss, weighted_loss / weight, 1e-4);
  }
  return out;
}

TEST(SecureSum, TheMeanIsThePlainWeightedMeanUnderDropoutsAtEveryBoundary) {
  for (int k : {0, 4}) {
    // 12 clients, t = 5: one drops before advertising, two after, two after sharing, two after
    // their masked input; 5 helpers remain.
    const std::map<int64_t, int> drops = {{0, 0}, {3, 1}, {7, 1}, {2, 2}, {9, 2}, {5, 3}, {11, 3}};
    Outcome o = RunRound(12, 5, k, drops, 7);
    if (k == 4) {
      // A SecAgg+ neighbourhood may lose too many helpers: exact or aborted, never wrong.
      if (!o.status.ok()) {
        EXPECT_EQ(o.status.code(), absl::StatusCode::kFailedPrecondition) << o.status;
        continue;
      }
    }
    ASSERT_OK(o.status) << "k " << k;
    EXPECT_EQ(o.stats.advertised, 11);
    EXPECT_EQ(o.stats.shared, 9);
    EXPECT_EQ(o.stats.masked_inputs, 7);
    EXPECT_EQ(o.stats.recovered_dropouts, 2);
    EXPECT_EQ(o.stats.helpers, 5);
    EXPECT_GT(o.stats.bytes_from_clients, 7 * 8 * 40);  // the masked inputs at least
  }
  // SecAgg+ with k = 6, t = 3 and 2 dropouts in all: every neighbourhood keeps t.
  ASSERT_OK(RunRound(14, 3, 6, {{1, 1}, {8, 3}}, 9).status);
  ASSERT_OK(RunRound(14, 3, 6, {{4, 2}, {10, 0}}, 10).status);
}

TEST(SecureSum, BelowTheThresholdTheRoundAbortsWithoutAResult) {
  // t = 6 of 8: three leave after their masked inputs, five helpers remain.
  Outcome o = RunRound(8, 6, 0, {{1, 3}, {2, 3}, {3, 3}}, 11);
  EXPECT_EQ(o.status.code(), absl::StatusCode::kFailedPrecondition) << o.status;
  EXPECT_TRUE(absl::StrContains(o.status.message(), "threshold")) << o.status;
  o = RunRound(8, 6, 0, {{1, 0}, {2, 1}, {3, 2}}, 12);
  EXPECT_EQ(o.status.code(), absl::StatusCode::kFailedPrecondition) << o.status;
}

TEST(SecureSum, AParticipantRefusesRequestsOutOfTurnOrOfAnotherRound) {
  const ParameterSet schema = RandomSet({{"w", {3}}}, 1);
  TrainTask task;
  task.round = 2;
  task.global_shared = std::make_shared<const ParameterSet>(schema);
  task.secure_aggregation = SecureAggregationTask{2, 0, 1.0, 10};
  UpdateUpload up;
  up.weight = 3;
  up.payload = *EncodeSharedUpdate(RandomSet({{"w", {3}}}, 2, 0.1), PersonalizationPolicy());
  SecAggParticipant p(0);
  ASSERT_OK(p.Begin(task, SecureRandom::FromSeed(1, 0), &up));
  v1::SecAggRequest unmask;
  unmask.set_round(2);
  unmask.mutable_unmask()->add_survivors(0);
  EXPECT_STATUS(p.Handle(unmask.SerializeAsString()), absl::StatusCode::kFailedPrecondition,
                "out of turn");
  unmask.set_round(1);
  EXPECT_STATUS(p.Handle(unmask.SerializeAsString()), absl::StatusCode::kInvalidArgument,
                "round 1");
  EXPECT_STATUS(p.Handle("\xff\xff\xff"), absl::StatusCode::kInvalidArgument, "malformed");
  // A weight beyond what the field was sized for is clamped; an unclipped update is refused.
  UpdateUpload big;
  big.weight = 3;
  big.payload = *EncodeSharedUpdate(RandomSet({{"w", {3}}}, 3, 100.0), PersonalizationPolicy());
  EXPECT_STATUS(p.Begin(task, SecureRandom::FromSeed(1, 1), &big), absl::StatusCode::kInvalidArgument,
                "clip");
}

TEST(SecureSum, ARoundUnderSecureAggregationRefusesAnUpdateInTheClear) {
  RoundOptions ro;
  ro.round = 1;
  ro.cohort = {0, 1};
  ro.shared_schema = std::make_shared<const ParameterSet>(RandomSet({{"w", {3}}}, 1));
  ro.aggregator = *CreateAggregator("weighted_mean");
  ro.secure_aggregation = true;
  auto round = *Round::Create(std::move(ro));
  UpdateUpload clear;
  clear.client_id = 0;
  clear.round = 1;
  clear.weight = 1;
  clear.payload = *EncodeSharedUpdate(RandomSet({{"w", {3}}}, 2), PersonalizationPolicy());
  EXPECT_STATUS(round->OnUpdate(clear), absl::StatusCode::kInvalidArgument, "in the clear");
  UpdateUpload ad;
  ad.client_id = 1;
  ad.round = 1;
  ad.secagg_advertisement = "keys";
  ASSERT_OK(round->OnUpdate(ad));
  auto result = round->Close();
  ASSERT_OK(result);
  EXPECT_EQ(result->secagg_advertisements.size(), 1u);
  EXPECT_EQ(result->secagg_advertisements.at(1), "keys");
  EXPECT_EQ(result->rejected, 1);
}

TEST(SecureSum, MalformedMessagesAreRefusedByName) {
  v1::SecAggAdvertisement ad;
  ad.set_client_id(3);
  ad.set_cipher_public(std::string(31, 'k'));
  ad.set_mask_public(std::string(32, 'k'));
  EXPECT_STATUS(FromProto(ad), absl::StatusCode::kInvalidArgument, "cipher public key of 31 bytes");
  EXPECT_STATUS(UnpackWords(std::string(15, 'x'), 2), absl::StatusCode::kInvalidArgument,
                "15 bytes");
  v1::SecAggUnmaskResponse r;
  v1::SecAggShare* share = r.add_seed_shares();
  share->set_client_id(1);
  share->set_ys(std::string(17, '\0'));
  EXPECT_STATUS(FromProto(0, r), absl::StatusCode::kInvalidArgument, "17 bytes");
  share->set_ys(std::string(16, '\xff'));  // 2^128 - 1 is outside GF(2^127 - 1)
  EXPECT_STATUS(FromProto(0, r), absl::StatusCode::kInvalidArgument, "outside the field");
  share->set_ys(std::string(16, '\0'));
  *r.add_seed_shares() = *share;
  EXPECT_STATUS(FromProto(0, r), absl::StatusCode::kInvalidArgument, "two seed shares");
  const std::vector<uint64_t> words = {0, 1, ~uint64_t{0}, 0x0123456789abcdefULL};
  EXPECT_EQ(*UnpackWords(PackWords(words), 4), words);
}

TEST(SecureSum, TheCoordinatorChoosesTheThresholdAndRefusesAFieldThatCouldWrap) {
  DirectTransport transport;
  auto options = [&](SecureAggregationOptions sa) {
    CoordinatorOptions co;
    co.num_clients = 200;
    co.rounds = 1;
    co.transport = &transport;
    co.initial_shared = RandomSet({{"w", {3}}}, 1);
    co.secure_aggregation = sa;
    return co;
  };
  SecureAggregationOptions sa;
  sa.clip_norm = 1;
  sa.max_weight = 1000;
  sa.plus = true;
  auto chosen = Coordinator::Create(options(sa));
  ASSERT_OK(chosen);
  const SecureAggregationOptions& resolved = *(*chosen)->secure_aggregation();
  const SecAggPlusParams expected = *ChooseSecAggPlus(200, 0.1, 0);
  EXPECT_EQ(resolved.threshold, expected.threshold);
  EXPECT_EQ(resolved.neighbours, expected.neighbours);
  // 200 x 20000 x 1000 >= 2^31: the sum could wrap.
  sa.max_weight = 20000;
  sa.clip_norm = 1000;
  EXPECT_STATUS(Coordinator::Create(options(sa)), absl::StatusCode::kInvalidArgument, "wrap");
  sa.max_weight = 1000;
  sa.clip_norm = 1;
  sa.threshold = 1;
  EXPECT_STATUS(Coordinator::Create(options(sa)), absl::StatusCode::kInvalidArgument, "threshold");
  sa.threshold = 0;
  // Under DP the threshold is chosen for the expected Poisson cohort (a quarter of 200), and
  // the field bound is the DP grid's (the weighted mean's max_weight plays no part).
  sa.max_weight = 20000;
  sa.clip_norm = 1000;
  CoordinatorOptions with_dp = options(sa);
  with_dp.privacy = DpFedAvgOptions();
  with_dp.privacy->clip_norm = 1;
  with_dp.privacy->noise_multiplier = 1;
  with_dp.privacy->sampling_rate = 0.25;
  auto private_secure = Coordinator::Create(with_dp);
  ASSERT_OK(private_secure);
  const SecAggPlusParams for_expected = *ChooseSecAggPlus(50, 0.1, 0);
  EXPECT_EQ((*private_secure)->secure_aggregation()->threshold, for_expected.threshold);
  EXPECT_EQ((*private_secure)->secure_aggregation()->neighbours, for_expected.neighbours);
  CoordinatorOptions robust = options(sa);
  robust.aggregator.name = "median";
  EXPECT_STATUS(Coordinator::Create(robust), absl::StatusCode::kInvalidArgument, "weighted_mean");
}

}  // namespace
}  // namespace tailor
