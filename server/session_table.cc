#include "server/session_table.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

std::string NewSessionId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // OpenSSL's generator failing is not recoverable here, and a guessable session would be
    // worse than stopping.
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

bool SameSecret(absl::string_view want, absl::string_view got) {
  return want.size() == got.size() && CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
}

SessionTable::SessionTable(SessionTableOptions options) : options_(std::move(options)) {}

absl::Status SessionTable::Authenticate(int64_t client, absl::string_view token) const {
  auto it = options_.client_tokens.find(client);
  if (it == options_.client_tokens.end() || !SameSecret(it->second, token)) {
    return absl::UnauthenticatedError("unknown client or wrong token");
  }
  if (options_.revoked_clients.count(client)) {
    return absl::PermissionDeniedError(absl::StrCat("client ", client, " is revoked"));
  }
  return absl::OkStatus();
}

SessionTable::Opened SessionTable::Open(int64_t client, absl::Time now) {
  Opened opened;
  auto previous = by_client_.find(client);
  if (previous != by_client_.end()) {
    opened.replaced = by_session_.erase(previous->second) > 0;
  }
  opened.session = NewSessionId();
  by_session_[opened.session] = Session{client, now};
  by_client_[client] = opened.session;
  return opened;
}

absl::StatusOr<int64_t> SessionTable::Resolve(absl::string_view session, absl::Time now) {
  auto it = by_session_.find(session);
  if (it == by_session_.end()) {
    return absl::UnauthenticatedError(
        "unknown session; join again (the coordinator may have restarted, or the client joined "
        "again from elsewhere)");
  }
  if (now - it->second.last_used > options_.idle_timeout) {
    by_client_.erase(it->second.client);
    by_session_.erase(it);
    return absl::UnauthenticatedError(absl::StrCat("session expired after ",
                                                   absl::FormatDuration(options_.idle_timeout),
                                                   " unused; join again"));
  }
  it->second.last_used = std::max(it->second.last_used, now);
  return it->second.client;
}

std::vector<int64_t> SessionTable::ExpireIdle(absl::Time now) {
  std::vector<int64_t> expired;
  for (auto it = by_session_.begin(); it != by_session_.end();) {
    auto here = it++;
    if (now - here->second.last_used > options_.idle_timeout) {
      expired.push_back(here->second.client);
      by_client_.erase(here->second.client);
      by_session_.erase(here);
    }
  }
  return expired;
}

}  // namespace tailor
