// Every rejected input leaves the coordinator's stored state byte for byte unchanged: a real
// Coordinator with its SQLite checkpoint store behind the real gRPC service on loopback. Mid-
// round, every kind of bad input is sent; the files under the state directory are compared
// before and after, and the experiment then completes with only the good updates counted.
#include <dirent.h>

#include <cmath>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "core/parameter_math.h"
#include "core/serialization.h"
#include "core/wire_update.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "server/checkpoint_store.h"
#include "server/coordinator.h"
#include "server/grpc_service.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

// path -> contents of every file under `dir` (recursively), except SQLite's shared-memory
// index, which readers may touch.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return files;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || absl::EndsWith(name, "-shm")) continue;
    const std::string path = dir + "/" + name;
    if (e->d_type == DT_DIR) {
      for (auto& [p, c] : Snapshot(path)) files[p] = c;
    } else {
      files[path] = Env::Default()->ReadFile(path).value_or("<unreadable>");
    }
  }
  ::closedir(d);
  return files;
}

class Client {
 public:
  Client(std::shared_ptr<grpc::Channel> channel, int64_t id)
      : stub_(v1::Coordinator::NewStub(channel)), id_(id) {}

  grpc::Status Join(const std::string& token) {
    grpc::ClientContext ctx;
    v1::JoinRequest req;
    req.set_client_id(id_);
    req.set_token(token);
    req.set_experiment("exp");
    v1::JoinResponse resp;
    grpc::Status s = stub_->Join(&ctx, req, &resp);
    if (s.ok()) session_ = resp.session();
    return s;
  }
  // Polls until a training task for `round` arrives.
  v1::Task AwaitTrain(int64_t round) {
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext ctx;
      v1::WaitForTaskRequest req;
      req.set_session(session_);
      v1::Task task;
      if (stub_->WaitForTask(&ctx, req, &task).ok() && task.kind() == v1::Task::TRAIN &&
          task.round() == round) {
        return task;
      }
    }
    ADD_FAILURE() << "no training task for round " << round;
    return v1::Task();
  }
  grpc::Status Fetch(const std::string& sha, std::string* out) {
    grpc::ClientContext ctx;
    v1::FetchModelRequest req;
    req.set_session(session_);
    req.set_model_sha256(sha);
    auto reader = stub_->FetchModel(&ctx, req);
    v1::ModelChunk chunk;
    while (reader->Read(&chunk)) out->append(chunk.data());
    return reader->Finish();
  }
  grpc::Status Upload(int64_t round, const std::string& payload, int64_t declared,
                      const std::string& session_override = "") {
    grpc::ClientContext ctx;
    v1::UploadResponse resp;
    auto writer = stub_->UploadUpdate(&ctx, &resp);
    v1::UpdateChunk c;
    c.set_session(session_override.empty() ? session_ : session_override);
    c.set_round(round);
    c.set_weight(1);
    c.set_total_bytes(declared);
    for (size_t off = 0; off < payload.size(); off += 5) {
      c.set_data(payload.substr(off, 5));
      if (!writer->Write(c)) break;
      c.clear_session();
    }
    writer->WritesDone();
    return writer->Finish();
  }

 private:
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  int64_t id_;
  std::string session_;
};

