// A CoordinatorService on a real loopback gRPC server with round 1 of cohort {0, 1} open, and a
// stub to drive it the way a (possibly hostile) client would.
#ifndef TAILOR_TESTS_SERVER_SERVICE_FIXTURE_H_
#define TAILOR_TESTS_SERVER_SERVICE_FIXTURE_H_

#include <cmath>

#include "aggregation/aggregator.h"
#include "core/serialization.h"
#include "core/sha256.h"
#include "core/wire_update.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "server/evaluation.h"
#include "server/grpc_service.h"
#include "server/round.h"
#include "tests/test_util.h"

namespace tailor {

using testing::RandomSet;

class GrpcServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CoordinatorServiceOptions o;
    o.experiment = "exp";
    o.client_tokens = {{0, "t0"}, {1, "t1"}, {2, "t2"}};
    o.long_poll = absl::Milliseconds(200);
    o.chunk_bytes = 16;  // many chunks even for a tiny model
    schema_ = std::make_shared<const ParameterSet>(RandomSet({{"w", {3, 2}}, {"b", {2}}}, 1));
    o.max_upload_bytes = static_cast<int64_t>(SerializeParameterSet(*schema_).size());
    Configure(&o);
    service_ = std::make_unique<CoordinatorService>(o);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

    RoundOptions ro;
    ro.round = 1;
    ro.cohort = {0, 1};
    ro.shared_schema = schema_;
    ro.aggregator = *CreateAggregator("weighted_mean");
    ro.min_updates = 1;
    round_ = std::shared_ptr<Round>(*Round::Create(std::move(ro)));
    TrainTask task;
    task.round = 1;
    task.global_shared = schema_;
    service_->DispatchTrain(task, {0, 1}, round_);
  }
  void TearDown() override { server_->Shutdown(absl::ToChronoTime(absl::Now())); }
  virtual void Configure(CoordinatorServiceOptions* options) {}

  grpc::Status Join(int64_t id, const std::string& token, std::string* session,
                    const std::string& experiment = "exp") {
    grpc::ClientContext ctx;
    v1::JoinRequest req;
    req.set_client_id(id);
    req.set_token(token);
    req.set_experiment(experiment);
    v1::JoinResponse resp;
    grpc::Status s = stub_->Join(&ctx, req, &resp);
    *session = resp.session();
    return s;
  }
  grpc::Status Status(const std::string& operator_token, v1::StatusResponse* status) {
    grpc::ClientContext ctx;
    v1::StatusRequest req;
    req.set_operator_token(operator_token);
    return stub_->GetStatus(&ctx, req, status);
  }
  grpc::Status Beat(const std::string& session, int64_t round = 1) {
    grpc::ClientContext ctx;
    v1::HeartbeatRequest req;
    req.set_session(session);
    req.set_round(round);
    v1::HeartbeatResponse resp;
    return stub_->Heartbeat(&ctx, req, &resp);
  }
  grpc::Status Wait(const std::string& session, v1::Task* task) {
    grpc::ClientContext ctx;
    v1::WaitForTaskRequest req;
    req.set_session(session);
    return stub_->WaitForTask(&ctx, req, task);
  }
  grpc::Status Fetch(const std::string& session, const std::string& sha, int64_t offset,
                     std::string* out) {
    grpc::ClientContext ctx;
    v1::FetchModelRequest req;
    req.set_session(session);
    req.set_model_sha256(sha);
    req.set_offset(offset);
    auto reader = stub_->FetchModel(&ctx, req);
    v1::ModelChunk chunk;
    while (reader->Read(&chunk)) out->append(chunk.data());
    return reader->Finish();
  }
  // Sends `payload` in 7-byte chunks, declaring `declared` bytes.
  grpc::Status Upload(const std::string& session, int64_t round, const std::string& payload,
                      int64_t declared, double weight = 5,
                      v1::UpdateChunk::Content content = v1::UpdateChunk::UPDATE) {
    grpc::ClientContext ctx;
    v1::UploadResponse resp;
    auto writer = stub_->UploadUpdate(&ctx, &resp);
    size_t off = 0;
    bool first = true;
    do {
      v1::UpdateChunk c;
      if (first) {
        c.set_session(session);
        c.set_round(round);
        c.set_weight(weight);
        c.set_total_bytes(declared);
        c.set_content(content);
        first = false;
      }
      const size_t n = std::min<size_t>(7, payload.size() - off);
      c.set_data(payload.substr(off, n));
      off += n;
      if (!writer->Write(c)) break;
    } while (off < payload.size());
    writer->WritesDone();
    return writer->Finish();
  }
  // Waits (up to 5 s) until every cohort member of `round` is accounted for, then closes it.
  static absl::StatusOr<RoundResult> CloseWhenAllReported(Round& round) {
    if (!round.AwaitAllReportedUntil(absl::Now() + absl::Seconds(5))) {
      return absl::DeadlineExceededError("the round still waits for someone");
    }
    return round.Close();
  }
  std::string Encode(const ParameterSet& delta) {
    return *EncodeSharedUpdate(delta, PersonalizationPolicy());
  }
  std::shared_ptr<const ParameterSet> schema_;
  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::shared_ptr<Round> round_;
};

}  // namespace tailor

#endif  // TAILOR_TESTS_SERVER_SERVICE_FIXTURE_H_
