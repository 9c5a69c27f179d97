// Half-open connections: between a client and the coordinator the network goes silent (no FIN,
// no RST) while the client's long poll is parked. With the keepalive both ends use
// (server/keepalive.h), the client's call fails at once instead of at its deadline, and the
// coordinator drops the dead client's parked poll. Real gRPC and a real TCP proxy; keepalive
// runs on gRPC's own timers, so this test takes a few seconds of real time.
#include "server/keepalive.h"

#include "absl/synchronization/notification.h"
#include "grpcpp/create_channel.h"
#include "server/grpc_service.h"
#include "tests/server/blackhole_proxy.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(Keepalive, BothEndsFindAHalfOpenConnection) {
  CoordinatorServiceOptions o;
  o.experiment = "exp";
  o.client_tokens = {{0, "t0"}};
  o.long_poll = absl::Seconds(60);  // far longer than the test: only keepalive can end it
  CoordinatorService service(o);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  const KeepaliveOptions fast{absl::Milliseconds(500), absl::Milliseconds(500)};
  ApplyServerKeepalive(&builder, fast, /*clients_ping_every=*/absl::Milliseconds(500));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  testing::BlackholeProxy proxy(port);
  grpc::ChannelArguments args;
  ApplyClientKeepalive(&args, fast);
  auto stub = v1::Coordinator::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", proxy.port()), grpc::InsecureChannelCredentials(), args));

  grpc::ClientContext join_ctx;
  v1::JoinRequest join;
  join.set_client_id(0);
  join.set_token("t0");
  join.set_experiment("exp");
  v1::JoinResponse joined;
  ASSERT_TRUE(stub->Join(&join_ctx, join, &joined).ok());

  // The poll parks; then the network between the two goes silent.
  grpc::ClientContext poll_ctx;
  poll_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WaitForTaskRequest poll;
  poll.set_session(joined.session());
  v1::Task task;
  grpc::Status polled;
  absl::Notification done;
  stub->async()->WaitForTask(&poll_ctx, &poll, &task, [&](grpc::Status s) {
    polled = std::move(s);
    done.Notify();
  });
  for (int i = 0; i < 200 && service.stats().parked_polls == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(service.stats().parked_polls, 1);
  const absl::Time silent_at = absl::Now();
  proxy.Blackhole();

  // The client finds it: its call fails well before its 30 s deadline.
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(15)));
  EXPECT_EQ(polled.error_code(), grpc::StatusCode::UNAVAILABLE) << polled.error_message();
  EXPECT_LT(absl::Now() - silent_at, absl::Seconds(15));
  // The coordinator finds it too: the dead client's poll is dropped.
  while (service.stats().parked_polls != 0 && absl::Now() - silent_at < absl::Seconds(15)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(service.stats().parked_polls, 0);
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

}  // namespace
}  // namespace tailor
