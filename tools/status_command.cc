// `tailor status`: a running coordinator's state, from its GetStatus RPC.
#include <cstdio>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/env.h"
#include "core/task.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "tailor/v1/coordinator.grpc.pb.h"
#include "tools/commands.h"
#include "tools/tls_flags.h"

ABSL_DECLARE_FLAG(std::string, coordinator);
ABSL_FLAG(std::string, operator_token_file, "",
          "The operator token, which `tailor status` presents and `tailor coordinator` asks for "
          "(coordinator: empty makes a random one in OUTPUT_DIR/operator.token, mode 0600).");

namespace tailor {

int StatusCommand() {
  auto credentials = ChannelCredentialsFromFlags(absl::GetFlag(FLAGS_coordinator));
  if (!credentials.ok()) {
    std::fprintf(stderr, "tailor status: %s\n", std::string(credentials.status().message()).c_str());
    return 2;
  }
  const std::string token_file = absl::GetFlag(FLAGS_operator_token_file);
  if (token_file.empty()) {
    std::fprintf(stderr,
                 "tailor status: --operator_token_file is required (the coordinator wrote "
                 "OUTPUT_DIR/operator.token unless it was given one)\n");
    return 2;
  }
  auto token = Env::Default()->ReadFile(token_file);
  if (!token.ok()) {
    std::fprintf(stderr, "tailor status: %s\n", token.status().ToString().c_str());
    return 2;
  }
  v1::StatusRequest request;
  request.set_operator_token(std::string(absl::StripAsciiWhitespace(*token)));
  auto stub =
      v1::Coordinator::NewStub(grpc::CreateChannel(absl::GetFlag(FLAGS_coordinator), *credentials));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::StatusResponse status;
  grpc::Status s = stub->GetStatus(&ctx, request, &status);
  if (!s.ok()) {
    std::fprintf(stderr, "tailor status: %s: %s\n", absl::GetFlag(FLAGS_coordinator).c_str(),
                 s.error_message().c_str());
    return 1;
  }
  std::printf(
      "experiment:       %s\nrounds completed: %lld of %lld\ncurrent round:    %lld\n"
      "clients joined:   %lld\nmodel sha256:     %s\n",
      status.experiment().c_str(), static_cast<long long>(status.completed_rounds()),
      static_cast<long long>(status.total_rounds()), static_cast<long long>(status.current_round()),
      static_cast<long long>(status.clients_joined()), status.model_sha256().c_str());
  if (status.has_evaluation()) {
    const v1::EvaluationStatus& e = status.evaluation();
    const absl::StatusOr<TaskKind> task = TaskWithMetric(e.metric());
    const TaskMetric& m = MetricOf(task.ok() ? *task : TaskKind::kImageClassification);
    std::string line = absl::StrCat("round ", e.round(), ", ", e.metric(), " personalized ",
                                    m.Format(e.personalized()));
    if (e.has_global()) absl::StrAppend(&line, ", global ", m.Format(e.global()));
    if (e.has_new_clients()) absl::StrAppend(&line, ", new clients ", m.Format(e.new_clients()));
    std::printf("evaluation:       %s (%lld clients)\n", line.c_str(),
                static_cast<long long>(e.clients()));
  }
  if (status.has_privacy()) {
    const v1::PrivacyStatus& p = status.privacy();
    std::printf("privacy:          epsilon %.6f at delta %g (budget %s), z %.4f, clip norm %.4g\n",
                p.epsilon(), p.delta(),
                p.epsilon_budget() > 0 ? absl::StrCat(p.epsilon_budget()).c_str() : "none",
                p.noise_multiplier(), p.clip_norm());
  }
  return 0;
}

}  // namespace tailor
