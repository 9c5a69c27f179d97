// A real coordinator and real client processes on loopback: the network run must produce the
// same model as `tailor simulate`, and survive a client killed mid-experiment.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "core/env.h"
#include "core/serialization.h"
#include "privacy/rdp_accountant.h"
#include "tests/net/process_util.h"
#include "tests/test_util.h"

namespace tailor::testing {

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace tailor::testing

namespace tailor {
namespace {

using testing::ChildProcess;

constexpr char kConfig[] = R"(
name: "net"
seed: 3
rounds: 3
data { num_clients: 4 max_samples: 1600 dirichlet { alpha: 0.5 min_samples_per_client: 40 } }
train { learning_rate: 0.02 }
algorithm { name: "fedper" }
# Compressed uploads with error feedback kept on each client's disk, and a stateful server
# optimizer: both must cross the network (and a coordinator restart) without changing a bit.
upload { codec: "topk" topk_fraction: 0.1 }
server { optimizer: "fedavgm" server_momentum: 0.5 }
eval { every_rounds: 100 }
simulation { workers: 2 }
)";

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("net");
    Env* env = Env::Default();
    ASSERT_OK(env->WriteFileAtomically(dir_ + "/exp.textproto", kConfig));
    std::string tokens;
    for (int i = 0; i < 4; ++i) {
      tokens += absl::StrCat(i, " secret-", i, "\n");
      ASSERT_OK(
          env->WriteFileAtomically(absl::StrCat(dir_, "/token", i), absl::StrCat("secret-", i)));
    }
    ASSERT_OK(env->WriteFileAtomically(dir_ + "/tokens", tokens));
    address_ = absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort());
    // Real certificates, made by the test: a CA, the coordinator's and one per client (mTLS).
    ChildProcess certs({"/bin/bash", "deploy/make-test-certs.sh", dir_ + "/certs", "localhost",
                        "127.0.0.1", "--clients", "4"},
                       dir_ + "/certs.log");
    ASSERT_EQ(certs.Wait(absl::Seconds(60)), 0) << Log("certs.log");
  }

  // `sets`: extra config overrides (one --set flag holds them all: a second would replace it).
  // Clients started afterwards get the same overrides: the coordinator refuses a client whose
  // config differs from its own.
  std::unique_ptr<ChildProcess> Coordinator(const std::string& sets = "",
                                            const std::vector<std::string>& extra = {}) {
    client_sets_ = sets;
    std::vector<std::string> argv = {TAILOR_BINARY,
                                     "coordinator",
                                     "--config=" + dir_ + "/exp.textproto",
                                     "--set=output_dir=" + dir_ + "/coord" + sets,
                                     "--listen=" + address_,
                                     "--client_tokens=" + dir_ + "/tokens",
                                     "--long_poll_s=2",
                                     "--tls_cert=" + dir_ + "/certs/coordinator.crt",
                                     "--tls_key=" + dir_ + "/certs/coordinator.key",
                                     "--tls_ca=" + dir_ + "/certs/ca.crt"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, dir_ + "/coordinator.log");
  }
  std::unique_ptr<ChildProcess> Client(int id, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{TAILOR_BINARY,
                                  "client",
                                  "--config=" + dir_ + "/exp.textproto",
                                  "--coordinator=" + address_,
                                  absl::StrCat("--client_id=", id),
                                  absl::StrCat("--token_file=", dir_, "/token", id),
                                  absl::StrCat("--state_dir=", dir_, "/state", id),
                                  "--heartbeat_s=1",
                                  "--tls_ca=" + dir_ + "/certs/ca.crt",
                                  absl::StrCat("--tls_cert=", dir_, "/certs/client-", id, ".crt"),
                                  absl::StrCat("--tls_key=", dir_, "/certs/client-", id, ".key")};
    if (!client_sets_.empty()) argv.push_back("--set=" + client_sets_.substr(1));
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, absl::StrCat(dir_, "/client", id, ".log"));
  }
  std::string Log(const std::string& name) {
    auto s = Env::Default()->ReadFile(dir_ + "/" + name);
    return s.ok() ? *s : "";
  }
  // Runs `tailor status` (appending to status.log) until its output contains `needle`, for up
  // to about 100 tries; returns the log.
  std::string StatusUntil(const std::string& needle) {
    for (int i = 0; i < 100 && Log("status.log").find(needle) == std::string::npos; ++i) {
      ChildProcess status({TAILOR_BINARY, "status", "--coordinator=" + address_,
                           "--operator_token_file=" + dir_ + "/coord/operator.token",
                           "--tls_ca=" + dir_ + "/certs/ca.crt",
                           "--tls_cert=" + dir_ + "/certs/client-0.crt",
                           "--tls_key=" + dir_ + "/certs/client-0.key"},
                          dir_ + "/status.log");
      status.Wait(absl::Seconds(10));
      absl::SleepFor(absl::Milliseconds(100));
    }
    return Log("status.log");
  }
  // An HTTP client for the coordinator's operator endpoints (its port is in the structured
  // log when it was started with --metrics_listen=127.0.0.1:0).
  std::unique_ptr<httplib::Client> MetricsEndpoint() {
    const std::regex port_line("event=metrics_listening .*port=([0-9]+)");
    std::smatch m;
    const std::string log = Log("coordinator.log");
    EXPECT_TRUE(std::regex_search(log, m, port_line)) << log;
    if (m.empty()) return nullptr;
    return std::make_unique<httplib::Client>("127.0.0.1", std::stoi(m[1]));
  }

  // A log line's ts= value as a time.
  static absl::Time LogTime(const std::string& ts) {
    absl::Time t;
    std::string error;
    EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", ts, &t, &error)) << ts << ": " << error;
    return t;
  }

  std::string dir_;
  std::string address_;
  std::string client_sets_;
};

