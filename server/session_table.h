// SessionTable: who may join, and the live sessions of those who did.
//
// A client authenticates with its id and token (compared in constant time) and gets a session:
// a 128-bit random name its later requests carry. A client has at most ONE live session: joining
// again replaces the previous one, so restarts and token replay cannot pile up sessions. A
// session not used for `idle_timeout` expires (the daemon polls, beats or uploads far more
// often), so a client gone for good stops counting as joined.
//
// Thread-compatible: the gRPC service calls it under its lock.
#ifndef TAILOR_SERVER_SESSION_TABLE_H_
#define TAILOR_SERVER_SESSION_TABLE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tailor {

// Whether two secrets are equal, in time independent of where they differ.
bool SameSecret(absl::string_view want, absl::string_view got);

struct SessionTableOptions {
  // client id -> credential. Clients not listed are refused.
  std::map<int64_t, std::string> client_tokens;
  // Clients whose credential is withdrawn.
  std::set<int64_t> revoked_clients;
  absl::Duration idle_timeout = absl::Minutes(10);
};

class SessionTable {
 public:
  explicit SessionTable(SessionTableOptions options);

  // OK when `token` is `client`'s credential. UNAUTHENTICATED with one message whether the id
  // or the token is wrong (a stranger learns nothing about which ids exist); PERMISSION_DENIED
  // for a revoked client, told only to the holder of its right token.
  absl::Status Authenticate(int64_t client, absl::string_view token) const;

  struct Opened {
    std::string session;
    // The client had a live session, now gone.
    bool replaced = false;
  };
  // A new session for an authenticated `client`, replacing any it had.
  Opened Open(int64_t client, absl::Time now);
  // The client of a live session, marking it used at `now`; UNAUTHENTICATED when the session is
  // unknown, replaced or expired.
  absl::StatusOr<int64_t> Resolve(absl::string_view session, absl::Time now);
  // Forgets the sessions idle for longer than the timeout; returns their clients.
  std::vector<int64_t> ExpireIdle(absl::Time now);
  int64_t live_sessions() const { return static_cast<int64_t>(by_session_.size()); }
  bool IsRegistered(int64_t client) const { return options_.client_tokens.count(client) > 0; }
  const std::map<int64_t, std::string>& client_tokens() const { return options_.client_tokens; }

 private:
  struct Session {
    int64_t client = 0;
    absl::Time last_used;
  };
  const SessionTableOptions options_;
  absl::flat_hash_map<std::string, Session> by_session_;
  absl::flat_hash_map<int64_t, std::string> by_client_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_SESSION_TABLE_H_
