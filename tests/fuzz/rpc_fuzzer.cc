// Every RPC handler of the coordinator's service, driven through gRPC
// over loopback TCP by a script the input spells: Joins with any id and token, polls, fetches at any offset,
// upload streams of any chunks and headers, evaluation reports, heartbeats, status calls, with
// real or forged sessions. Each call ends with a status (never a crash or a hang), and what the
// service holds stays bounded: one slot per registered client, at most one session each.
#include <fuzzer/FuzzedDataProvider.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation/aggregator.h"
#include "core/personalization_policy.h"
#include "core/wire_update.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "server/evaluation.h"
#include "server/grpc_service.h"
#include "server/round.h"
#include "tests/fuzz/fuzz_util.h"

namespace tailor {
namespace {

struct Harness {
  Harness() {
    schema = std::make_shared<const ParameterSet>(fuzz::FuzzSchema());
    CoordinatorServiceOptions o;
    o.experiment = "exp";
    o.client_tokens = {{0, "token-0"}, {1, "token-1"}, {2, "token-2"}};
    o.revoked_clients = {2};
    o.long_poll = absl::Milliseconds(1);
    o.chunk_bytes = 16;
    o.max_upload_bytes = 4096;
    o.rate_limit_per_second = 0;  // the fuzzer is one very busy client
    o.failed_joins_per_second = 0;
    o.operator_token = "operator-token-0123";
    o.log_lines_per_minute = 0;  // keep the fuzzer's output readable
    service = std::make_unique<CoordinatorService>(o);
    // Real TCP on loopback, as deployed. (gRPC 1.51's in-process transport keeps ~25 KB for
    // every client-streaming call the server finishes before reading all of it, as the service
    // does when it refuses an upload on its first chunk; TCP does not, grpc/grpc#13250.)
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    stub = v1::Coordinator::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                        grpc::InsecureChannelCredentials()));
    good_update = *EncodeSharedUpdate(*schema, PersonalizationPolicy());
  }
  std::shared_ptr<const ParameterSet> schema;
  std::unique_ptr<CoordinatorService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::Coordinator::Stub> stub;
  std::string good_update;
  std::vector<std::string> sessions = {"", "", ""};
  int64_t round = 0;
};

// `ms`: a poll that would park is given up after a moment (a real client waits; the harness
// only needs to see that it parks and is cancelled cleanly).
std::unique_ptr<grpc::ClientContext> Context(int ms = 1000) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return ctx;
}

// Arbitrary text for a string field. (Bytes that are not UTF-8 never reach a handler: gRPC's
// protobuf parsing refuses the request first, which is gRPC's behaviour, not the service's.)
std::string Text(FuzzedDataProvider& in, size_t max) {
  std::string s = in.ConsumeRandomLengthString(max);
  for (char& c : s) c &= 0x7f;
  return s;
}