// Client 3 is held out of training as a new client: it only evaluates, after personalizing.
TEST_F(NetworkTest, FourClientProcessesOverMutualTlsGiveTheSimulationsModelBitForBit) {
  const std::string held_out = ",eval.new_clients=1";
  auto coordinator = Coordinator(held_out, {"--metrics_listen=127.0.0.1:0"});
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  // `tailor status` answers while the experiment runs.
  const std::string status = StatusUntil("experiment:       net");
  EXPECT_NE(status.find("experiment:       net"), std::string::npos) << status;
  // The operator endpoints of the running coordinator.
  auto http = MetricsEndpoint();
  ASSERT_NE(http, nullptr);
  auto health = http->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = http->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("tailor_experiment_info{experiment=\"net\"} 1"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("tailor_clients_registered 4"), std::string::npos);
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  const std::string final_log = Log("coordinator.log");
  EXPECT_NE(final_log.find("event=round_complete round=3 accepted=3"), std::string::npos)
      << final_log;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0) << Log(absl::StrCat("client", i, ".log"));
  }
  ChildProcess sim({TAILOR_BINARY, "simulate", "--config=" + dir_ + "/exp.textproto",
                    "--set=output_dir=" + dir_ + "/sim" + held_out, "--quiet"},
                   dir_ + "/sim.log");
  ASSERT_EQ(sim.Wait(absl::Minutes(2)), 0) << Log("sim.log");
  auto net_model = Env::Default()->ReadFile(dir_ + "/coord/final_shared.tlps");
  auto sim_model = Env::Default()->ReadFile(dir_ + "/sim/final_shared.tlps");
  ASSERT_OK(net_model);
  ASSERT_OK(sim_model);
  // Bitwise: local training is deterministic per (seed, round, client) and aggregation sums in
  // exact fixed point, so the order in which uploads arrive cannot change a bit.
  EXPECT_TRUE(*net_model == *sim_model) << "network and simulation models differ";
  // Each training client kept its own head on its own disk; the new client kept nothing.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(
        Env::Default()->FileExists(absl::StrCat(dir_, "/state", i, "/net/client-", i, ".tlps")));
  }
  EXPECT_FALSE(Env::Default()->FileExists(dir_ + "/state3/net/client-3.tlps"));
  // The new client's evaluation over the network is the simulation's, to the digit.
  const std::regex fresh("\"new_clients\":\\{[^}]*\"personalized_accuracy\":([0-9.e-]+)");
  std::smatch net_fresh, sim_fresh;
  const std::string net_metrics = *Env::Default()->ReadFile(dir_ + "/coord/metrics.jsonl");
  const std::string sim_metrics = *Env::Default()->ReadFile(dir_ + "/sim/metrics.jsonl");
  ASSERT_TRUE(std::regex_search(net_metrics, net_fresh, fresh)) << net_metrics;
  ASSERT_TRUE(std::regex_search(sim_metrics, sim_fresh, fresh)) << sim_metrics;
  EXPECT_EQ(net_fresh[1], sim_fresh[1]);
  EXPECT_GT(std::stod(net_fresh[1]), 0.0);
}

