// Binding a TLS client certificate to a client id. Under mutual TLS a client certificate proves
// the caller holds a key the CA vouched for; it must also be the key of the client it claims to
// be, or client 0's certificate with client 1's (stolen) token would pass as client 1. The
// certificate names its client as "tailor-client-<id>" in its subject CN or in a subjectAltName
// (DNS or URI), as deploy/make-test-certs.sh issues them.
#ifndef TAILOR_SERVER_PEER_IDENTITY_H_
#define TAILOR_SERVER_PEER_IDENTITY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/security/auth_context.h"

namespace tailor {

// The name a certificate of client `client` carries.
std::string ClientCertificateName(int64_t client);

// OK when the peer presented a verified certificate naming `client`; PERMISSION_DENIED naming
// what the certificate says otherwise.
absl::Status CheckCertificateNamesClient(const grpc::AuthContext* auth, int64_t client);

}  // namespace tailor

#endif  // TAILOR_SERVER_PEER_IDENTITY_H_
