// The operator endpoints over real HTTP: /metrics in Prometheus text format with the service's
// counters, /healthz following the health callback, and bad addresses refused.
#include "server/metrics_http.h"

#include <httplib.h>

#include <atomic>
#include <regex>

#include "absl/strings/str_split.h"
#include "server/grpc_service.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(MetricsHttp, ServesPrometheusTextAndHealth) {
  CoordinatorServiceOptions o;
  o.experiment = "exp";
  o.client_tokens = {{0, "t0"}, {1, "t1"}};
  CoordinatorService service(o);
  std::atomic<bool> healthy{true};
  auto http = MetricsHttpServer::Start(
      "127.0.0.1:0", [&] { return service.PrometheusText(); }, [&] { return healthy.load(); });
  ASSERT_OK(http);
  httplib::Client client("127.0.0.1", (*http)->port());

  service.CountRejectedUpload(grpc::StatusCode::DATA_LOSS);
  service.CountRejectedUpload(grpc::StatusCode::DATA_LOSS);
  service.CountRejectedUpload(grpc::StatusCode::INVALID_ARGUMENT);
  service.CountModelBytesSent(1234);
  service.SetProgress(3, 10);
  service.RecordRoundSeconds(1.5);
  service.RecordRoundSeconds(2.5);
  v1::EvaluationStatus evaluation;
  evaluation.set_round(3);
  evaluation.set_metric("bpb");
  evaluation.set_personalized(2.5);
  evaluation.set_global(3.25);
  service.SetEvaluation(evaluation);

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  const std::string& body = metrics->body;
  for (const char* want : {
           "tailor_experiment_info{experiment=\"exp\"} 1\n",
           "tailor_rounds_completed 3\n",
           "tailor_rounds_configured 10\n",
           "tailor_clients_registered 2\n",
           "tailor_model_bytes_sent_total 1234\n",
           "tailor_uploads_rejected_total{reason=\"DATA_LOSS\"} 2\n",
           "tailor_uploads_rejected_total{reason=\"INVALID_ARGUMENT\"} 1\n",
           "tailor_round_duration_seconds_sum 4\n",
           "tailor_round_duration_seconds_count 2\n",
           "# TYPE tailor_uploads_rejected_total counter\n",
           "tailor_evaluation{metric=\"bpb\",model=\"personalized\"} 2.5\n",
           "tailor_evaluation{metric=\"bpb\",model=\"global\"} 3.25\n",
           "tailor_evaluation_round 3\n",
       }) {
    EXPECT_NE(body.find(want), std::string::npos) << want << "\n" << body;
  }
  // Every sample line is `name{labels} value` as the exposition format requires.
  const std::regex sample(R"([a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+)");
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(std::string(line), sample)) << line;
  }

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  healthy = false;
  health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(MetricsHttp, BadAddressesAreRefused) {
  auto text = [] { return std::string(); };
  auto ok = [] { return true; };
  EXPECT_STATUS(MetricsHttpServer::Start("no-port", text, ok), absl::StatusCode::kInvalidArgument,
                "HOST:PORT");
  EXPECT_STATUS(MetricsHttpServer::Start("127.0.0.1:99999", text, ok),
                absl::StatusCode::kInvalidArgument, "HOST:PORT");
  auto first = MetricsHttpServer::Start("127.0.0.1:0", text, ok);
  ASSERT_OK(first);
  EXPECT_STATUS(MetricsHttpServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()), text, ok),
                absl::StatusCode::kUnavailable, "cannot listen");
}

}  // namespace
}  // namespace tailor