// The coordinator waits for its cohort (no client runs) while strangers try it.
// A language model over the network: fortune files as clients, a pretrained byte transformer
// with LoRA (FedSA-LoRA: frozen base, shared A, personal B). Only the coordinator has the
// pretrained base: the clients fetch it once by its address (one finds it in its cache). Same
// model and same bits per byte, to the digit, as the simulation of the same config.
TEST_F(NetworkTest, ALanguageModelOverTheNetworkIsTheSimulationsToTheBit) {
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir_ + "/exp.textproto", absl::StrCat(R"(
name: "netlm"
seed: 5
rounds: 2
data { dataset: "fortunes" num_clients: 4 text { max_texts_per_client: 60 } }
model { architecture: "byte_transformer_tiny" lora { rank: 2 } initial_model: ")",
                                                                                    dir_, R"(/base/base.tlps" }
pretrain { steps: 20 eval_every_steps: 10 }
train { learning_rate: 0.1 batch_size: 8 }
algorithm { name: "fedsa_lora" }
eval { every_rounds: 100 new_clients: 1 }
simulation { workers: 2 }
)")));
  // The simulation pretrains the missing base first.
  ChildProcess sim({TAILOR_BINARY, "simulate", "--config=" + dir_ + "/exp.textproto",
                    "--set=output_dir=" + dir_ + "/sim", "--quiet"},
                   dir_ + "/sim.log");
  ASSERT_EQ(sim.Wait(absl::Minutes(2)), 0) << Log("sim.log");
  ASSERT_TRUE(Env::Default()->FileExists(dir_ + "/base/base.tlps"));
  auto coordinator = Coordinator();
  client_sets_ = ",model.initial_model=" + dir_ + "/not-on-this-device/base.tlps";
  std::vector<std::unique_ptr<ChildProcess>> clients(4);
  for (int i = 1; i < 4; ++i) clients[i] = Client(i);
  // Client 0 starts once client 1 has fetched the base, with that copy in its own cache.
  const std::string cache1 = dir_ + "/state1/netlm/models";
  std::vector<std::string> cached;
  for (int i = 0; i < 600 && cached.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    auto names = Env::Default()->ListDir(cache1);
    if (names.ok()) {
      for (const auto& n : *names) {
        if (absl::EndsWith(n, ".tlps")) cached.push_back(n);
      }
    }
  }
  ASSERT_EQ(cached.size(), 1u) << Log("client1.log");
  auto base = Env::Default()->ReadFile(cache1 + "/" + cached[0]);
  ASSERT_OK(base);
  const std::string base_sha = ContentAddressOf(*base);
  EXPECT_EQ(cached[0], base_sha + ".tlps");
  ASSERT_OK(Env::Default()->CreateDirs(dir_ + "/state0/netlm/models"));
  ASSERT_OK(Env::Default()->WriteFileAtomically(
      absl::StrCat(dir_, "/state0/netlm/models/", cached[0]), *base));
  clients[0] = Client(0);
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0);
    const std::string log = Log(absl::StrCat("client", i, ".log"));
    EXPECT_NE(log.find(absl::StrCat("sha256=", base_sha.substr(0, 16), " from=",
                                    i == 0 ? "cache" : "coordinator")),
              std::string::npos)
        << log;
  }
  // The pretrained tensors are the base's (the LoRA adapters start from the seed).
  auto pretrained = DeserializeParameterSet(*Env::Default()->ReadFile(dir_ + "/base/base.tlps"));
  auto served = DeserializeParameterSet(*base);
  ASSERT_OK(pretrained);
  ASSERT_OK(served);
  for (const auto& e : pretrained->entries()) {
    ASSERT_NE(served->Find(e.name), nullptr) << e.name;
    EXPECT_TRUE(*served->Find(e.name) == e.tensor) << e.name;
  }
  auto net_model = Env::Default()->ReadFile(dir_ + "/coord/final_shared.tlps");
  ASSERT_OK(net_model);
  EXPECT_TRUE(*net_model == *Env::Default()->ReadFile(dir_ + "/sim/final_shared.tlps"));
  // What was distributed and aggregated: the adapters' A matrices only.
  absl::StatusOr<ParameterSet> shared = DeserializeParameterSet(*net_model);
  ASSERT_OK(shared);
  for (const auto& e : shared->entries()) EXPECT_TRUE(absl::EndsWith(e.name, ".lora_A")) << e.name;
  const std::regex bpb("\"personalized_bpb\":([0-9.e-]+)");
  std::smatch net_bpb, sim_bpb;
  const std::string net_metrics = *Env::Default()->ReadFile(dir_ + "/coord/metrics.jsonl");
  const std::string sim_metrics = *Env::Default()->ReadFile(dir_ + "/sim/metrics.jsonl");
  ASSERT_TRUE(std::regex_search(net_metrics, net_bpb, bpb)) << net_metrics;
  ASSERT_TRUE(std::regex_search(sim_metrics, sim_bpb, bpb)) << sim_metrics;
  EXPECT_EQ(net_bpb[1], sim_bpb[1]);
}

// A reward model over the network: simulated users' preference pairs, PAL's personal mixture
// on each device; pairwise accuracy and the controversial pairs' view cross the wire, equal to
// the simulation's, and so do the initial model's evaluation (eval.at_start, round 0) and the
// held-out client's few-shot points (eval.new_client_shots).
TEST_F(NetworkTest, AReportedTestViewCrossesTheWireAsInSimulation) {
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir_ + "/exp.textproto", R"(
name: "netpref"
seed: 4
rounds: 2
data { dataset: "preference_fortunes" num_clients: 4 preference { test_pairs: 40 max_train_pairs: 12 } }
model { architecture: "byte_reward_tiny" reward { head: "pal" prototypes: 2 } }
train { learning_rate: 0.1 batch_size: 8 }
algorithm { name: "fedper" }
eval { every_rounds: 100 at_start: true new_clients: 1 new_client_shots: [1, 4] }
simulation { workers: 2 }
)"));
  auto coordinator = Coordinator();
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0) << Log(absl::StrCat("client", i, ".log"));
  }
  ChildProcess sim({TAILOR_BINARY, "simulate", "--config=" + dir_ + "/exp.textproto",
                    "--set=output_dir=" + dir_ + "/sim", "--quiet"},
                   dir_ + "/sim.log");
  ASSERT_EQ(sim.Wait(absl::Minutes(2)), 0) << Log("sim.log");
  // eval.at_start: the initial model was evaluated as round 0 over the network too, the same.
  const std::regex start("^\\{\"run\":\"netpref\",\"round\":0,[^\\n]*");
  std::smatch net_start, sim_start;
  const std::string net_all = *Env::Default()->ReadFile(dir_ + "/coord/metrics.jsonl");
  const std::string sim_all = *Env::Default()->ReadFile(dir_ + "/sim/metrics.jsonl");
  ASSERT_TRUE(std::regex_search(net_all, net_start, start)) << net_all;
  ASSERT_TRUE(std::regex_search(sim_all, sim_start, start)) << sim_all;
  const std::regex accuracy("\"personalized_pair_accuracy\":[0-9.e-]+");
  std::smatch net_accuracy, sim_accuracy;
  const std::string net_line = net_start[0], sim_line = sim_start[0];
  ASSERT_TRUE(std::regex_search(net_line, net_accuracy, accuracy)) << net_line;
  ASSERT_TRUE(std::regex_search(sim_line, sim_accuracy, accuracy)) << sim_line;
  EXPECT_EQ(net_accuracy[0], sim_accuracy[0]);
  const std::regex view("\"views\":\\{\"controversial\":\\{[^}]*\\}");
  std::smatch net_view, sim_view;
  const std::string net_metrics = *Env::Default()->ReadFile(dir_ + "/coord/metrics.jsonl");
  const std::string sim_metrics = *Env::Default()->ReadFile(dir_ + "/sim/metrics.jsonl");
  ASSERT_TRUE(std::regex_search(net_metrics, net_view, view)) << net_metrics;
  ASSERT_TRUE(std::regex_search(sim_metrics, sim_view, view)) << sim_metrics;
  EXPECT_EQ(net_view[0], sim_view[0]);
  EXPECT_NE(net_view[0].str().find("\"personalized_pair_accuracy\":"), std::string::npos);
  // The last round's new client fitted on 4 of its pairs, as in simulation.
  const std::regex shots("\"shots_4\":\\{[^}]*\\}");
  std::smatch net_shots, sim_shots;
  ASSERT_TRUE(std::regex_search(net_metrics, net_shots, shots)) << net_metrics;
  ASSERT_TRUE(std::regex_search(sim_metrics, sim_shots, shots)) << sim_metrics;
  EXPECT_EQ(net_shots[0], sim_shots[0]);
}

