// RateLimiter: a token bucket per key (a client id), so one misbehaving client hammering the
// coordinator is slowed with RESOURCE_EXHAUSTED without touching the others. Time is injected
// so tests move it without sleeping.
//
// Thread-compatible: the caller serializes calls (the gRPC service holds its lock).
#ifndef TAILOR_SERVER_RATE_LIMITER_H_
#define TAILOR_SERVER_RATE_LIMITER_H_

#include <cstdint>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace tailor {

class RateLimiter {
 public:
  // `per_second` requests sustained, bursts of up to `burst`. per_second <= 0 disables limiting.
  RateLimiter(double per_second, double burst, std::function<absl::Time()> now);

  // True (and one token spent) when `key` may make a request now.
  bool Allow(int64_t key);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  const double per_second_;
  const double burst_;
  std::function<absl::Time()> now_;
  absl::flat_hash_map<int64_t, Bucket> buckets_;
};

}  // namespace tailor

#endif  // TAILOR_SERVER_RATE_LIMITER_H_
