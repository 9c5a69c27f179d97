// Model broadcast over the real gRPC service against a plain TCP copy of the same bytes, and the
// serving process's peak memory.
//
// For each model size and client count, a server process is started (the CoordinatorService
// publishing a model of that size, or a plain TCP server sending one buffer of that size), and
// N concurrent clients in this process (each on its own connection) receive the whole model.
// gRPC clients join and receive their task first; the timed part is the model transfer itself
// (FetchModel), as the TCP clients' is connect + read. Runs alternate TCP and gRPC so machine
// noise hits both. Prints throughput, the ratio gRPC/TCP (target >= 0.5) and the server's peak
// RSS as a multiple of the model size (target <= 1.5 for gRPC).
//
//   build/bench/broadcast_bench [--sizes_mb=100,1000] [--clients=1,8,32] [--reps=2]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/malloc_tuning.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "server/grpc_service.h"

ABSL_FLAG(std::string, sizes_mb, "100,1000", "Model sizes in MB (10^6 bytes).");
ABSL_FLAG(std::string, clients, "1,8,32", "Concurrent client counts.");
ABSL_FLAG(int, reps, 2, "Repetitions of each (TCP, gRPC) pair; the median is reported.");
// Server mode (internal): the driver starts itself with these.
ABSL_FLAG(std::string, serve, "", "tcp or grpc: run as the server process.");
ABSL_FLAG(int64_t, model_bytes, 0, "Server mode: model size in bytes.");
ABSL_FLAG(int, num_clients, 1, "Server mode: clients to serve.");
ABSL_FLAG(std::string, port_file, "", "Server mode: where to write the listening port.");
ABSL_FLAG(int, chunk_kb, 1024, "Bytes per ModelChunk, in KiB.");
ABSL_FLAG(int, max_frame_kb, 0, "HTTP/2 max frame size in KiB on both sides (0: gRPC default).");

extern char** environ;

namespace tailor {
namespace {

constexpr size_t kChunk = 1 << 20;

int64_t ReadStatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + std::strlen(field));
  }
  return -1;
}

void WritePort(int port) {
  const std::string path = absl::GetFlag(FLAGS_port_file);
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << port << "\n";
  std::rename(tmp.c_str(), path.c_str());
}

// Blocks until the driver sends SIGTERM, then prints the peak RSS.
void AwaitTermAndReport(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  std::printf("peak_rss_kb %lld\n", static_cast<long long>(ReadStatusKb("VmHWM:")));
  std::fflush(stdout);
}

class NullSink : public UpdateSink {
 public:
  absl::Status OnUpdate(const UpdateUpload&) override { return absl::OkStatus(); }
  void OnTrainFailure(int64_t, int64_t, const absl::Status&) override {}
};

int ServeGrpc(const sigset_t& set) {
  const int64_t bytes = absl::GetFlag(FLAGS_model_bytes);
  const int clients = absl::GetFlag(FLAGS_num_clients);
  // The model as a real coordinator holds it: float32 tensors of up to 64 MiB each.
  auto model = std::make_shared<ParameterSet>();
  int64_t left = bytes / 4;
  for (int i = 0; left > 0; ++i) {
    const int64_t n = std::min<int64_t>(left, int64_t{16} << 20);
    Tensor t(DType::kFloat32, {n});
    for (int64_t j = 0; j < n; j += 1024) t.f32()[j] = static_cast<float>(j);
    (void)model->Add(absl::StrCat("layer", i, ".weight"), std::move(t));
    left -= n;
  }
  CoordinatorServiceOptions o;
  o.experiment = "broadcast";
  for (int i = 0; i < clients; ++i) o.client_tokens[i] = absl::StrCat("t", i);
  o.chunk_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_chunk_kb)) << 10;
  CoordinatorService service(o);
  grpc::ServerBuilder builder;
  if (absl::GetFlag(FLAGS_max_frame_kb) > 0) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, absl::GetFlag(FLAGS_max_frame_kb) << 10);
  }
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  TrainTask task;
  task.round = 1;
  task.global_shared = std::move(model);
  std::vector<int64_t> cohort;
  for (int i = 0; i < clients; ++i) cohort.push_back(i);
  service.DispatchTrain(task, cohort, std::make_shared<NullSink>());
  task.global_shared.reset();  // the service's published copy is the only one
  WritePort(port);
  AwaitTermAndReport(set);
  server->Shutdown(absl::ToChronoTime(absl::Now()));
  return 0;
}

