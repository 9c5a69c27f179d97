#include "tools/tls_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/env.h"
#include "core/loopback.h"
#include "core/status_macros.h"

ABSL_FLAG(std::string, tls_cert, "", "PEM certificate this process presents.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA. Coordinator: require client certificates signed by it (mTLS). Client: the CA "
          "that signed the coordinator's certificate.");

namespace tailor {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  absl::StatusOr<std::string> pem = Env::Default()->ReadFile(path);
  if (!pem.ok()) return Annotate(pem.status(), absl::StrCat("--", flag));
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFromFlags(
    const std::string& listen_address) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert), key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (cert.empty()) {
    if (!IsLoopbackAddress(listen_address)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to listen on ", listen_address,
          " without TLS: give --tls_cert/--tls_key (deploy/make-test-certs.sh makes test ones)"));
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options;
  TAILOR_ASSIGN_OR_RETURN(std::string cert_pem, ReadPem(cert, "tls_cert"));
  TAILOR_ASSIGN_OR_RETURN(std::string key_pem, ReadPem(key, "tls_key"));
  options.pem_key_cert_pairs.push_back({key_pem, cert_pem});
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    TAILOR_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(absl::GetFlag(FLAGS_tls_ca), "tls_ca"));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFromFlags(
    const std::string& coordinator_address) {
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  if (ca.empty()) {
    if (!IsLoopbackAddress(coordinator_address)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to send updates to ", coordinator_address, " without TLS: give --tls_ca"));
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  TAILOR_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(ca, "tls_ca"));
  if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
    TAILOR_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadPem(absl::GetFlag(FLAGS_tls_cert), "tls_cert"));
    TAILOR_ASSIGN_OR_RETURN(options.pem_private_key, ReadPem(absl::GetFlag(FLAGS_tls_key), "tls_key"));
  }
  return grpc::SslCredentials(options);
}

}  // namespace tailor
