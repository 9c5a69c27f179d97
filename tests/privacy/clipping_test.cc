// Clipping at, below and above the clip norm, and bad input.
#include "privacy/clipping.h"

#include <cmath>

#include "core/parameter_math.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

ParameterSet TwoTensors(float a, float b) {
  ParameterSet set;
  (void)set.Add("w", Tensor::FromFloats({2}, {a, 0}));
  (void)set.Add("b", Tensor::FromFloats({1}, {b}));
  return set;
}

TEST(ClipToNorm, BelowTheNormNothingChanges) {
  ParameterSet update = TwoTensors(0.3f, 0.4f);  // norm 0.5
  const ParameterSet before = update;
  auto norm = ClipToNorm(&update, 1.0);
  ASSERT_OK(norm);
  EXPECT_NEAR(*norm, 0.5, 1e-7);
  EXPECT_EQ(update, before);
}

TEST(ClipToNorm, AtTheNormNothingChanges) {
  ParameterSet update = TwoTensors(3, 4);  // norm exactly 5 in float and double
  const ParameterSet before = update;
  auto norm = ClipToNorm(&update, 5.0);
  ASSERT_OK(norm);
  EXPECT_EQ(*norm, 5.0);
  EXPECT_EQ(update, before);
}

TEST(ClipToNorm, AboveTheNormScalesToIt) {
  ParameterSet update = testing::RandomSet({{"conv", {32, 1, 5, 5}}, {"fc", {512, 100}}}, 11);
  const ParameterSet before = update;
  const double original = L2Norm(update);
  const double clip = original / 7;
  auto norm = ClipToNorm(&update, clip);
  ASSERT_OK(norm);
  EXPECT_DOUBLE_EQ(*norm, original);
  const double after = L2Norm(update);
  EXPECT_LE(after, clip);                // the bound holds exactly as computed
  EXPECT_GT(after, clip * (1 - 1e-6));   // and it is not over-clipped
  // Same direction: every value scaled by the same factor.
  const float* x = update.entry(1).tensor.f32().data();
  const float* y = before.entry(1).tensor.f32().data();
  for (int i = 0; i < 1000; ++i) {
    if (y[i] != 0) {
      EXPECT_NEAR(x[i] / y[i], 1.0 / 7, 1e-5) << i;
    }
  }
}

TEST(ClipToNorm, RefusesBadInputAndLeavesTheUpdateAlone) {
  ParameterSet update = TwoTensors(3, std::nanf(""));
  const ParameterSet before = update;
  EXPECT_STATUS(ClipToNorm(&update, 1.0).status(), absl::StatusCode::kInvalidArgument, "'b'");
  ParameterSet fine = TwoTensors(3, 4);
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(), std::nan("")}) {
    EXPECT_STATUS(ClipToNorm(&fine, bad).status(), absl::StatusCode::kInvalidArgument,
                  "clip norm");
  }
  ParameterSet ints;
  (void)ints.Add("steps", Tensor(DType::kInt64, {1}));
  EXPECT_STATUS(ClipToNorm(&ints, 1.0).status(), absl::StatusCode::kInvalidArgument, "'steps'");
}

}  // namespace
}  // namespace tailor