TEST_F(NetworkTest, ACertificateServesOnlyItsOwnClientAndStatusIsForTheOperator) {
  auto coordinator = Coordinator();
  const std::string status = StatusUntil("clients joined:   0");
  ASSERT_NE(status.find("clients joined:   0"), std::string::npos) << status << Log("coordinator.log");
  // Status is for the operator: a wrong token is refused.
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir_ + "/wrong.token", "not-the-operator-token"));
  ChildProcess nosy({TAILOR_BINARY, "status", "--coordinator=" + address_,
                     "--operator_token_file=" + dir_ + "/wrong.token",
                     "--tls_ca=" + dir_ + "/certs/ca.crt",
                     "--tls_cert=" + dir_ + "/certs/client-0.crt",
                     "--tls_key=" + dir_ + "/certs/client-0.key"},
                    dir_ + "/nosy.log");
  EXPECT_EQ(nosy.Wait(absl::Seconds(10)), 1);
  EXPECT_NE(Log("nosy.log").find("status needs the operator token"), std::string::npos)
      << Log("nosy.log");
  // Client 0's certificate does not make anyone else client 1, token or not.
  ChildProcess impostor({TAILOR_BINARY, "client", "--config=" + dir_ + "/exp.textproto",
                         "--coordinator=" + address_,
                         "--client_id=1", "--token_file=" + dir_ + "/token1",
                         "--state_dir=" + dir_ + "/impostor", "--tls_ca=" + dir_ + "/certs/ca.crt",
                         "--tls_cert=" + dir_ + "/certs/client-0.crt",
                         "--tls_key=" + dir_ + "/certs/client-0.key"},
                        dir_ + "/impostor.log");
  EXPECT_NE(impostor.Wait(absl::Seconds(30)), 0);
  EXPECT_NE(Log("impostor.log").find("names tailor-client-0, not tailor-client-1"),
            std::string::npos)
      << Log("impostor.log");
  EXPECT_NE(Log("coordinator.log").find("event=join_refused client=1"), std::string::npos)
      << Log("coordinator.log");
  coordinator->Kill();
  coordinator->Wait(absl::Seconds(10));
}

TEST_F(NetworkTest, PlaintextIsRefusedOffLoopback) {
  ChildProcess coordinator({TAILOR_BINARY, "coordinator", "--config=" + dir_ + "/exp.textproto",
                            "--listen=0.0.0.0:0", "--client_tokens=" + dir_ + "/tokens"},
                           dir_ + "/plain.log");
  EXPECT_EQ(coordinator.Wait(absl::Seconds(30)), 2);
  EXPECT_NE(Log("plain.log").find("without TLS"), std::string::npos) << Log("plain.log");
  ChildProcess client({TAILOR_BINARY, "client", "--config=" + dir_ + "/exp.textproto",
                       "--coordinator=10.1.2.3:50051", "--client_id=0",
                       "--token_file=" + dir_ + "/token0", "--state_dir=" + dir_ + "/s"},
                      dir_ + "/plain-client.log");
  EXPECT_EQ(client.Wait(absl::Seconds(60)), 2);
  EXPECT_NE(Log("plain-client.log").find("without TLS"), std::string::npos);
}