std::string Session(FuzzedDataProvider& in, const Harness& h) {
  const int pick = in.ConsumeIntegralInRange(0, 4);
  return pick < 3 ? h.sessions[pick] : Text(in, 40);
}

}  // namespace
}  // namespace tailor

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  static Harness* h = new Harness();
  FuzzedDataProvider in(data, size);
  // A fresh round and evaluation each run, so uploads and reports have something open.
  ++h->round;
  RoundOptions ro;
  ro.round = h->round;
  ro.cohort = {0, 1};
  ro.shared_schema = h->schema;
  ro.aggregator = *CreateAggregator("weighted_mean");
  ro.min_updates = 1;
  auto round = std::shared_ptr<Round>(*Round::Create(std::move(ro)));
  TrainTask train;
  train.round = h->round;
  train.global_shared = h->schema;
  h->service->DispatchTrain(train, {0, 1}, round);
  auto collector = std::make_shared<EvalCollector>(std::vector<int64_t>{0, 1});
  EvalTask eval;
  eval.round = h->round;
  eval.evaluation_id = 2 * h->round;
  eval.global_shared = h->schema;
  h->service->DispatchEval(eval, {0, 1}, collector);

  // At most 8 calls per input: sessions and the service's state carry over from one input to
  // the next, so short scripts still reach deep states, and each execution costs half as much
  // (a call is ~90 us of CPU through gRPC under ASan; 10^7 executions are the goal).
  for (int calls = 0; calls < 8 && in.remaining_bytes() > 0; ++calls) {
    grpc::Status status;
    const int kind = in.ConsumeIntegralInRange(0, 6);
    switch (kind) {
      case 0: {
        v1::JoinRequest req;
        req.set_client_id(in.ConsumeIntegralInRange<int64_t>(-2, 4));
        req.set_token(in.ConsumeBool() ? absl::StrCat("token-", req.client_id()) : Text(in, 20));
        req.set_experiment(in.ConsumeBool() ? "exp" : Text(in, 8));
        v1::JoinResponse resp;
        auto ctx = Context();
        status = h->stub->Join(ctx.get(), req, &resp);
        if (status.ok()) {
          FUZZ_CHECK(req.client_id() >= 0 && req.client_id() <= 1);
          h->sessions[req.client_id()] = resp.session();
        }
        break;
      }
      case 1: {
        v1::WaitForTaskRequest req;
        req.set_session(Session(in, *h));
        if (in.ConsumeBool()) {
          req.mutable_failed()->set_kind(in.ConsumeBool() ? v1::Task::TRAIN : v1::Task::EVALUATE);
          req.mutable_failed()->set_round(in.ConsumeIntegral<int64_t>());
          req.mutable_failed()->set_reason(Text(in, 30));
        }
        v1::Task task;
        auto ctx = Context(/*ms=*/1);
        status = h->stub->WaitForTask(ctx.get(), req, &task);
        break;
      }
      case 2: {
        v1::FetchModelRequest req;
        req.set_session(Session(in, *h));
        req.set_model_sha256(in.ConsumeBool() ? ContentAddressOf(SerializeParameterSet(*h->schema))
                                              : Text(in, 64));
        req.set_offset(in.ConsumeIntegral<int64_t>());
        auto ctx = Context();
        auto reader = h->stub->FetchModel(ctx.get(), req);
        v1::ModelChunk chunk;
        while (reader->Read(&chunk)) {
        }
        status = reader->Finish();
        break;
      }
      case 3: {
        v1::UploadResponse resp;
        auto ctx = Context();
        auto writer = h->stub->UploadUpdate(ctx.get(), &resp);
        const int chunks = in.ConsumeIntegralInRange(0, 4);
        std::string payload = h->good_update;
        if (in.ConsumeBool() && !payload.empty()) {
          payload[in.ConsumeIntegralInRange<size_t>(0, payload.size() - 1)] ^=
              in.ConsumeIntegral<uint8_t>();
        }
        size_t at = 0;
        for (int i = 0; i < chunks; ++i) {
          v1::UpdateChunk c;
          if (i == 0 || in.ConsumeBool()) {
            c.set_session(Session(in, *h));
            c.set_round(in.ConsumeBool() ? h->round : in.ConsumeIntegral<int64_t>());
            c.set_weight(in.ConsumeFloatingPoint<double>());
            c.set_train_loss(in.ConsumeFloatingPoint<double>());
            c.set_total_bytes(in.ConsumeBool() ? static_cast<int64_t>(payload.size())
                                               : in.ConsumeIntegral<int64_t>());
          }
          const size_t n = in.ConsumeIntegralInRange<size_t>(0, payload.size());
          c.set_data(in.ConsumeBool() ? payload.substr(std::min(at, payload.size()), n)
                                      : in.ConsumeRandomLengthString(64));
          at += n;
          if (!writer->Write(c)) break;
        }
        writer->WritesDone();
        status = writer->Finish();
        break;
      }
      case 4: {
        v1::EvaluationReport req;
        req.set_session(Session(in, *h));
        req.set_round(in.ConsumeBool() ? h->round : in.ConsumeIntegral<int64_t>());
        req.set_evaluation_id(in.ConsumeBool() ? 2 * h->round : in.ConsumeIntegral<int64_t>());
        req.set_correct(in.ConsumeIntegral<int64_t>());
        req.set_count(in.ConsumeIntegral<int64_t>());
        req.set_loss_sum(in.ConsumeFloatingPoint<double>());
        // Test views (named subsets of the test set), personalized and global.
        for (int v = in.ConsumeIntegralInRange(0, 3); v > 0; --v) {
          auto& views = in.ConsumeBool() ? *req.mutable_views() : *req.mutable_global_views();
          v1::EvalCounts& c = views[Text(in, 20)];
          c.set_correct(in.ConsumeIntegral<int64_t>());
          c.set_count(in.ConsumeIntegral<int64_t>());
          c.set_loss_sum(in.ConsumeFloatingPoint<double>());
        }
        v1::ReportResponse resp;
        auto ctx = Context();
        status = h->stub->ReportEvaluation(ctx.get(), req, &resp);
        break;
      }
      case 5: {
        v1::HeartbeatRequest req;
        req.set_session(Session(in, *h));
        req.set_round(in.ConsumeIntegral<int64_t>());
        v1::HeartbeatResponse resp;
        auto ctx = Context();
        status = h->stub->Heartbeat(ctx.get(), req, &resp);
        break;
      }
      case 6: {
        v1::StatusRequest req;
        req.set_operator_token(in.ConsumeBool() ? "operator-token-0123" : Text(in, 20));
        v1::StatusResponse resp;
        auto ctx = Context();
        status = h->stub->GetStatus(ctx.get(), req, &resp);
        // (A starved process can miss the call's deadline even with the right token: that is
        // the harness's impatience, not an answer.)
        FUZZ_CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                   status.ok() == (req.operator_token() == "operator-token-0123"));
        break;
      }
    }
    // Every refusal says what is wrong (a deadline is the fuzzer's own impatience).
    FUZZ_CHECK(status.ok() || !status.error_message().empty() ||
               status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
               status.error_code() == grpc::StatusCode::CANCELLED);
  }
  round->OnTrainFailure(0, h->round, absl::UnavailableError("end of run"));
  round->OnTrainFailure(1, h->round, absl::UnavailableError("end of run"));
  round->Close().IgnoreError();
  collector->WaitUntil(absl::InfinitePast());
  const CoordinatorService::Stats stats = h->service->stats();
  FUZZ_CHECK(stats.client_slots == 3);
  FUZZ_CHECK(stats.live_sessions <= 2);
  return 0;
}
