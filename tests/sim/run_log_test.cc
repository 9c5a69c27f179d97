// Reading runs back from their output directories (`tailor report`'s input) and the HTML page.
#include "sim/run_log.h"

#include <cmath>

#include "absl/strings/match.h"
#include "server/metrics_jsonl.h"
#include "sim/cross_evaluation.h"
#include "sim/html_report.h"
#include "sim/summary_table.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

RoundRecord Evaluated(int64_t round, double accuracy) {
  RoundRecord r;
  r.round = round;
  r.cohort_size = r.accepted = 4;
  r.train_loss = 0.5;
  r.elapsed_seconds = 2.0 * static_cast<double>(round);
  EvalSummary e;
  e.clients = 3;
  e.micro = accuracy;
  e.macro = accuracy - 0.01;
  e.spread = 0.1;
  e.worst10 = 0.2;
  e.global_micro = 0.3;
  e.global_macro = 0.25;
  e.per_client = {{0, 0.5}, {1, 0.75}, {2, 1.0}};
  r.eval = e;
  EvalSummary fresh = e;
  fresh.clients = 1;
  fresh.micro = 0.625;
  fresh.per_client = {{3, 0.625}};
  r.new_client_eval = fresh;
  return r;
}

std::string WriteRun(const std::string& tag, const std::string& metrics) {
  const std::string dir = testing::MakeTempDir(tag);
  EXPECT_OK(Env::Default()->WriteFileAtomically(dir + "/metrics.jsonl", metrics));
  EXPECT_OK(Env::Default()->WriteFileAtomically(
      dir + "/config.resolved.textproto",
      "name: \"" + tag + "\" algorithm { name: \"ditto\" } data { num_clients: 4 }"));
  return dir;
}

TEST(RunLog, ReadsBackWhatTheMetricsWriterWrites) {
  const std::string metrics = RoundRecordToJson(Evaluated(1, 0.8), "a") + "\n" +
                              RoundRecordToJson(Evaluated(2, 0.9), "a") + "\n";
  auto run = ReadRunDirectory(WriteRun("a", metrics), Env::Default());
  ASSERT_OK(run);
  EXPECT_EQ(run->name, "a");
  EXPECT_EQ(run->algorithm, "ditto");
  EXPECT_EQ(run->num_clients, 4);
  EXPECT_TRUE(run->stop_reason.empty());
  ASSERT_EQ(run->rounds.size(), 2u);
  const RoundRecord& last = run->rounds.back();
  EXPECT_EQ(last.round, 2);
  ASSERT_TRUE(last.eval.has_value());
  EXPECT_DOUBLE_EQ(last.eval->micro, 0.9);
  EXPECT_DOUBLE_EQ(last.eval->global_micro, 0.3);
  EXPECT_EQ(last.eval->per_client.size(), 3u);
  EXPECT_DOUBLE_EQ(last.eval->per_client.at(1), 0.75);
  ASSERT_TRUE(last.new_client_eval.has_value());
  EXPECT_DOUBLE_EQ(last.new_client_eval->micro, 0.625);
  EXPECT_FALSE(run->has_global_model);
  EXPECT_DOUBLE_EQ(run->seconds, 4.0);
}

TEST(RunLog, TestViewsRoundTripThroughMetrics) {
  RoundRecord r = Evaluated(1, 0.6);
  r.eval->task = TaskKind::kPairwisePreference;
  r.eval->views["controversial"] = {0.5, 0.25, 120, 3};  // exact in binary
  const std::string line = RoundRecordToJson(r, "pref");
  EXPECT_TRUE(absl::StrContains(
      line, "\"views\":{\"controversial\":{\"personalized_pair_accuracy\":0.5,"))
      << line;
  auto run = ReadRunDirectory(WriteRun("views", line + "\n"), Env::Default());
  ASSERT_OK(run);
  const EvalSummary::View& v = run->rounds.back().eval->views.at("controversial");
  EXPECT_DOUBLE_EQ(v.micro, 0.5);
  EXPECT_DOUBLE_EQ(v.global_micro, 0.25);
  EXPECT_EQ(v.test_samples, 120);
  EXPECT_TRUE(absl::StrContains(FormatSummaryTable({*run}),
                                "controversial test samples (120 of "))
      << FormatSummaryTable({*run});
}