TEST_F(NetworkTest, AClientKilledMidExperimentIsADropoutNotAFailure) {
  // min_updates 3 of 4, a 10-minute round timeout and a 3 s heartbeat timeout: the killed client
  // is found missing by its silence, and the survivors finish long before any deadline.
  const absl::Time start = absl::Now();
  auto coordinator =
      Coordinator(",server.min_updates=3,upload.codec=none",
                  {"--round_timeout_s=600", "--heartbeat_timeout_s=3"});
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(Client(i));
  // Client 3 stops after the first 1 MiB chunk of its first upload (2.3 MB uncompressed): killed
  // there, it dies mid-upload.
  clients.push_back(Client(3, {"--testing_stall_upload_after_bytes=1000000"}));
  for (int i = 0; i < 600 && Log("client3.log").find("stalled mid-upload") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_NE(Log("client3.log").find("stalled mid-upload"), std::string::npos) << Log("client3.log");
  clients[3]->Kill(SIGKILL);
  EXPECT_EQ(clients[3]->Wait(absl::Seconds(5)), 128 + SIGKILL);
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  EXPECT_LT(absl::Now() - start, absl::Minutes(3));
  EXPECT_NE(Log("coordinator.log").find("event=client_lost client=3"), std::string::npos)
      << Log("coordinator.log");
  // The broken stream was refused as truncated, not half-aggregated.
  EXPECT_NE(Log("coordinator.log").find("upload truncated"), std::string::npos)
      << Log("coordinator.log");
  const std::string metrics = Log("coord/metrics.jsonl");
  EXPECT_NE(metrics.find("\"round\":3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"failed\":1"), std::string::npos) << metrics;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0);
}

TEST_F(NetworkTest, ACoordinatorKilledMidRoundResumesWithoutLosingOrRepeatingRounds) {
  auto coordinator = Coordinator(",rounds=4");
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  // Kill it once round 1 is committed (its line is in metrics.jsonl), i.e. during round 2.
  for (int i = 0; i < 1200 && Log("coord/metrics.jsonl").find("\"round\":1,") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(Log("coord/metrics.jsonl").find("\"round\":1,"), std::string::npos)
      << Log("coordinator.log");
  coordinator->Kill(SIGKILL);
  ASSERT_EQ(coordinator->Wait(absl::Seconds(10)), 128 + SIGKILL);
  // 5 s of downtime, then the same command again: it must pick up after the last committed
  // round, and the clients, retrying all along, must be back within a few seconds of it
  // listening (their backoff and gRPC's reconnect backoff are capped at about a second).
  absl::SleepFor(absl::Seconds(5));
  const size_t before_restart = Log("coordinator.log").size();
  auto restarted = Coordinator(",rounds=4");
  ASSERT_EQ(restarted->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  const std::string after = Log("coordinator.log").substr(before_restart);
  const std::regex listening("ts=(\\S+) level=info event=listening");
  const std::regex joined("ts=(\\S+) level=info event=client_joined");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(after, m, listening)) << after;
  const absl::Time listen_at = LogTime(m[1]);
  std::vector<absl::Time> joins;
  for (auto it = std::sregex_iterator(after.begin(), after.end(), joined);
       it != std::sregex_iterator(); ++it) {
    joins.push_back(LogTime((*it)[1]));
  }
  ASSERT_GE(joins.size(), 4u) << after;
  EXPECT_LT(joins[3] - listen_at, absl::Seconds(5))
      << "the 4th client rejoined " << absl::FormatDuration(joins[3] - listen_at)
      << " after the coordinator listened again\n" << after;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(clients[i]->Wait(absl::Seconds(60)), 0) << i;
  const std::string log = Log("coordinator.log");
  EXPECT_NE(log.find("event=resumed after_round="), std::string::npos) << log;
  // Every round exactly once in the metrics, in order, and in the database.
  const std::string metrics = Log("coord/metrics.jsonl");
  for (int r = 1; r <= 4; ++r) {
    const std::string key = absl::StrCat("\"round\":", r, ",");
    const size_t first = metrics.find(key);
    EXPECT_NE(first, std::string::npos) << "round " << r << " missing\n" << metrics;
    EXPECT_EQ(metrics.find(key, first + 1), std::string::npos) << "round " << r << " twice";
  }
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 4);
  // And the model is the uninterrupted simulation's: round 2 ran again from the same committed
  // model, optimizer momentum, personal heads and top-k residuals.
  ChildProcess sim({TAILOR_BINARY, "simulate", "--config=" + dir_ + "/exp.textproto",
                    "--set=output_dir=" + dir_ + "/sim,rounds=4", "--quiet"},
                   dir_ + "/sim.log");
  ASSERT_EQ(sim.Wait(absl::Minutes(2)), 0) << Log("sim.log");
  auto net_model = Env::Default()->ReadFile(dir_ + "/coord/final_shared.tlps");
  ASSERT_OK(net_model);
  EXPECT_TRUE(*net_model == *Env::Default()->ReadFile(dir_ + "/sim/final_shared.tlps"))
      << "a coordinator killed and restarted ends elsewhere than the uninterrupted simulation";
}

