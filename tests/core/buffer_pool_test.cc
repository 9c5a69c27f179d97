// Large buffers are recycled by size: a freed tensor payload is handed to the next tensor of the
// same size instead of being mapped (and page-faulted) again.
#include "core/buffer_pool.h"

#include <cstring>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace tailor {
namespace {

TEST(BufferPool, FreedLargeBuffersAreReusedBySizeAndSmallOnesBypassThePool) {
  const LargeBufferStats before = GetLargeBufferStats();
  const uint8_t* first_data = nullptr;
  {
    Tensor big = Tensor::Uninitialized(DType::kFloat32, {1 << 19});  // 2 MiB
    first_data = big.data();
    std::memset(big.data(), 7, big.byte_size());
  }
  Tensor again = Tensor::Uninitialized(DType::kFloat32, {1 << 19});
  EXPECT_EQ(again.data(), first_data) << "the freed buffer of the same size is reused";
  Tensor zeros(DType::kFloat32, {1 << 19});
  for (float v : zeros.f32()) ASSERT_EQ(v, 0.0f) << "the zero-filling constructor still zeroes";
  Tensor small(DType::kFloat32, {16});
  const LargeBufferStats after = GetLargeBufferStats();
  EXPECT_EQ(after.allocations - before.allocations, 3) << "only the three 2 MiB tensors";
  EXPECT_GE(after.reused - before.reused, 1);
  // A copy of a large tensor is a large allocation too, and equal.
  Tensor copy = zeros;
  EXPECT_TRUE(copy == zeros);
  EXPECT_NE(copy.data(), zeros.data());
}

}  // namespace
}  // namespace tailor
