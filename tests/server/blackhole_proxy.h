// A TCP proxy on loopback that can go silent: after Blackhole() it forwards nothing in either
// direction and keeps every socket open, as a peer that vanished without a FIN or RST looks to
// both ends (a half-open connection).
#ifndef TAILOR_TESTS_SERVER_BLACKHOLE_PROXY_H_
#define TAILOR_TESTS_SERVER_BLACKHOLE_PROXY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tailor::testing {

class BlackholeProxy {
 public:
  explicit BlackholeProxy(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listener_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~BlackholeProxy() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
    ::close(listener_);
  }
  int port() const { return port_; }
  void Blackhole() { silent_ = true; }

 private:
  void Run() {
    std::vector<std::pair<int, int>> pipes;  // (client side, server side)
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      if (!silent_) {
        for (auto [a, b] : pipes) {
          fds.push_back({a, POLLIN, 0});
          fds.push_back({b, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int client = ::accept(listener_, nullptr, nullptr);
        const int server = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(target_port_));
        ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        pipes.push_back({client, server});
        fds_.push_back(client);
        fds_.push_back(server);
        continue;
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        const auto [a, b] = pipes[(i - 1) / 2];
        const int from = fds[i].fd, to = from == a ? b : a;
        char buf[16384];
        const ssize_t n = ::read(from, buf, sizeof(buf));
        if (n > 0) ::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
      }
    }
  }
  const int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> silent_{false};
  std::vector<int> fds_;
  std::thread thread_;
};

}  // namespace tailor::testing

#endif  // TAILOR_TESTS_SERVER_BLACKHOLE_PROXY_H_
