#include "core/loopback.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"

namespace tailor {
namespace {

bool IsLoopbackIp(const std::string& host) {
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
  }
  return false;
}

// Every address "localhost" resolves to is loopback (and there is at least one).
bool LocalhostResolvesToLoopback() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo("localhost", nullptr, &hints, &found) != 0 || found == nullptr) return false;
  bool all = true;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (inet_ntop(a->ai_family, raw, text, sizeof(text)) == nullptr || !IsLoopbackIp(text)) {
      all = false;
    }
  }
  freeaddrinfo(found);
  return all;
}

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  std::string rest = address;
  for (const char* scheme : {"ipv4:", "ipv6:", "dns:///", "dns:"}) {
    if (absl::StartsWith(rest, scheme)) {
      rest = rest.substr(std::strlen(scheme));
      break;
    }
  }
  std::string host;
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
  } else if (std::count(rest.begin(), rest.end(), ':') > 1) {
    host = rest;  // a bare IPv6 address
  } else {
    host = rest.substr(0, rest.find(':'));
  }
  if (host == "localhost") return LocalhostResolvesToLoopback();
  return IsLoopbackIp(host);
}

}  // namespace tailor
