// Recycling of large buffers (tensor payloads of 1 MiB and more), by exact size.
//
// Why: a coordinator decodes every upload into fresh tensors, and a client snapshots and
// decodes the model every round. With the allocator's heap shared by gRPC's many small blocks,
// a freed 40 MB block is soon split by small allocations, the next 40 MB request extends the
// heap, and every byte is page-faulted in again (on this project's VMs a fault costs more than
// the copy it precedes: ~25% of a transport-only round was clear_page and fault handling).
// Large buffers are therefore mapped separately (mmap) and kept for reuse by size, up to a cap.
// Thread-safe.
#ifndef TAILOR_CORE_BUFFER_POOL_H_
#define TAILOR_CORE_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace tailor {

// Buffers at least this large go through the pool.
constexpr size_t kLargeBufferBytes = size_t{1} << 20;

// A buffer of `bytes` (>= kLargeBufferBytes), page-aligned, contents unspecified. Aborts when
// the system is out of memory, as operator new would throw.
void* AllocateLargeBuffer(size_t bytes);
// Returns a buffer from AllocateLargeBuffer(bytes) with the same `bytes`.
void FreeLargeBuffer(void* buffer, size_t bytes);

struct LargeBufferStats {
  int64_t allocations = 0;  // AllocateLargeBuffer calls
  int64_t reused = 0;       // of which served from the pool
  size_t cached_bytes = 0;  // held for reuse now
};
LargeBufferStats GetLargeBufferStats();

// A std::allocator for vectors of large numeric buffers (tensor payloads, accumulators): blocks
// of kLargeBufferBytes and more come from the pool, smaller ones from std::allocator. It also
// turns value-initialization (what zero-fills a resized vector) into default-initialization, so
// a buffer about to be overwritten is not filled first; assign(n, 0) still zero-fills.
template <typename T>
struct LargeBufferAllocator : std::allocator<T> {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = LargeBufferAllocator<U>;
  };
  LargeBufferAllocator() = default;
  template <typename U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kLargeBufferBytes) return static_cast<T*>(AllocateLargeBuffer(bytes));
    return std::allocator<T>::allocate(n);
  }
  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kLargeBufferBytes) {
      FreeLargeBuffer(p, bytes);
      return;
    }
    std::allocator<T>::deallocate(p, n);
  }
  template <typename U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

}  // namespace tailor

#endif  // TAILOR_CORE_BUFFER_POOL_H_
