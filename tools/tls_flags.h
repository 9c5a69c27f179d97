// TLS for `tailor coordinator` and `tailor client`, from flags. TLS is required for any
// non-loopback address; plaintext is allowed on loopback only (tests, one-machine setups).
#ifndef TAILOR_TOOLS_TLS_FLAGS_H_
#define TAILOR_TOOLS_TLS_FLAGS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/loopback.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace tailor {

// --tls_cert/--tls_key serve TLS; --tls_ca additionally requires client certificates signed by
// that CA (mTLS).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFromFlags(
    const std::string& listen_address);

// --tls_ca verifies the coordinator; --tls_cert/--tls_key present a client certificate (mTLS).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFromFlags(
    const std::string& coordinator_address);

}  // namespace tailor

#endif  // TAILOR_TOOLS_TLS_FLAGS_H_
