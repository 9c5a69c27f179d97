// Krum and Multi-Krum against a direct computation of Blanchard et al.'s scores, order
// independence, robustness to outliers, and the n > 2f+2 precondition.
#include "aggregation/krum.h"

#include <algorithm>
#include <numeric>

#include "core/parameter_math.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kSpec = {{"w", {3, 4}}, {"b", {4}}};

std::vector<double> Flatten(const ParameterSet& s) {
  std::vector<double> out;
  for (const auto& e : s.entries())
    out.insert(out.end(), e.tensor.f32().begin(), e.tensor.f32().end());
  return out;
}

// Scores written from the paper's definition, independently of the implementation.
std::vector<double> ReferenceScores(const std::vector<ParameterSet>& updates, int f) {
  const int n = static_cast<int>(updates.size());
  std::vector<double> scores;
  for (int i = 0; i < n; ++i) {
    std::vector<double> d;
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      const auto a = Flatten(updates[i]), b = Flatten(updates[j]);
      double s = 0;
      for (size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
      d.push_back(s);
    }
    std::sort(d.begin(), d.end());
    scores.push_back(std::accumulate(d.begin(), d.begin() + (n - f - 2), 0.0));
  }
  return scores;
}

absl::StatusOr<ParameterSet> Aggregate(const std::string& rule, const std::vector<ParameterSet>& u,
                                       const std::vector<double>& w, int f, int m = 0) {
  AggregatorOptions o;
  o.name = rule;
  o.byzantine_clients = f;
  o.multi_krum_selected = m;
  auto agg = *CreateAggregator(o);
  EXPECT_OK(agg->Begin(u[0]));
  for (size_t i = 0; i < u.size(); ++i) EXPECT_OK(agg->Add(u[i], w[i]));
  return agg->Finalize();
}

std::vector<ParameterSet> Updates(int n, uint64_t seed) {
  std::vector<ParameterSet> u;
  for (int i = 0; i < n; ++i) u.push_back(RandomSet(kSpec, seed + i, 0.1));
  return u;
}

TEST(Krum, SelectsTheUpdateWithTheLowestReferenceScore) {
  for (int n : {4, 7, 10}) {
    const int f = (n - 3) / 2;
    const auto u = Updates(n, 50 * n);
    const auto scores = ReferenceScores(u, f);
    const size_t best = std::min_element(scores.begin(), scores.end()) - scores.begin();
    auto out = Aggregate("krum", u, std::vector<double>(n, 1.0), f);
    ASSERT_OK(out);
    EXPECT_TRUE(*out == u[best]) << "n=" << n << " f=" << f;
  }
}

TEST(Krum, MultiKrumIsTheWeightedMeanOfTheMBestScored) {
  const int n = 9, f = 2, m = 4;
  const auto u = Updates(n, 900);
  std::vector<double> w;
  for (int i = 0; i < n; ++i) w.push_back(1 + i % 3);
  const auto scores = ReferenceScores(u, f);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  auto out = Aggregate("multi_krum", u, w, f, m);
  ASSERT_OK(out);
  const auto got = Flatten(*out);
  std::vector<double> want(got.size(), 0.0);
  double total = 0;
  for (int k = 0; k < m; ++k) {
    const auto x = Flatten(u[order[k]]);
    for (size_t j = 0; j < x.size(); ++j) want[j] += w[order[k]] * x[j];
    total += w[order[k]];
  }
  for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], want[j] / total, 1e-7) << j;
}

TEST(Krum, ArrivalOrderDoesNotChangeTheResultEvenWithTiedScores) {
  // Two identical pairs make tied scores; the tie is broken by content, not arrival.
  auto u = Updates(8, 7000);
  u[5] = u[1];
  u[6] = u[2];
  std::vector<double> w = {1, 2, 3, 4, 5, 6, 7, 8};
  for (const std::string rule : {"krum", "multi_krum"}) {
    const ParameterSet first = *Aggregate(rule, u, w, 1);
    std::vector<size_t> perm(u.size());
    std::iota(perm.begin(), perm.end(), 0);
    for (int trial = 0; trial < 5; ++trial) {
      std::reverse(perm.begin(), perm.end());
      std::rotate(perm.begin(), perm.begin() + trial + 1, perm.end());
      std::vector<ParameterSet> pu;
      std::vector<double> pw;
      for (size_t i : perm) {
        pu.push_back(u[i]);
        pw.push_back(w[i]);
      }
      EXPECT_TRUE(*Aggregate(rule, pu, pw, 1) == first) << rule << " trial " << trial;
    }
  }
}

TEST(Krum, OutliersAreNeverSelected) {
  auto u = Updates(10, 123);
  for (int bad : {0, 3}) {  // two sign-flipped, x100 updates
    for (size_t t = 0; t < u[bad].size(); ++t) {
      for (float& v : u[bad].entry(t).tensor.f32()) v *= -100;
    }
  }
  KrumAggregator agg(2, 0);
  ASSERT_OK(agg.Begin(u[0]));
  for (const auto& x : u) ASSERT_OK(agg.Add(x, 1));
  auto out = agg.Finalize();
  ASSERT_OK(out);
  EXPECT_EQ(agg.last_selection().size(), 8u);
  for (size_t i : agg.last_selection()) EXPECT_TRUE(i != 0 && i != 3) << i;
  EXPECT_LT(L2Norm(*out), 1.0);
}

TEST(Krum, SingleClientEmptyCohortAndTooFewUpdatesAreClearErrors) {
  const auto one = Updates(1, 1);
  // f = 0 and n = 1 <= 2: Krum's scores are undefined.
  EXPECT_STATUS(Aggregate("krum", one, {1.0}, 0).status(), absl::StatusCode::kFailedPrecondition,
                "needs more than 2f+2=2 updates, got 1");
  const auto three = Updates(3, 1);
  auto out = Aggregate("krum", three, {1, 1, 1}, 0);
  ASSERT_OK(out);  // n = 3 > 2: the smallest cohort Krum accepts
  EXPECT_STATUS(Aggregate("krum", Updates(6, 1), std::vector<double>(6, 1.0), 2).status(),
                absl::StatusCode::kFailedPrecondition, "f=2");
  EXPECT_STATUS(Aggregate("multi_krum", Updates(6, 1), std::vector<double>(6, 1.0), 1, 6).status(),
                absl::StatusCode::kFailedPrecondition, "multi_krum selects");
  auto agg = *CreateAggregator("multi_krum");
  ASSERT_OK(agg->Begin(one[0]));
  EXPECT_STATUS(agg->Finalize(), absl::StatusCode::kFailedPrecondition, "no updates");
  EXPECT_STATUS(agg->Add(one[0], 0), absl::StatusCode::kInvalidArgument, "weight");
  ParameterSet nan = one[0];
  nan.entry(0).tensor.f32()[0] = NAN;
  EXPECT_STATUS(agg->Add(nan, 1), absl::StatusCode::kInvalidArgument, "");
  EXPECT_EQ(agg->num_updates(), 0);
  AggregatorOptions bad;
  bad.name = "krum";
  bad.multi_krum_selected = 3;
  EXPECT_STATUS(CreateAggregator(bad).status(), absl::StatusCode::kInvalidArgument,
                "multi_krum_selected");
}

}  // namespace
}  // namespace tailor