TEST_F(NetworkTest, AClientKilledMidRoundGetsItsTaskBackAndTheModelIsTheSimulations) {
  // Client 2 dies in the middle of its round-2 upload and comes back. Every cohort is complete
  // (the default min_updates), so the round can only finish if the restarted client is handed
  // its task again; and the model can only equal the uninterrupted simulation's if the re-run
  // starts from the personal head (and top-k residual) of round 1, not from the round-2 state
  // the killed process had already saved.
  auto coordinator = Coordinator(",upload.codec=none");
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(i == 2 ? Client(2, {"--testing_stall_upload_after_bytes=1000000",
                                          "--testing_stall_upload_in_round=2"})
                             : Client(i));
  }
  for (int i = 0; i < 1200 && Log("client2.log").find("stalled mid-upload") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(Log("client2.log").find("stalled mid-upload"), std::string::npos) << Log("client2.log");
  clients[2]->Kill(SIGKILL);
  clients[2]->Wait(absl::Seconds(5));
  clients[2] = Client(2);
  // A client whose config differs (another data slice) is refused at Join, naming the part.
  auto stranger = Client(1, {"--set=data.max_samples=1000"});
  EXPECT_EQ(stranger->Wait(absl::Seconds(60)), 1);
  EXPECT_NE(Log("client1.log").find("differs from the coordinator's in data"), std::string::npos)
      << Log("client1.log");
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  const std::string log = Log("coordinator.log");
  EXPECT_NE(log.find("event=task_resent client=2 round=2"), std::string::npos) << log;
  const std::string metrics = Log("coord/metrics.jsonl");
  EXPECT_EQ(metrics.find("\"failed\":1"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("\"attempts\""), std::string::npos) << "no round ran short\n" << metrics;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0) << i;
  ChildProcess sim({TAILOR_BINARY, "simulate", "--config=" + dir_ + "/exp.textproto",
                    "--set=output_dir=" + dir_ + "/sim,upload.codec=none", "--quiet"},
                   dir_ + "/sim.log");
  ASSERT_EQ(sim.Wait(absl::Minutes(2)), 0) << Log("sim.log");
  EXPECT_TRUE(*Env::Default()->ReadFile(dir_ + "/coord/final_shared.tlps") ==
              *Env::Default()->ReadFile(dir_ + "/sim/final_shared.tlps"))
      << "the interrupted network run differs from the uninterrupted simulation";
  // Personalized accuracy too: every head trained exactly once per round.
  const std::regex accuracy("\"personalized_accuracy\":([0-9.e-]+)");
  std::smatch net_acc, sim_acc;
  const std::string sim_metrics = Log("sim/metrics.jsonl");
  ASSERT_TRUE(std::regex_search(metrics, net_acc, accuracy)) << metrics;
  ASSERT_TRUE(std::regex_search(sim_metrics, sim_acc, accuracy)) << sim_metrics;
  EXPECT_EQ(net_acc[1], sim_acc[1]);
}

TEST_F(NetworkTest, ClientsSayWhatTheyWaitForAndLeaveWhenTheFinishedExperimentsCoordinatorIsGone) {
  // Pointed at a port where nothing listens, a client says so at once (it was silent for 40 s).
  auto lost = Client(0, {"--coordinator=127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())});
  for (int i = 0; i < 100 && Log("client0.log").find("coordinator_unreachable") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_NE(Log("client0.log").find("event=coordinator_unreachable client=0"), std::string::npos)
      << Log("client0.log");
  lost->Kill(SIGKILL);
  lost->Wait(absl::Seconds(5));

  // The coordinator dies right after committing the last round, before telling anyone the
  // experiment is over. The clients answered the last round's evaluation, so once the
  // coordinator stays away they end by themselves (they used to retry for 10 minutes).
  auto coordinator = Coordinator("", {"--testing_crash_after_round=3"});
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  EXPECT_EQ(coordinator->Wait(absl::Minutes(3)), 128 + SIGKILL) << Log("coordinator.log");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(clients[i]->Wait(absl::Seconds(40)), 0) << Log(absl::StrCat("client", i, ".log"));
    EXPECT_NE(Log(absl::StrCat("client", i, ".log")).find("the last round is evaluated"),
              std::string::npos)
        << Log(absl::StrCat("client", i, ".log"));
  }
}

TEST_F(NetworkTest, ClientsWhoseTrainingFailsStayUpAndTheirRoundsAreSkippedNotFatal) {
  // Every client's local training diverges. Each says so with its next poll (no deadline, no
  // heartbeat timeout needed), each round runs short, is tried again, then skipped; nobody exits
  // with an error, and the experiment ends.
  auto coordinator = Coordinator(",rounds=2,train.learning_rate=1e6,server.max_round_attempts=2",
                                 {"--round_timeout_s=600", "--heartbeat_timeout_s=0"});
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0) << Log(absl::StrCat("client", i, ".log"));
  }
  const std::string log = Log("coordinator.log");
  EXPECT_NE(log.find("event=task_failed"), std::string::npos) << log;
  EXPECT_NE(log.find("event=round_short round=1 attempt=2 next=\"skip the round\""),
            std::string::npos)
      << log;
  const std::string metrics = Log("coord/metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 2) << metrics;
  EXPECT_NE(metrics.find("\"skipped\":true"), std::string::npos) << metrics;
  EXPECT_NE(Log("client0.log").find("event=task_failed"), std::string::npos) << Log("client0.log");
}

// The last "epsilon" in a metrics.jsonl text, or -1.
double LastEpsilon(const std::string& metrics) {
  static const std::regex epsilon("\"epsilon\":([0-9.e+-]+)");
  double last = -1;
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), epsilon);
       it != std::sregex_iterator(); ++it) {
    last = std::stod((*it)[1]);
  }
  return last;
}