int ServeTcp(const sigset_t& set) {
  const int64_t bytes = absl::GetFlag(FLAGS_model_bytes);
  const int clients = absl::GetFlag(FLAGS_num_clients);
  const std::string payload(static_cast<size_t>(bytes), 'm');
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener, clients) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 1;
  }
  WritePort(ntohs(addr.sin_port));
  std::vector<std::thread> senders;
  for (int i = 0; i < clients; ++i) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return 1;
    senders.emplace_back([fd, &payload] {
      // Staged through a small buffer, as the gRPC server stages each chunk: on this VM a
      // write() straight from a 1 GB buffer runs at ~0.45 GB/s (the kernel's copy from cold
      // user pages), staged at ~3 GB/s. The baseline is the faster of the two.
      std::vector<char> stage(kChunk);
      size_t off = 0;
      while (off < payload.size()) {
        const size_t n = std::min(kChunk, payload.size() - off);
        std::memcpy(stage.data(), payload.data() + off, n);
        size_t sent = 0;
        while (sent < n) {
          const ssize_t w = ::write(fd, stage.data() + sent, n - sent);
          if (w <= 0) break;
          sent += static_cast<size_t>(w);
        }
        if (sent < n) break;
        off += n;
      }
      ::close(fd);
    });
  }
  for (auto& t : senders) t.join();
  AwaitTermAndReport(set);
  return 0;
}

// ----- driver -----

struct ServerProcess {
  pid_t pid = -1;
  int port = 0;
  std::string out_path;
};

ServerProcess StartServer(const std::string& self, const std::string& kind, int64_t bytes,
                          int clients) {
  ServerProcess p;
  const std::string dir = absl::StrCat("/tmp/broadcast_bench.", ::getpid());
  ::mkdir(dir.c_str(), 0700);
  const std::string port_file = absl::StrCat(dir, "/port");
  ::unlink(port_file.c_str());
  p.out_path = absl::StrCat(dir, "/server.out");
  std::vector<std::string> argv = {self, "--serve=" + kind, absl::StrCat("--model_bytes=", bytes),
                                   absl::StrCat("--chunk_kb=", absl::GetFlag(FLAGS_chunk_kb)),
                                   absl::StrCat("--max_frame_kb=", absl::GetFlag(FLAGS_max_frame_kb)),
                                   absl::StrCat("--num_clients=", clients),
                                   "--port_file=" + port_file};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (posix_spawn(&p.pid, self.c_str(), &actions, nullptr, args.data(), environ) != 0) p.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  for (int i = 0; i < 6000 && p.pid > 0; ++i) {
    std::ifstream in(port_file);
    if (in >> p.port) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return p;
}

// Stops the server and returns its peak RSS in bytes.
int64_t StopServer(ServerProcess& p) {
  ::kill(p.pid, SIGTERM);
  ::waitpid(p.pid, nullptr, 0);
  std::ifstream in(p.out_path);
  std::string key;
  int64_t kb = -1;
  in >> key >> kb;
  return kb * 1024;
}

// Runs `clients` threads; `prepare(i)` runs before the barrier, `transfer(i)` after it and is
// timed. Returns the seconds from the barrier until the last transfer ended.
template <typename Prepare, typename Transfer>
double RunClients(int clients, Prepare prepare, Transfer transfer) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      prepare(i);
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      transfer(i);
    });
  }
  while (ready.load() < clients) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time start = absl::Now();
  go.store(true);
  for (auto& t : threads) t.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

struct Trial {
  double seconds = 0;
  int64_t peak_rss = 0;
  bool ok = true;
};

Trial RunTcp(const std::string& self, int64_t bytes, int clients) {
  ServerProcess server = StartServer(self, "tcp", bytes, clients);
  std::atomic<bool> ok{true};
  Trial t;
  t.seconds = RunClients(
      clients, [](int) {},
      [&](int) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(server.port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
          ok = false;
          return;
        }
        std::vector<char> buf(kChunk);
        int64_t got = 0;
        ssize_t n;
        while ((n = ::read(fd, buf.data(), buf.size())) > 0) got += n;
        ::close(fd);
        if (got != bytes) ok = false;
      });
  t.peak_rss = StopServer(server);
  t.ok = ok;
  return t;
}

