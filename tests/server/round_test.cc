#include "server/round.h"

#include <cmath>

#include "core/wire_update.h"
#include "server/cohort_selector.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

class RoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_shared<const ParameterSet>(RandomSet({{"w", {2, 2}}, {"b", {2}}}, 1));
  }
  std::unique_ptr<Round> MakeRound(std::vector<int64_t> cohort, int64_t min_updates) {
    RoundOptions o;
    o.round = 3;
    o.cohort = std::move(cohort);
    o.shared_schema = schema_;
    o.aggregator = *CreateAggregator("weighted_mean");
    o.min_updates = min_updates;
    return *Round::Create(std::move(o));
  }
  UpdateUpload Upload(int64_t client, const ParameterSet& delta, int64_t round = 3,
                      double weight = 10) {
    UpdateUpload u;
    u.client_id = client;
    u.round = round;
    u.weight = weight;
    u.payload = *EncodeSharedUpdate(delta, PersonalizationPolicy());
    return u;
  }
  std::shared_ptr<const ParameterSet> schema_;
};

TEST_F(RoundTest, AcceptsCohortUpdatesAndAverages) {
  auto round = MakeRound({1, 2}, 2);
  ParameterSet d1 = RandomSet({{"w", {2, 2}}, {"b", {2}}}, 2, 0.1);
  ParameterSet d2 = RandomSet({{"w", {2, 2}}, {"b", {2}}}, 3, 0.1);
  EXPECT_OK(round->OnUpdate(Upload(1, d1, 3, 1)));
  EXPECT_OK(round->OnUpdate(Upload(2, d2, 3, 3)));
  round->AwaitAllReported();
  auto r = round->Close();
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 2);
  EXPECT_NEAR(r->mean_delta.Find("b")->f32()[0],
              (d1.Find("b")->f32()[0] + 3 * d2.Find("b")->f32()[0]) / 4, 1e-7);
}

TEST_F(RoundTest, RejectsBadUploadsWithPreciseCodesAndKeepsState) {
  auto round = MakeRound({1, 2, 4, 5, 6}, 1);
  ParameterSet good = RandomSet({{"w", {2, 2}}, {"b", {2}}}, 2, 0.1);
  ASSERT_OK(round->OnUpdate(Upload(1, good)));

  // A repeat of an accepted upload is an idempotent retry: OK, counted once.
  EXPECT_OK(round->OnUpdate(Upload(1, good)));
  EXPECT_STATUS(round->OnUpdate(Upload(9, good)), absl::StatusCode::kPermissionDenied,
                "not in the cohort");
  EXPECT_STATUS(round->OnUpdate(Upload(2, good, /*round=*/2)), absl::StatusCode::kAborted,
                "open round is 3");
  ParameterSet nan = good;
  nan.FindMutable("w")->f32()[0] = NAN;
  EXPECT_STATUS(round->OnUpdate(Upload(2, nan)), absl::StatusCode::kInvalidArgument,
                "non-finite");
  // The refusal is final: client 2 is a failed client of this round.
  EXPECT_STATUS(round->OnUpdate(Upload(2, good)), absl::StatusCode::kAborted, "already refused");
  EXPECT_STATUS(round->OnUpdate(Upload(4, RandomSet({{"w", {2, 3}}, {"b", {2}}}, 1))),
                absl::StatusCode::kInvalidArgument, "expected float32[2,2]");
  UpdateUpload corrupt = Upload(5, good);
  corrupt.payload[corrupt.payload.size() - 40] ^= 1;
  EXPECT_STATUS(round->OnUpdate(corrupt), absl::StatusCode::kDataLoss, "checksum");
  EXPECT_STATUS(round->OnUpdate(Upload(6, good, 3, NAN)), absl::StatusCode::kInvalidArgument,
                "weight");

  round->AwaitAllReported();  // 1 accepted, 2, 4, 5, 6 refused: everyone accounted for
  auto r = round->Close();
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(r->rejected, 4);
  EXPECT_EQ(r->accepted + r->rejected + r->failed, r->cohort_size);
  // Only the good update made it into the mean.
  EXPECT_NEAR(r->mean_delta.Find("w")->f32()[1], good.Find("w")->f32()[1], 1e-9);
  EXPECT_STATUS(round->OnUpdate(Upload(4, good)), absl::StatusCode::kAborted, "closed");
}

TEST_F(RoundTest, DropoutsCountAndMinimumIsEnforced) {
  auto round = MakeRound({1, 2, 3}, 2);
  ParameterSet good = RandomSet({{"w", {2, 2}}, {"b", {2}}}, 2, 0.1);
  ASSERT_OK(round->OnUpdate(Upload(1, good)));
  round->OnTrainFailure(2, 3, absl::UnavailableError("client vanished"));
  round->OnTrainFailure(3, 3, absl::UnavailableError("client vanished"));
  round->AwaitAllReported();
  EXPECT_STATUS(round->Close(), absl::StatusCode::kFailedPrecondition, "needs 2");
}

TEST_F(RoundTest, DeadlineTurnsSilentClientsIntoDropouts) {
  auto round = MakeRound({1, 2, 3}, 1);
  ParameterSet good = RandomSet({{"w", {2, 2}}, {"b", {2}}}, 2, 0.1);
  ASSERT_OK(round->OnUpdate(Upload(2, good)));
  EXPECT_FALSE(round->AwaitAllReportedUntil(absl::Now() + absl::Milliseconds(20)));
  auto r = round->Close();
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(r->failed, 2);
  // A straggler arriving after the close is refused and changes nothing.
  EXPECT_STATUS(round->OnUpdate(Upload(1, good)), absl::StatusCode::kAborted, "closed");
}

TEST_F(RoundTest, DeadlineWithEveryoneInIsNotAFailure) {
  auto round = MakeRound({1}, 1);
  ASSERT_OK(round->OnUpdate(Upload(1, RandomSet({{"w", {2, 2}}, {"b", {2}}}, 2, 0.1))));
  EXPECT_TRUE(round->AwaitAllReportedUntil(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ(round->Close()->failed, 0);
}

TEST(RoundCreate, RefusesEmptyCohortAndBadMinimum) {
  RoundOptions o;
  o.shared_schema = std::make_shared<const ParameterSet>();
  o.aggregator = *CreateAggregator("weighted_mean");
  EXPECT_STATUS(Round::Create(std::move(o)), absl::StatusCode::kInvalidArgument, "empty cohort");
}

TEST(CohortSelector, FixedSizeSortedDeterministicAndVaried) {
  auto a = SelectFixedCohort(100, 10, 7, 1);
  EXPECT_EQ(a.size(), 10u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(a, SelectFixedCohort(100, 10, 7, 1));
  EXPECT_NE(a, SelectFixedCohort(100, 10, 7, 2));
  EXPECT_EQ(SelectFixedCohort(5, 0, 7, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  // Every client is eventually picked.
  std::vector<int> seen(100, 0);
  for (int r = 0; r < 200; ++r) {
    for (int64_t c : SelectFixedCohort(100, 10, 7, r)) ++seen[c];
  }
  for (int n : seen) EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace tailor
