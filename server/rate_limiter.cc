#include "server/rate_limiter.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace tailor {

bool TokenBucket::Has(absl::Time now, double per_second, double burst) {
  if (now > updated) {
    tokens = std::min(burst, tokens + absl::ToDoubleSeconds(now - updated) * per_second);
    updated = now;
  }
  return tokens >= 1;
}

bool TokenBucket::Take(absl::Time now, double per_second, double burst) {
  if (!Has(now, per_second, burst)) return false;
  tokens -= 1;
  return true;
}

RateLimiter::RateLimiter(double per_second, double burst, std::function<absl::Time()> now)
    : per_second_(per_second), burst_(std::max(1.0, burst)), now_(std::move(now)) {}

bool RateLimiter::Allow(int64_t key) {
  if (per_second_ <= 0) return true;
  const absl::Time now = now_();
  auto [it, inserted] = buckets_.try_emplace(key, TokenBucket{burst_, now});
  return it->second.Take(now, per_second_, burst_);
}

std::string PeerHost(absl::string_view peer) {
  // gRPC writes "ipv4:A.B.C.D:PORT", "ipv6:[ADDR]:PORT" or "unix:PATH".
  if (absl::StartsWith(peer, "ipv6:[")) {
    const size_t close = peer.find(']');
    if (close != absl::string_view::npos) return std::string(peer.substr(0, close + 1));
  }
  if (absl::StartsWith(peer, "ipv4:")) {
    const size_t colon = peer.rfind(':');
    if (colon > 4) return std::string(peer.substr(0, colon));
  }
  return std::string(peer);
}

PeerRateLimiter::PeerRateLimiter(double per_second, double burst, size_t max_peers,
                                 std::function<absl::Time()> now)
    : per_second_(per_second),
      burst_(std::max(1.0, burst)),
      max_peers_(std::max<size_t>(1, max_peers)),
      now_(std::move(now)),
      overflow_{burst_, absl::InfinitePast()} {}

TokenBucket* PeerRateLimiter::BucketOf(absl::string_view host, absl::Time now) {
  auto it = buckets_.find(host);
  if (it != buckets_.end()) return &it->second;
  if (buckets_.size() >= max_peers_ && now - last_scan_ >= absl::Seconds(1)) {
    // Forget the hosts that owe nothing (their bucket is full again). At most once a second, so
    // a table full of debtors does not cost a scan per request.
    last_scan_ = now;
    for (auto j = buckets_.begin(); j != buckets_.end();) {
      auto here = j++;
      if (here->second.Has(now, per_second_, burst_) && here->second.tokens >= burst_) {
        buckets_.erase(here);
      }
    }
  }
  if (buckets_.size() >= max_peers_) return &overflow_;
  return &buckets_.try_emplace(std::string(host), TokenBucket{burst_, now}).first->second;
}

bool PeerRateLimiter::MayTry(absl::string_view host) {
  if (per_second_ <= 0) return true;
  const absl::Time now = now_();
  auto it = buckets_.find(host);
  TokenBucket* bucket = it != buckets_.end()            ? &it->second
                        : buckets_.size() >= max_peers_ ? &overflow_
                                                        : nullptr;
  return bucket == nullptr || bucket->Has(now, per_second_, burst_);
}

void PeerRateLimiter::Fail(absl::string_view host) {
  if (per_second_ <= 0) return;
  const absl::Time now = now_();
  BucketOf(host, now)->Take(now, per_second_, burst_);
}

}  // namespace tailor