Trial RunGrpc(const std::string& self, int64_t bytes, int clients) {
  ServerProcess server = StartServer(self, "grpc", bytes, clients);
  const std::string target = absl::StrCat("127.0.0.1:", server.port);
  struct Client {
    std::unique_ptr<v1::Coordinator::Stub> stub;
    std::string session;
    v1::Task task;
  };
  std::vector<Client> c(static_cast<size_t>(clients));
  std::atomic<bool> ok{true};
  Trial t;
  t.seconds = RunClients(
      clients,
      [&](int i) {
        // A channel argument unique to this client gives it its own TCP connection, as
        // separate client machines would have.
        grpc::ChannelArguments args;
        args.SetInt("tailor.bench.client", i);
        args.SetMaxReceiveMessageSize(64 << 20);
        if (absl::GetFlag(FLAGS_max_frame_kb) > 0) {
          args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, absl::GetFlag(FLAGS_max_frame_kb) << 10);
        }
        c[i].stub = v1::Coordinator::NewStub(
            grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
        grpc::ClientContext join_ctx;
        v1::JoinRequest join;
        join.set_client_id(i);
        join.set_token(absl::StrCat("t", i));
        join.set_experiment("broadcast");
        v1::JoinResponse joined;
        grpc::ClientContext wait_ctx;
        v1::WaitForTaskRequest wait;
        if (!c[i].stub->Join(&join_ctx, join, &joined).ok()) ok = false;
        wait.set_session(joined.session());
        c[i].session = joined.session();
        if (!c[i].stub->WaitForTask(&wait_ctx, wait, &c[i].task).ok()) ok = false;
      },
      [&](int i) {
        grpc::ClientContext ctx;
        v1::FetchModelRequest req;
        req.set_session(c[i].session);
        req.set_model_sha256(c[i].task.model_sha256());
        auto reader = c[i].stub->FetchModel(&ctx, req);
        v1::ModelChunk chunk;
        int64_t got = 0;
        while (reader->Read(&chunk)) got += static_cast<int64_t>(chunk.data().size());
        if (!reader->Finish().ok() || got != c[i].task.model_bytes()) ok = false;
      });
  t.peak_rss = StopServer(server);
  t.ok = ok;
  return t;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Driver(const std::string& self) {
  std::vector<int64_t> sizes;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes_mb), ',')) {
    int64_t mb = 0;
    if (!absl::SimpleAtoi(s, &mb) || mb <= 0) return 2;
    sizes.push_back(mb * 1000000);
  }
  std::vector<int> counts;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) return 2;
    counts.push_back(n);
  }
  const int reps = std::max(1, absl::GetFlag(FLAGS_reps));
  std::printf("%-8s %-7s %12s %12s %8s %14s %14s\n", "model", "clients", "TCP GB/s", "gRPC GB/s",
              "ratio", "TCP peak RSS", "gRPC peak RSS");
  bool all_ok = true;
  for (int64_t bytes : sizes) {
    for (int clients : counts) {
      std::vector<double> tcp, grpc;
      int64_t tcp_rss = 0, grpc_rss = 0;
      for (int r = 0; r < reps; ++r) {
        Trial a = RunTcp(self, bytes, clients);
        Trial b = RunGrpc(self, bytes, clients);
        all_ok = all_ok && a.ok && b.ok;
        tcp.push_back(a.seconds);
        grpc.push_back(b.seconds);
        tcp_rss = std::max(tcp_rss, a.peak_rss);
        grpc_rss = std::max(grpc_rss, b.peak_rss);
      }
      const double total_gb = static_cast<double>(bytes) * clients / 1e9;
      const double tcp_s = Median(tcp), grpc_s = Median(grpc);
      std::printf("%-8s %-7d %12.2f %12.2f %8.2f %13.2fx %13.2fx\n",
                  absl::StrCat(bytes / 1000000, " MB").c_str(), clients, total_gb / tcp_s,
                  total_gb / grpc_s, tcp_s / grpc_s, static_cast<double>(tcp_rss) / bytes,
                  static_cast<double>(grpc_rss) / bytes);
      std::fflush(stdout);
    }
  }
  std::printf("ratio: gRPC throughput / TCP throughput (target >= 0.5); peak RSS: the server "
              "process's VmHWM / model size (target <= 1.5 for gRPC)\n");
  if (!all_ok) std::printf("SOME TRANSFERS FAILED (wrong byte count or RPC error)\n");
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  tailor::TuneMallocForServing();
  absl::ParseCommandLine(argc, argv);
  const std::string kind = absl::GetFlag(FLAGS_serve);
  if (kind.empty()) return tailor::Driver("/proc/self/exe");
  // Server: SIGTERM is taken by sigwait in the main thread, so block it before threads start.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return kind == "grpc" ? tailor::ServeGrpc(set) : tailor::ServeTcp(set);
}
