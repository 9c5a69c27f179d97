// MetricsHttpServer: the coordinator's operator endpoints on a plain HTTP port (cpp-httplib):
//   GET /metrics   Prometheus text exposition format 0.0.4
//   GET /healthz   200 "ok" while the coordinator is serving, 503 otherwise
// Bind it to a private interface: it carries no credentials and exposes no client data.
#ifndef TAILOR_SERVER_METRICS_HTTP_H_
#define TAILOR_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tailor {

class MetricsHttpServer {
 public:
  // `host_port` is "HOST:PORT" (PORT 0 picks a free one). The callbacks run on the HTTP
  // server's threads and must be thread-safe.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host_port, std::function<std::string()> metrics_text,
      std::function<bool()> healthy);
  ~MetricsHttpServer();  // stops serving

  int port() const { return port_; }

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_METRICS_HTTP_H_
