#include "server/peer_identity.h"

#include <map>

#include "grpc/grpc_security_constants.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

// What gRPC's TLS layer fills in for a verified client certificate.
class FakeAuthContext : public grpc::AuthContext {
 public:
  FakeAuthContext(bool authenticated, std::multimap<std::string, std::string> properties)
      : authenticated_(authenticated), properties_(std::move(properties)) {}
  bool IsPeerAuthenticated() const override { return authenticated_; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    auto [begin, end] = properties_.equal_range(name);
    for (auto it = begin; it != end; ++it) values.emplace_back(it->second);
    return values;
  }
  grpc::AuthPropertyIterator begin() const override { return Empty(); }
  grpc::AuthPropertyIterator end() const override { return Empty(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }

 private:
  struct Empty : grpc::AuthPropertyIterator {};
  bool authenticated_;
  std::multimap<std::string, std::string> properties_;
};

TEST(PeerIdentity, ACertificateServesOnlyTheClientItNames) {
  const FakeAuthContext by_cn(true, {{GRPC_X509_CN_PROPERTY_NAME, "tailor-client-0"}});
  EXPECT_OK(CheckCertificateNamesClient(&by_cn, 0));
  EXPECT_STATUS(CheckCertificateNamesClient(&by_cn, 1), absl::StatusCode::kPermissionDenied,
                "names tailor-client-0, not tailor-client-1");
  // A SAN is enough, and the CN may then be anything (an operator's own PKI).
  const FakeAuthContext by_san(true, {{GRPC_X509_CN_PROPERTY_NAME, "laptop-17"},
                                      {GRPC_X509_SAN_PROPERTY_NAME, "laptop-17.example.org"},
                                      {GRPC_X509_SAN_PROPERTY_NAME, "tailor-client-12"}});
  EXPECT_OK(CheckCertificateNamesClient(&by_san, 12));
  EXPECT_STATUS(CheckCertificateNamesClient(&by_san, 1), absl::StatusCode::kPermissionDenied,
                "laptop-17, laptop-17.example.org, tailor-client-12");
  // Prefixes are not names: client 1's check does not accept client 12's certificate.
  const FakeAuthContext prefix(true, {{GRPC_X509_CN_PROPERTY_NAME, "tailor-client-1x"}});
  EXPECT_STATUS(CheckCertificateNamesClient(&prefix, 1), absl::StatusCode::kPermissionDenied, "");
  const FakeAuthContext anonymous(false, {});
  EXPECT_STATUS(CheckCertificateNamesClient(&anonymous, 3), absl::StatusCode::kPermissionDenied,
                "no verified client certificate");
  EXPECT_STATUS(CheckCertificateNamesClient(nullptr, 3), absl::StatusCode::kPermissionDenied, "");
}

}  // namespace
}  // namespace tailor