TEST(RejectedInput, StoredStateIsUnchangedAndOnlyGoodUpdatesCount) {
  const std::string dir = testing::MakeTempDir("durable");
  const ParameterSet initial = RandomSet({{"w", {3, 2}}, {"b", {2}}}, 1);
  CoordinatorServiceOptions so;
  so.experiment = "exp";
  so.client_tokens = {{0, "t0"}, {1, "t1"}};
  so.long_poll = absl::Milliseconds(100);
  so.max_upload_bytes = static_cast<int64_t>(SerializeParameterSet(initial).size());
  CoordinatorService service(so);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  auto store = CheckpointStore::Open(dir, "exp", Env::Default());
  ASSERT_OK(store);
  CoordinatorOptions co;
  co.num_clients = 2;
  co.rounds = 2;
  co.eval_every = 1000;
  co.eval_timeout = absl::Milliseconds(300);  // nobody evaluates in this test
  co.initial_shared = initial;
  co.checkpoints = store->get();
  co.run_name = "exp";
  co.transport = &service;
  auto coordinator = Coordinator::Create(std::move(co));
  ASSERT_OK(coordinator);
  absl::Status run;
  std::thread loop([&] { run = (*coordinator)->RunAll(); });

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  Client c0(channel, 0), c1(channel, 1), intruder(channel, 1);
  ASSERT_TRUE(c0.Join("t0").ok());
  ASSERT_TRUE(c1.Join("t1").ok());
  const PersonalizationPolicy none;
  const ParameterSet d1 = RandomSet({{"w", {3, 2}}, {"b", {2}}}, 11, 0.1);
  const ParameterSet d2 = RandomSet({{"w", {3, 2}}, {"b", {2}}}, 12, 0.1);
  auto encode = [&](const ParameterSet& d) { return *EncodeSharedUpdate(d, none); };
  auto size = [](const std::string& s) { return static_cast<int64_t>(s.size()); };

  // Round 1 completes normally and is committed.
  c0.AwaitTrain(1);
  c1.AwaitTrain(1);
  ASSERT_TRUE(c0.Upload(1, encode(d1), size(encode(d1))).ok());
  ASSERT_TRUE(c1.Upload(1, encode(d2), size(encode(d2))).ok());

  // Round 2 is open: the state on disk is round 1's.
  const v1::Task task = c0.AwaitTrain(2);
  c1.AwaitTrain(2);
  const auto before = Snapshot(dir);
  ASSERT_FALSE(before.empty());

  const std::string good = encode(d1);
  const int64_t n = size(good);
  std::string corrupt = good;
  corrupt[n - 40] ^= 1;
  ParameterSet nan = d1;
  nan.FindMutable("b")->f32()[0] = NAN;
  ParameterSet inf = d1;
  inf.FindMutable("w")->f32()[1] = -INFINITY;
  const std::string wrong_name = encode(RandomSet({{"w", {3, 2}}, {"c", {2}}}, 3));
  const std::string wrong_shape = encode(RandomSet({{"w", {2, 3}}, {"b", {2}}}, 3));
  std::string unused;
  EXPECT_EQ(intruder.Join("not-the-token").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(c0.Upload(2, good, n, "forged-session").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Framing: refused by the service, the client may try again.
  EXPECT_EQ(c0.Upload(2, good.substr(0, n - 9), n).error_code(), grpc::StatusCode::DATA_LOSS)
      << "truncated stream";
  EXPECT_EQ(c0.Upload(2, good + good, 2 * n).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "oversized";
  // Content: the first refusal makes client 0 a failed client of this round (each content check
  // on its own: grpc_service_test); everything it sends afterwards is refused as well.
  EXPECT_EQ(c0.Upload(2, corrupt, n).error_code(), grpc::StatusCode::DATA_LOSS) << "hash mismatch";
  for (const std::string& bad : {wrong_name, wrong_shape, encode(nan), encode(inf)}) {
    EXPECT_EQ(c0.Upload(2, bad, size(bad)).error_code(), grpc::StatusCode::ABORTED);
  }
  EXPECT_EQ(c0.Upload(1, good, n).error_code(), grpc::StatusCode::ABORTED) << "closed round";
  EXPECT_EQ(c0.Fetch(std::string(64, 'a'), &unused).error_code(), grpc::StatusCode::NOT_FOUND)
      << "unknown model version";
  EXPECT_EQ(Snapshot(dir), before) << "a rejected input changed the stored state";

  // Client 0's first bad content made it a failed client of round 2: its good update is refused
  // now, and the round closes one short of its minimum once client 1 answers. That ends
  // nothing: round 2 runs again (attempt 2) without client 0, the client that failed it.
  EXPECT_EQ(c0.Upload(2, good, n).error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(c1.Upload(2, encode(d2), n).ok());
  c1.AwaitTrain(2);
  EXPECT_EQ(c0.Upload(2, good, n).error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "client 0 is not in attempt 2's cohort";
  ASSERT_TRUE(c1.Upload(2, encode(d2), n).ok());
  EXPECT_TRUE(c1.Upload(2, encode(d2), n).ok()) << "a retry of an accepted upload";
  loop.join();
  ASSERT_OK(run);
  server->Shutdown(absl::ToChronoTime(absl::Now()));
  EXPECT_EQ(*(*store)->CountRounds(), 2);
  auto lines = (*store)->MetricsLines();
  ASSERT_OK(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_NE((*lines)[1].find("\"attempts\":2"), std::string::npos) << (*lines)[1];
  // Round 1 the mean of d1 and d2, round 2 (attempt 2, client 1 alone) d2: nothing rejected
  // leaked into the model.
  auto latest = (*store)->LoadLatest();
  ASSERT_OK(latest);
  for (const std::string name : {"w", "b"}) {
    for (int64_t i = 0; i < initial.Find(name)->numel(); ++i) {
      const double want = initial.Find(name)->f32()[i] +
                          (d1.Find(name)->f32()[i] + d2.Find(name)->f32()[i]) / 2 +
                          d2.Find(name)->f32()[i];
      EXPECT_NEAR((*latest)->global_shared.Find(name)->f32()[i], want, 1e-5) << name << i;
    }
  }
  EXPECT_TRUE(task.model_sha256().size() == 64);
}

}  // namespace
}  // namespace tailor
