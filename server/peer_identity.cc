#include "server/peer_identity.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/grpc_security_constants.h"

namespace tailor {

std::string ClientCertificateName(int64_t client) { return absl::StrCat("tailor-client-", client); }

absl::Status CheckCertificateNamesClient(const grpc::AuthContext* auth, int64_t client) {
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::PermissionDeniedError(
        absl::StrCat("client ", client,
                     " presented no verified client certificate; this coordinator needs "
                     "one naming ",
                     ClientCertificateName(client)));
  }
  const std::string want = ClientCertificateName(client);
  std::vector<std::string> names;
  for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
      std::string name(value.data(), value.size());
      if (name == want) return absl::OkStatus();
      names.push_back(std::move(name));
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "the client certificate names ", names.empty() ? "no one" : absl::StrJoin(names, ", "),
      ", not ", want, ": a certificate is valid only for its own client"));
}

}  // namespace tailor