TEST(RunLog, ANewClientFewShotCurveIsOneSummaryLineInOrderOfExamples) {
  RoundRecord r = Evaluated(1, 0.6);
  r.new_client_eval = *r.eval;
  r.new_client_eval->micro = 0.75;
  r.new_client_eval->global_micro = 0.5;
  r.new_client_eval->task = r.eval->task = TaskKind::kPairwisePreference;
  r.new_client_eval->views["shots_10"] = {0.625, -1, 40, 2};
  r.new_client_eval->views["shots_2"] = {0.5625, -1, 40, 2};
  r.new_client_eval->views["shots_1"] = {0.5, -1, 40, 2};
  auto run = ReadRunDirectory(WriteRun("shots", RoundRecordToJson(r, "pref") + "\n"),
                              Env::Default());
  ASSERT_OK(run);
  const std::string table = FormatSummaryTable({*run});
  EXPECT_TRUE(absl::StrContains(table, "after fitting on n examples: n=1 50.00%, n=2 56.25%, "
                                       "n=10 62.50% (all: 75.00%; the global model: 50.00%)"))
      << table;
}

TEST(RunLog, TheInitialModelsEvaluationIsNotCountedAsARound) {
  // eval.at_start writes a round-0 record first: a report counts the rounds that ran.
  const std::string metrics = RoundRecordToJson(Evaluated(0, 0.1), "a") + "\n" +
                              RoundRecordToJson(Evaluated(1, 0.8), "a") + "\n";
  auto run = ReadRunDirectory(WriteRun("start", metrics), Env::Default());
  ASSERT_OK(run);
  ASSERT_EQ(run->rounds.size(), 1u);
  EXPECT_EQ(run->rounds[0].round, 1);
  EXPECT_DOUBLE_EQ(run->rounds[0].eval->micro, 0.8);
}

TEST(RunLog, ALanguageModelRunIsReadBackInBitsPerByte) {
  RoundRecord r = Evaluated(1, 2.5);
  r.eval->task = TaskKind::kCausalLanguageModel;
  r.new_client_eval->task = TaskKind::kCausalLanguageModel;
  const std::string line = RoundRecordToJson(r, "lm");
  EXPECT_TRUE(absl::StrContains(line, "\"personalized_bpb\":2.5")) << line;
  EXPECT_FALSE(absl::StrContains(line, "accuracy")) << line;
  auto run = ReadRunDirectory(WriteRun("lm", line + "\n"), Env::Default());
  ASSERT_OK(run);
  const RoundRecord& last = run->rounds.back();
  ASSERT_TRUE(last.eval.has_value());
  EXPECT_EQ(last.eval->task, TaskKind::kCausalLanguageModel);
  EXPECT_DOUBLE_EQ(last.eval->micro, 2.5);
  EXPECT_DOUBLE_EQ(last.eval->per_client.at(2), 1.0);
  const std::string table = FormatSummaryTable({*run});
  EXPECT_TRUE(absl::StrContains(table, "pers.bpb")) << table;
  EXPECT_TRUE(absl::StrContains(table, "2.500")) << table;
}

