// Many lightweight clients in one process: each thread runs the real client daemon
// (client/daemon.h: join, long poll, fetch, upload, heartbeats, retries) over its own gRPC
// connection, with a parameter-only trainer instead of LibTorch, so a thousand clients fit in
// one process. Used by bench/thousand_clients.sh against a real `tailor coordinator`.
//   build/bench/client_swarm --config=configs/bench_swarm.textproto --coordinator=HOST:PORT
//       --token_prefix=tok --first=0 --count=1000
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "client/daemon.h"
#include "core/config_fingerprint.h"
#include "client/personal_store.h"
#include "core/config_loader.h"
#include "core/malloc_tuning.h"
#include "grpcpp/create_channel.h"
#include "sim/experiment.h"

ABSL_FLAG(std::string, config, "", "Experiment config (the coordinator's).");
ABSL_FLAG(std::string, coordinator, "127.0.0.1:50051", "Coordinator address (plaintext loopback).");
ABSL_FLAG(std::string, token_prefix, "tok", "Client i's token is PREFIX + i.");
ABSL_FLAG(int, first, 0, "First client id.");
ABSL_FLAG(int, count, 1000, "Number of clients.");
ABSL_FLAG(int, num_clients, 0,
          "data.num_clients, as the coordinator's --set gives it (0: the config's); the "
          "coordinator refuses clients whose config differs from its own.");

namespace tailor {
namespace {

// Holds the parameters; "training" is the algorithm's business (constant_delta edits them
// through Load/Snapshot), evaluation reports every test sample as a miss.
class ParameterOnlyTrainer : public LocalTrainer {
 public:
  explicit ParameterOnlyTrainer(ParameterSet initial) : params_(std::move(initial)) {}
  absl::Status Load(const ParameterSet& params) override { return params_.Assign(params); }
  ParameterSet Snapshot() const override { return params_; }
  absl::StatusOr<TrainStats> Train(const ExamplePool&, absl::Span<const uint32_t> indices,
                                   const TrainOptions&, const TrainableFilter&, uint64_t) override {
    TrainStats s;
    s.samples = static_cast<int64_t>(indices.size());
    return s;
  }
  absl::StatusOr<EvalStats> Evaluate(const ExamplePool&,
                                     absl::Span<const uint32_t> indices) override {
    EvalStats s;
    s.count = static_cast<int64_t>(indices.size());
    return s;
  }
  absl::StatusOr<ParameterSet> Gradient(const ExamplePool&, absl::Span<const uint32_t>,
                                        double*) override {
    return absl::UnimplementedError("the swarm's clients compute no gradients");
  }

 private:
  ParameterSet params_;
};

int Main() {
  auto config = LoadExperimentConfig(absl::GetFlag(FLAGS_config), Env::Default());
  if (!config.ok()) {
    std::fprintf(stderr, "client_swarm: %s\n", config.status().ToString().c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_num_clients) > 0) {
    config->mutable_data()->set_num_clients(absl::GetFlag(FLAGS_num_clients));
  }
  const ConfigFingerprint fingerprint = FingerprintOf(*config);
  auto experiment = BuildExperiment(*config, Env::Default(), /*load_data=*/true);
  if (!experiment.ok()) {
    std::fprintf(stderr, "client_swarm: %s\n", experiment.status().ToString().c_str());
    return 1;
  }
  InMemoryPersonalStore store;
  const int first = absl::GetFlag(FLAGS_first), count = absl::GetFlag(FLAGS_count);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (int id = first; id < first + count; ++id) {
    threads.emplace_back([&, id] {
      grpc::ChannelArguments args;
      args.SetInt("tailor.swarm.client", id);  // its own connection, like a separate machine
      DaemonOptions o;
      o.channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_coordinator),
                                            grpc::InsecureChannelCredentials(), args);
      o.experiment = config->name();
      o.config_fingerprint = fingerprint.digest;
      o.config_sections = fingerprint.parts;
      o.token = absl::StrCat(absl::GetFlag(FLAGS_token_prefix), id);
      o.context = ClientContextFor(*experiment, id, &store);
      o.jitter_seed = config->seed();
      ParameterOnlyTrainer trainer(*experiment->initial_model);
      absl::Status s = RunClientDaemon(o, trainer);
      if (!s.ok()) {
        ++failed;
        std::fprintf(stderr, "client %d: %s\n", id, s.ToString().c_str());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("client_swarm: %d clients finished, %d failed\n", count - failed.load(),
              failed.load());
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  tailor::TuneMallocForServing();
  absl::ParseCommandLine(argc, argv);
  return tailor::Main();
}
