// gRPC keepalive for both ends, in one place: HTTP/2 pings on a connection so that one whose
// peer vanished without a FIN or RST (a half-open connection: a laptop that slept, a NAT that
// dropped its mapping) is found and closed. The server then drops the poll the dead client had
// parked and the client reconnects, instead of both waiting for a deadline.
#ifndef TAILOR_SERVER_KEEPALIVE_H_
#define TAILOR_SERVER_KEEPALIVE_H_

#include "absl/time/time.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"

namespace tailor {

struct KeepaliveOptions {
  // Ping after this long without traffic; the connection is dead when a ping is not answered
  // within ping_timeout.
  absl::Duration ping_every = absl::Seconds(60);
  absl::Duration ping_timeout = absl::Seconds(20);
};

// The coordinator pings every connection (with or without calls in flight) and accepts the
// clients' pings at the clients' pace (clients_ping_every) without answering "too many pings".
void ApplyServerKeepalive(grpc::ServerBuilder* builder, const KeepaliveOptions& server,
                          absl::Duration clients_ping_every);
// A client pings while it has calls in flight (its long poll is one almost always).
void ApplyClientKeepalive(grpc::ChannelArguments* args, const KeepaliveOptions& client);

}  // namespace tailor

#endif  // TAILOR_SERVER_KEEPALIVE_H_
