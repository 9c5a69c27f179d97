#include "server/keepalive.h"

#include <algorithm>

namespace tailor {
namespace {

int Ms(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 1 << 30));
}

}  // namespace

void ApplyServerKeepalive(grpc::ServerBuilder* builder, const KeepaliveOptions& server,
                          absl::Duration clients_ping_every) {
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Ms(server.ping_every));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Ms(server.ping_timeout));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A ping arriving faster than this counts against the client ("too many pings"): allow the
  // clients' own interval with room for jitter.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              Ms(clients_ping_every / 2));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

void ApplyClientKeepalive(grpc::ChannelArguments* args, const KeepaliveOptions& client) {
  args->SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Ms(client.ping_every));
  args->SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Ms(client.ping_timeout));
  args->SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

}  // namespace tailor
