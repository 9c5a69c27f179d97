// Floods a coordinator with Join calls that cannot succeed, as an attacker without credentials
// would: claiming one victim's id with wrong tokens, or random ids. Prints how many calls were
// made and what they were answered. bench/join_flood.py drives it against a running experiment.
//   join_flood --target 127.0.0.1:50051 --mode victim|random --victim_id 1 --seconds 15
#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "tailor/v1/coordinator.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The coordinator (plaintext).");
ABSL_FLAG(std::string, mode, "victim",
          "victim: the victim's id, wrong tokens; random: random ids.");
ABSL_FLAG(int64_t, victim_id, 1, "The id claimed in victim mode.");
ABSL_FLAG(double, seconds, 15, "How long to flood.");
ABSL_FLAG(int, threads, 4, "Concurrent callers.");
ABSL_FLAG(std::string, experiment, "flood", "The experiment name sent.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const bool victim = absl::GetFlag(FLAGS_mode) == "victim";
  const absl::Time end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  absl::Mutex mu;
  std::map<int, int64_t> codes;
  std::vector<std::thread> threads;
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
    threads.emplace_back([&, t] {
      // One connection per caller, as separate attacking processes would have.
      grpc::ChannelArguments args;
      args.SetInt("flood.channel", t);
      auto stub = tailor::v1::Coordinator::NewStub(grpc::CreateCustomChannel(
          absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args));
      std::mt19937_64 rng(t + 1);
      std::map<int, int64_t> mine;
      while (absl::Now() < end) {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
        tailor::v1::JoinRequest req;
        req.set_client_id(victim ? absl::GetFlag(FLAGS_victim_id)
                                 : static_cast<int64_t>(rng() >> 2));
        req.set_token(absl::StrCat("guess-", rng()));
        req.set_experiment(absl::GetFlag(FLAGS_experiment));
        tailor::v1::JoinResponse resp;
        ++mine[static_cast<int>(stub->Join(&ctx, req, &resp).error_code())];
      }
      absl::MutexLock lock(&mu);
      for (auto [code, n] : mine) codes[code] += n;
    });
  }
  for (auto& t : threads) t.join();
  int64_t total = 0;
  for (auto [code, n] : codes) total += n;
  std::printf("calls %lld", static_cast<long long>(total));
  for (auto [code, n] : codes) std::printf(" code%d %lld", code, static_cast<long long>(n));
  std::printf("\n");
  return 0;
}
