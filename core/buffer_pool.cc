#include "core/buffer_pool.h"

#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace tailor {
namespace {

constexpr size_t kHugePageWorthyBytes = size_t{8} << 20;

// Freed buffers kept for reuse, at most this many bytes; beyond it they are unmapped.
constexpr size_t kMaxCachedBytes = size_t{1} << 30;

struct Pool {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_by_size;
  LargeBufferStats stats;
};

Pool& ThePool() {
  static Pool* pool = new Pool;  // never destroyed: buffers may be freed during exit
  return *pool;
}

}  // namespace

void* AllocateLargeBuffer(size_t bytes) {
  Pool& pool = ThePool();
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    ++pool.stats.allocations;
    auto it = pool.free_by_size.find(bytes);
    if (it != pool.free_by_size.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      pool.stats.cached_bytes -= bytes;
      ++pool.stats.reused;
      return p;
    }
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Model-sized buffers are streamed end to end: 2 MiB pages cut the TLB misses of walking
  // several of them at once (the aggregation fold) and the number of first-touch faults by
  // 512x. Debian's default THP mode is "madvise", so ask. Advice only: failure is harmless.
  if (bytes >= kHugePageWorthyBytes) (void)madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

void FreeLargeBuffer(void* buffer, size_t bytes) {
  Pool& pool = ThePool();
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (pool.stats.cached_bytes + bytes <= kMaxCachedBytes) {
      pool.free_by_size[bytes].push_back(buffer);
      pool.stats.cached_bytes += bytes;
      return;
    }
  }
  munmap(buffer, bytes);
}

LargeBufferStats GetLargeBufferStats() {
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  return pool.stats;
}

}  // namespace tailor