TEST_F(NetworkTest, APrivateCoordinatorKilledAndRestartedReportsTheEpsilonItHad) {
  // Client-level DP over the network: every client each round (q = 1), noise keyed from the OS.
  const std::string dp =
      ",rounds=4,privacy.clip_norm=0.01,privacy.noise_multiplier=3,privacy.sampling_rate=1";
  auto coordinator = Coordinator(dp);
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  for (int i = 0; i < 1200 && Log("coord/metrics.jsonl").find("\"round\":2,") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(Log("coord/metrics.jsonl").find("\"round\":2,"), std::string::npos)
      << Log("coordinator.log");
  coordinator->Kill(SIGKILL);
  ASSERT_EQ(coordinator->Wait(absl::Seconds(10)), 128 + SIGKILL);
  for (auto& c : clients) {
    c->Kill(SIGKILL);
    c->Wait(absl::Seconds(5));
  }

  // Restarted with no client connected: before it can run anything, `tailor status` and
  // /metrics report exactly the epsilon of the committed rounds (metrics.jsonl is rebuilt from
  // the committed rounds when the coordinator starts, so its last line is the committed one).
  auto restarted = Coordinator(dp, {"--metrics_listen=127.0.0.1:0"});
  const std::string status = StatusUntil("privacy:");
  const double committed = LastEpsilon(Log("coord/metrics.jsonl"));
  ASSERT_GT(committed, 0) << Log("coord/metrics.jsonl");
  const std::string want = absl::StrFormat("privacy:          epsilon %.6f", committed);
  EXPECT_NE(status.find(want), std::string::npos) << want << "\n" << status;
  auto http = MetricsEndpoint();
  ASSERT_NE(http, nullptr);
  auto metrics = http->Get("/metrics");
  ASSERT_TRUE(metrics);
  std::smatch gauge;
  ASSERT_TRUE(std::regex_search(metrics->body, gauge,
                                std::regex("tailor_privacy_epsilon ([0-9.e+-]+)")))
      << metrics->body;
  EXPECT_EQ(std::stod(gauge[1]), committed);
  // Only what ε covers is published: no participation counters, no counts or accuracies in
  // the metrics, no client ids in the log lines about uploads.
  EXPECT_EQ(metrics->body.find("tailor_uploads_accepted_total"), std::string::npos)
      << metrics->body;
  EXPECT_EQ(metrics->body.find("tailor_model_bytes_sent_total"), std::string::npos);
  const std::string committed_lines = Log("coord/metrics.jsonl");
  EXPECT_EQ(committed_lines.find("\"accepted\""), std::string::npos) << committed_lines;
  EXPECT_NE(committed_lines.find("\"withheld\":true"), std::string::npos) << committed_lines;
  EXPECT_EQ(Log("coordinator.log").find("event=upload_accepted client=0"), std::string::npos);
  EXPECT_NE(Log("coordinator.log").find("event=upload_accepted client=withheld"),
            std::string::npos);

  // The clients come back and the run finishes; the last round reports the accountant's
  // epsilon for all four rounds, not four minus the restart.
  for (int i = 0; i < 4; ++i) clients[i] = Client(i);
  ASSERT_EQ(restarted->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  const std::string all = Log("coord/metrics.jsonl");
  EXPECT_NEAR(LastEpsilon(all), SubsampledGaussianEpsilon(1, 3, 4, 1e-5)->epsilon, 1e-12) << all;
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 4) << all;
}

TEST_F(NetworkTest, ARestartedClientKeepsItsPersonalHead) {
  auto coordinator = Coordinator(",server.min_updates=3", {"--round_timeout_s=8"});
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client(i));
  const std::string head = dir_ + "/state2/net/client-2.tlps";
  // Once client 2 has saved a trained head, kill it and start it again on the same state.
  for (int i = 0; i < 600 && !Env::Default()->FileExists(head); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(Env::Default()->FileExists(head)) << Log("client2.log");
  clients[2]->Kill(SIGKILL);
  clients[2]->Wait(absl::Seconds(5));
  clients[2] = Client(2);
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  EXPECT_EQ(clients[2]->Wait(absl::Seconds(30)), 0) << Log("client2.log");
  EXPECT_NE(
      Log("client2.log").find("client 2: resuming with stored personal parameters (2 tensors)"),
      std::string::npos)
      << Log("client2.log");
  // The head on disk is still a valid personal state after the kill and the restart.
  auto head_state = Env::Default()->ReadFile(head);
  ASSERT_OK(head_state);
  const std::string metrics = Log("coord/metrics.jsonl");
  EXPECT_NE(metrics.find("\"round\":3"), std::string::npos) << metrics;
}

// Secure aggregation over tailor.v1 with real client processes (issue 17). Client 1 is killed
// after sending its key shares (the survivors' pairwise masks with it must come out of the sum
// through its shares), client 2 after sending its masked input (its self mask must come out
// through the others' shares of its seed), both by SIGKILL while the protocol runs. The round
// completes with the inputs of clients 0, 2 and 3, and the model is, bit for bit, the one a
// simulation gets with the same two clients dropping at the same boundaries.
TEST_F(NetworkTest, SecureAggregationCompletesWithTheRightSumWhenTwoClientsAreKilledMidProtocol) {
  const std::string secagg =
      ",rounds=1,upload.codec=none,secure_aggregation.mode=secagg,secure_aggregation.threshold=2,"
      "secure_aggregation.clip_norm=1000,secure_aggregation.phase_timeout_seconds=120";
  auto coordinator = Coordinator(secagg, {"--round_timeout_s=600", "--heartbeat_timeout_s=3"});
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) {
    std::vector<std::string> extra;
    if (i == 1) extra = {"--testing_stall_after_secagg_phase=1"};
    if (i == 2) extra = {"--testing_stall_after_secagg_phase=2"};
    clients.push_back(Client(i, extra));
  }
  for (int i : {1, 2}) {
    const std::string stalled = absl::StrCat("stalled after secure-aggregation phase ", i);
    const std::string log = absl::StrCat("client", i, ".log");
    for (int t = 0; t < 1200 && Log(log).find(stalled) == std::string::npos; ++t) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_NE(Log(log).find(stalled), std::string::npos) << Log(log) << Log("coordinator.log");
    clients[i]->Kill(SIGKILL);
    EXPECT_EQ(clients[i]->Wait(absl::Seconds(5)), 128 + SIGKILL);
  }
  ASSERT_EQ(coordinator->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  for (int i : {0, 3}) EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0) << Log(absl::StrCat("client", i, ".log"));
  const std::string metrics = Log("coord/metrics.jsonl");
  EXPECT_NE(metrics.find("\"masked_inputs\":3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"recovered_dropouts\":1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"accepted\":3"), std::string::npos) << metrics;
  // The coordinator never saw an update in the clear: every upload was a key advertisement.
  EXPECT_EQ(Log("coordinator.log").find("sent an update in the clear"), std::string::npos);
  ChildProcess sim({TAILOR_BINARY, "simulate", "--config=" + dir_ + "/exp.textproto",
                    "--set=output_dir=" + dir_ + "/sim" + secagg +
                        ",secure_aggregation.simulated_dropout.at={round:1 client:1 "
                        "boundary:\"after_share\"},secure_aggregation.simulated_dropout.at={"
                        "round:1 client:2 boundary:\"after_input\"}",
                    "--quiet"},
                   dir_ + "/sim.log");
  ASSERT_EQ(sim.Wait(absl::Minutes(2)), 0) << Log("sim.log");
  EXPECT_NE(Log("sim/metrics.jsonl").find("\"masked_inputs\":3"), std::string::npos)
      << Log("sim/metrics.jsonl");
  EXPECT_TRUE(*Env::Default()->ReadFile(dir_ + "/coord/final_shared.tlps") ==
              *Env::Default()->ReadFile(dir_ + "/sim/final_shared.tlps"))
      << "the secure sum over the network differs from the simulation's with the same dropouts";
}

