// Token buckets that slow whoever makes too many requests with RESOURCE_EXHAUSTED, without
// touching anyone else. Time is injected so tests move it without sleeping.
//
//  - RateLimiter: one bucket per authenticated client id. Only a caller holding the client's
//    credential or session can spend it, so no stranger can drain a client's budget, and its
//    memory is bounded by the registered clients.
//  - PeerRateLimiter: one bucket per peer host for callers that are not (yet) authenticated,
//    charged on their failures, in bounded memory whatever addresses they come from.
//
// Thread-compatible: the caller serializes calls (the gRPC service holds its lock).
#ifndef TAILOR_SERVER_RATE_LIMITER_H_
#define TAILOR_SERVER_RATE_LIMITER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tailor {

// `per_second` tokens sustained, at most `burst` held.
struct TokenBucket {
  double tokens = 0;
  absl::Time updated;
  // Refills to `now`; then true (and one token spent) when one is left.
  bool Take(absl::Time now, double per_second, double burst);
  // Refills to `now` without spending; true when a token is left.
  bool Has(absl::Time now, double per_second, double burst);
};

class RateLimiter {
 public:
  // `per_second` requests sustained, bursts of up to `burst`. per_second <= 0 disables limiting.
  RateLimiter(double per_second, double burst, std::function<absl::Time()> now);

  // True (and one token spent) when `key` may make a request now.
  bool Allow(int64_t key);

 private:
  const double per_second_;
  const double burst_;
  std::function<absl::Time()> now_;
  absl::flat_hash_map<int64_t, TokenBucket> buckets_;
};

// The host of a gRPC peer string, without the port: "ipv4:10.1.2.3:5123" -> "ipv4:10.1.2.3",
// "ipv6:[2001:db8::1]:443" -> "ipv6:[2001:db8::1]". A caller cannot get a fresh budget by
// opening a new connection.
std::string PeerHost(absl::string_view peer);

class PeerRateLimiter {
 public:
  // At most `max_peers` hosts are remembered. Past that, hosts whose bucket is full again (they
  // owe nothing) are forgotten; if none is, new hosts share one overflow bucket, so a flood from
  // many addresses costs bounded memory and is slowed as one.
  PeerRateLimiter(double per_second, double burst, size_t max_peers,
                  std::function<absl::Time()> now);

  // Whether `host` may try now (no token is spent).
  bool MayTry(absl::string_view host);
  // Charges one failure to `host`.
  void Fail(absl::string_view host);
  size_t tracked() const { return buckets_.size(); }

 private:
  TokenBucket* BucketOf(absl::string_view host, absl::Time now);

  const double per_second_;
  const double burst_;
  const size_t max_peers_;
  std::function<absl::Time()> now_;
  absl::flat_hash_map<std::string, TokenBucket> buckets_;
  TokenBucket overflow_;
  absl::Time last_scan_ = absl::InfinitePast();
};

}  // namespace tailor

#endif  // TAILOR_SERVER_RATE_LIMITER_H_