TEST(CrossEvaluation, RoundTripsThroughJsonAndRefusesMalformedFiles) {
  CrossEvaluation x;
  x.task = TaskKind::kCausalLanguageModel;
  x.clients = {0, 1};
  x.names = {"de/witze", "es/refranes"};
  x.metric = {{2.5, 4.0}, {3.9, std::nan("")}};
  absl::StatusOr<CrossEvaluation> back = CrossEvaluationFromJson(CrossEvaluationToJson(x));
  ASSERT_OK(back);
  EXPECT_EQ(back->task, TaskKind::kCausalLanguageModel);
  EXPECT_EQ(back->names, x.names);
  EXPECT_DOUBLE_EQ(back->metric[1][0], 3.9);
  EXPECT_TRUE(std::isnan(back->metric[1][1]));  // null in JSON
  const std::string svg = CrossEvaluationSvg(*back, "t");
  EXPECT_TRUE(absl::StrContains(svg, "de/witze on es/refranes: 4.000")) << svg;
  EXPECT_STATUS(CrossEvaluationFromJson("{\"metric\": \"bpb\"}"),
                absl::StatusCode::kInvalidArgument, "no \"clients\"");
  EXPECT_STATUS(CrossEvaluationFromJson("{\"metric\": \"bpb\", \"clients\": [0], \"names\": "
                                        "[\"a\"], \"matrix\": [[1, 2]]}"),
                absl::StatusCode::kInvalidArgument, "row 0");
  // A run directory holding one shows it in its report.
  const std::string dir = WriteRun("x", RoundRecordToJson(Evaluated(1, 0.5), "x") + "\n");
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/cross_eval.json", CrossEvaluationToJson(x)));
  auto run = ReadRunDirectory(dir, Env::Default());
  ASSERT_OK(run);
  ASSERT_TRUE(run->cross_evaluation.has_value());
  EXPECT_TRUE(absl::StrContains(RenderHtmlReport({*run}, "r"), "Cross-evaluation"));
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/cross_eval.json", "[1, 2"));
  EXPECT_STATUS(ReadRunDirectory(dir, Env::Default()), absl::StatusCode::kInvalidArgument,
                "cross_eval.json");
}

TEST(RunLog, ATruncatedLastLineIsSkippedAndSaid) {
  const std::string full = RoundRecordToJson(Evaluated(1, 0.8), "a") + "\n";
  const std::string cut = RoundRecordToJson(Evaluated(2, 0.9), "a").substr(0, 40);
  auto run = ReadRunDirectory(WriteRun("cut", full + cut), Env::Default());
  ASSERT_OK(run);
  EXPECT_EQ(run->rounds.size(), 1u);
  EXPECT_TRUE(absl::StrContains(run->stop_reason, "truncated")) << run->stop_reason;
}

TEST(RunLog, AMalformedLineIsAnErrorNamingFileAndLine) {
  const std::string good = RoundRecordToJson(Evaluated(1, 0.8), "a") + "\n";
  EXPECT_STATUS(ReadRunDirectory(WriteRun("bad", good + "{\"round\": }\n" + good), Env::Default()),
                absl::StatusCode::kInvalidArgument, "metrics.jsonl line 2");
  EXPECT_STATUS(ReadRunDirectory(WriteRun("noround", "{\"eval\": {}}\n" + good), Env::Default()),
                absl::StatusCode::kInvalidArgument, "'round'");
  EXPECT_STATUS(ReadRunDirectory(testing::MakeTempDir("empty"), Env::Default()),
                absl::StatusCode::kNotFound, "no metrics.jsonl");
}

TEST(HtmlReport, ShowsEveryRunSelfContained) {
  SimulationResult a, b;
  a.name = "first<run>";
  a.algorithm = "ditto";
  b.name = "second";
  b.algorithm = "fedper";
  for (int64_t r = 1; r <= 3; ++r) {
    a.rounds.push_back(Evaluated(r, 0.5 + 0.1 * static_cast<double>(r)));
    b.rounds.push_back(Evaluated(r, 0.4 + 0.1 * static_cast<double>(r)));
  }
  const std::string html = RenderHtmlReport({a, b}, "t");
  EXPECT_TRUE(absl::StrContains(html, "first&lt;run&gt; (ditto)"));
  EXPECT_FALSE(absl::StrContains(html, "first<run>"));
  EXPECT_TRUE(absl::StrContains(html, "second (fedper)"));
  EXPECT_TRUE(absl::StrContains(html, "New clients"));
  EXPECT_TRUE(absl::StrContains(html, "62.50"));  // the new clients' accuracy in the tables
  EXPECT_FALSE(absl::StrContains(html, "<script"));
  // Nothing is fetched: no src or href anywhere (the SVG namespace URI is a name, not a fetch).
  EXPECT_FALSE(absl::StrContains(html, "src="));
  EXPECT_FALSE(absl::StrContains(html, "href="));
}

}  // namespace
}  // namespace tailor