// A coordinator killed while secure aggregation waits for masked inputs aborts that attempt on
// restart (re-running it would mask the same updates under new keys) and goes on: round 1
// completes as its second attempt, with fresh keys, and round 2 after it.
TEST_F(NetworkTest, ACoordinatorKilledMidProtocolAbortsTheAttemptAndTheNextOneWorks) {
  const std::string secagg =
      ",rounds=2,upload.codec=none,secure_aggregation.mode=secagg_plus,"
      "secure_aggregation.threshold=3,secure_aggregation.neighbours=2,"
      "secure_aggregation.clip_norm=1000,secure_aggregation.phase_timeout_seconds=120";
  const std::vector<std::string> flags = {"--round_timeout_s=600", "--heartbeat_timeout_s=60"};
  auto coordinator = Coordinator(secagg, flags);
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(i == 1 ? Client(1, {"--testing_stall_after_secagg_phase=1"}) : Client(i));
  }
  // Client 1 sent its shares and went quiet: the coordinator waits for its masked input.
  const std::string stalled = "stalled after secure-aggregation phase 1";
  for (int t = 0; t < 1200 && Log("client1.log").find(stalled) == std::string::npos; ++t) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(Log("client1.log").find(stalled), std::string::npos) << Log("client1.log");
  coordinator->Kill(SIGKILL);
  ASSERT_EQ(coordinator->Wait(absl::Seconds(10)), 128 + SIGKILL);
  clients[1]->Kill(SIGKILL);
  clients[1]->Wait(absl::Seconds(5));
  clients[1] = Client(1);
  auto restarted = Coordinator(secagg, flags);
  ASSERT_EQ(restarted->Wait(absl::Minutes(3)), 0) << Log("coordinator.log");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(clients[i]->Wait(absl::Seconds(30)), 0) << i;
  EXPECT_NE(Log("coordinator.log").find("event=secagg_attempt_aborted round=1 attempt=1"),
            std::string::npos)
      << Log("coordinator.log");
  const std::string metrics = Log("coord/metrics.jsonl");
  ASSERT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 2) << metrics;
  EXPECT_NE(metrics.find("\"round\":1,"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"attempts\":2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"round\":2,"), std::string::npos) << metrics;
  // Every client's input is in both rounds' sums.
  size_t at = 0;
  int full = 0;
  while ((at = metrics.find("\"masked_inputs\":4", at)) != std::string::npos) ++full, ++at;
  EXPECT_EQ(full, 2) << metrics;
}

}  // namespace
}  // namespace tailor
