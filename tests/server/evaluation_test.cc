// Evaluation summaries: micro and macro accuracy, spread, the worst 10%, and the global model's
// accuracy beside the personalized one.
#include "server/evaluation.h"

#include <cmath>
#include <functional>

#include "tests/test_util.h"

namespace tailor {
namespace {

EvalReport Report(int64_t id, int64_t correct, int64_t count,
                  std::optional<std::pair<int64_t, int64_t>> global = std::nullopt) {
  EvalReport r;
  r.client_id = id;
  r.personalized = {correct, count, 0.5 * count};
  if (global) r.global = EvalStats{global->first, global->second, 0};
  return r;
}

TEST(EvalCollector, SummarizesPersonalizedAndGlobalAccuracy) {
  EvalCollector c({0, 1, 2});
  ASSERT_OK(c.OnEvalReport(Report(0, 9, 10, {{5, 10}})));
  ASSERT_OK(c.OnEvalReport(Report(1, 30, 40, {{20, 40}})));
  ASSERT_OK(c.OnEvalReport(Report(2, 0, 10, {{10, 10}})));
  const EvalSummary s = c.WaitUntil(absl::InfiniteFuture());
  EXPECT_EQ(s.clients, 3);
  EXPECT_DOUBLE_EQ(s.micro, 39.0 / 60);
  EXPECT_DOUBLE_EQ(s.macro, (0.9 + 0.75 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(s.worst10, 0.0);
  EXPECT_DOUBLE_EQ(s.global_micro, 35.0 / 60);
  EXPECT_DOUBLE_EQ(s.global_macro, (0.5 + 0.5 + 1.0) / 3);
}

TEST(TaskMetric, AModelUniformOverTheVocabularyScoresLog2OfItsSizeInBitsPerByte) {
  const TaskMetric& bpb = MetricOf(TaskKind::kCausalLanguageModel);
  // 1000 scored tokens (bytes and terminators), each at probability 1/258.
  EXPECT_NEAR(bpb.Of(0, 1000, 1000 * std::log(258.0)), std::log2(258.0), 1e-12);
  EXPECT_FALSE(bpb.higher_is_better);
  EXPECT_EQ(bpb.Format(2.31449), "2.314");
  EXPECT_TRUE(std::isnan(bpb.Of(0, 0, 0)));
  EXPECT_EQ(MetricOf(TaskKind::kImageClassification).Format(0.8325), "83.25%");
  EXPECT_EQ(*TaskWithMetric("bpb"), TaskKind::kCausalLanguageModel);
  const TaskMetric& pairs = MetricOf(TaskKind::kPairwisePreference);
  EXPECT_DOUBLE_EQ(pairs.Of(180, 200, 50.0), 0.9);
  EXPECT_TRUE(pairs.Better(0.9, 0.8));
  EXPECT_EQ(*TaskWithMetric("pair_accuracy"), TaskKind::kPairwisePreference);
  EXPECT_STATUS(TaskWithMetric("bleu"), absl::StatusCode::kInvalidArgument, "bleu");
}

TEST(EvalCollector, LanguageModelsAreSummarizedInBitsPerByteWorstBeingHighest) {
  EvalCollector c({0, 1, 2}, TaskKind::kCausalLanguageModel);
  auto report = [](int64_t id, int64_t tokens, double bits_per_token) {
    EvalReport r;
    r.client_id = id;
    r.personalized = {tokens / 2, tokens, bits_per_token * std::log(2.0) * tokens};
    return r;
  };
  ASSERT_OK(c.OnEvalReport(report(0, 100, 2.0)));
  ASSERT_OK(c.OnEvalReport(report(1, 300, 3.0)));
  ASSERT_OK(c.OnEvalReport(report(2, 100, 4.0)));
  const EvalSummary s = c.WaitUntil(absl::InfiniteFuture());
  EXPECT_EQ(s.metric().name, std::string("bpb"));
  EXPECT_NEAR(s.micro, (200 + 900 + 400) / 500.0, 1e-12);  // byte-weighted
  EXPECT_NEAR(s.macro, 3.0, 1e-12);                         // each client once
  EXPECT_NEAR(s.worst10, 4.0, 1e-12);
  EXPECT_NEAR(s.per_client.at(1), 3.0, 1e-12);
}

TEST(EvalCollector, NoGlobalAccuracyUnlessEveryClientEvaluatedIt) {
  EvalCollector c({0, 1});
  ASSERT_OK(c.OnEvalReport(Report(0, 9, 10, {{5, 10}})));
  ASSERT_OK(c.OnEvalReport(Report(1, 3, 10)));  // a client without a global model to evaluate
  const EvalSummary s = c.WaitUntil(absl::InfiniteFuture());
  EXPECT_EQ(s.global_micro, -1);
  EvalCollector none({0});
  ASSERT_OK(none.OnEvalReport(Report(0, 1, 2)));
  EXPECT_EQ(none.WaitUntil(absl::InfiniteFuture()).global_micro, -1);
}

TEST(EvalCollector, MissingClientsCountAsFailedAtTheDeadline) {
  EvalCollector c({0, 1, 2});
  ASSERT_OK(c.OnEvalReport(Report(0, 1, 2)));
  c.OnEvalFailure(1, absl::UnavailableError("gone"));
  const EvalSummary s = c.WaitUntil(absl::Now());
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.clients, 1);
}

TEST(EvalCollector, RefusesUnaskedDuplicateAndImpossibleReports) {
  EvalCollector c({0, 1, 2, 3, 4});
  EXPECT_STATUS(c.OnEvalReport(Report(9, 1, 2)), absl::StatusCode::kPermissionDenied, "not asked");
  ASSERT_OK(c.OnEvalReport(Report(0, 1, 2)));
  EXPECT_OK(c.OnEvalReport(Report(0, 1, 2))) << "an exact retry is accepted once";
  EXPECT_STATUS(c.OnEvalReport(Report(0, 2, 2)), absl::StatusCode::kAlreadyExists,
                "first one counts");
  // 10^12 samples would outweigh every other client in the micro average.
  EXPECT_STATUS(c.OnEvalReport(Report(1, 1, int64_t{1000000000000})),
                absl::StatusCode::kInvalidArgument, "test samples");
  EXPECT_STATUS(c.OnEvalReport(Report(1, 1, 2)), absl::StatusCode::kAborted, "counted as failed");
  EvalReport nan_loss = Report(2, 1, 2);
  nan_loss.personalized.loss_sum = NAN;
  EXPECT_STATUS(c.OnEvalReport(nan_loss), absl::StatusCode::kInvalidArgument, "loss sum");
  EXPECT_STATUS(c.OnEvalReport(Report(3, 1, 2, {{1, 3}})), absl::StatusCode::kInvalidArgument,
                "same test set");
  EXPECT_STATUS(c.OnEvalReport(Report(4, 3, 2)), absl::StatusCode::kInvalidArgument, "correct");
  const EvalSummary s = c.WaitUntil(absl::InfiniteFuture());
  EXPECT_EQ(s.clients, 1);
  EXPECT_EQ(s.failed, 4);
  EXPECT_DOUBLE_EQ(s.micro, 0.5);
  EXPECT_TRUE(std::isfinite(s.mean_loss));
  EXPECT_STATUS(c.OnEvalReport(Report(4, 1, 2)), absl::StatusCode::kAborted, "over");
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Test views: named subsets of each client's test set, summarized beside the whole (the
// controversial preference pairs), for the personalized and the global model.
TEST(EvalCollector, SummarizesEachTestViewAndRefusesImpossibleViews) {
  EvalCollector c({0, 1}, TaskKind::kPairwisePreference);
  EvalReport a = Report(0, 9, 10, {{5, 10}});
  a.personalized_views["controversial"] = {3, 4, 1.0};
  a.global_views["controversial"] = {1, 4, 2.0};
  EvalReport b = Report(1, 30, 40, {{20, 40}});
  b.personalized_views["controversial"] = {5, 6, 1.0};
  b.global_views["controversial"] = {2, 6, 2.0};
  ASSERT_OK(c.OnEvalReport(a));
  ASSERT_OK(c.OnEvalReport(a));  // an exact retry
  EvalReport changed = a;
  changed.personalized_views["controversial"].correct = 4;
  EXPECT_STATUS(c.OnEvalReport(changed), absl::StatusCode::kAlreadyExists, "first one counts");
  ASSERT_OK(c.OnEvalReport(b));
  const EvalSummary s = c.WaitUntil(absl::InfiniteFuture());
  ASSERT_EQ(s.views.count("controversial"), 1u);
  const EvalSummary::View& v = s.views.at("controversial");
  EXPECT_DOUBLE_EQ(v.micro, 8.0 / 10);
  EXPECT_DOUBLE_EQ(v.global_micro, 3.0 / 10);
  EXPECT_EQ(v.test_samples, 10);
  EXPECT_EQ(v.clients, 2);

  struct Case {
    std::function<void(EvalReport*)> damage;
    std::string expect;
  } cases[] = {
      {[](EvalReport* r) { r->personalized_views["x"] = {1, 11, 0}; }, "more than the test set"},
      {[](EvalReport* r) { r->personalized_views["Bad Name"] = {1, 2, 0}; }, "[a-z0-9_]"},
      {[](EvalReport* r) { r->personalized_views["x"] = {3, 2, 0}; }, "view 'x' correct"},
      {[](EvalReport* r) {
         r->personalized_views["x"] = {1, 2, 0};
         r->global_views["y"] = {1, 2, 0};
       },
       "not the personalized model's"},
      {[](EvalReport* r) {
         for (int i = 0; i < 17; ++i) r->personalized_views[absl::StrCat("v", i)] = {0, 1, 0};
       },
       "more than 16"},
  };
  for (const Case& k : cases) {
    EvalReport r = Report(0, 9, 10, {{5, 10}});
    k.damage(&r);
    EXPECT_STATUS(CheckEvalReport(r), absl::StatusCode::kInvalidArgument, k.expect);
  }
}

}  // namespace
}  // namespace tailor
