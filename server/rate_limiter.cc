#include "server/rate_limiter.h"

#include <algorithm>

namespace tailor {

RateLimiter::RateLimiter(double per_second, double burst, std::function<absl::Time()> now)
    : per_second_(per_second), burst_(std::max(1.0, burst)), now_(std::move(now)) {}

bool RateLimiter::Allow(int64_t key) {
  if (per_second_ <= 0) return true;
  const absl::Time now = now_();
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + absl::ToDoubleSeconds(now - b.updated) * per_second_);
  b.updated = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace tailor
