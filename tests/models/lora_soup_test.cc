// Personalized Soups' merge of LoRA experts (models/lora_soup.h): exact in the weight deltas.
#include "models/lora_soup.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

// A projection "p" (2 x 3 weight) with a rank-1 adapter, and a norm that no adapter touches.
ParameterSet Expert(std::vector<float> a, std::vector<float> b, float base = 1) {
  ParameterSet s;
  EXPECT_OK(s.Add("p.weight", Tensor::FromFloats({2, 3}, {base, base, base, base, base, base})));
  EXPECT_OK(s.Add("p.lora_A", Tensor::FromFloats({1, 3}, a)));
  EXPECT_OK(s.Add("p.lora_B", Tensor::FromFloats({2, 1}, b)));
  EXPECT_OK(s.Add("norm.weight", Tensor::FromFloats({3}, {7, 8, 9})));
  return s;
}

TEST(LoraSoup, AddsEachExpertsWeightedDeltaToTheBase) {
  const ParameterSet x = Expert({1, 2, 3}, {1, -1});   // delta [[1 2 3], [-1 -2 -3]]
  const ParameterSet y = Expert({0, 1, 0}, {2, 4});    // delta [[0 2 0], [0 4 0]]
  const std::vector<const ParameterSet*> experts = {&x, &y};
  absl::StatusOr<ParameterSet> soup = MergeLoraExperts(experts, {0.25, 0.75}, /*scale=*/2);
  ASSERT_OK(soup);
  // Adapters folded in and gone; everything else kept.
  EXPECT_EQ(soup->names(), (std::vector<std::string>{"p.weight", "norm.weight"}));
  const std::vector<float> want = {1 + 2 * 0.25f * 1, 1 + 2 * (0.25f * 2 + 0.75f * 2),
                                   1 + 2 * 0.25f * 3, 1 - 2 * 0.25f * 1,
                                   1 + 2 * (-0.25f * 2 + 0.75f * 4), 1 - 2 * 0.25f * 3};
  const auto got = soup->Find("p.weight")->f32();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << i;
  EXPECT_EQ(soup->Find("norm.weight")->f32()[2], 9);
  // All weight on one expert: exactly that expert's model (not the product of averaged A, B).
  absl::StatusOr<ParameterSet> only_y = MergeLoraExperts(experts, {0, 1}, 1);
  ASSERT_OK(only_y);
  EXPECT_FLOAT_EQ(only_y->Find("p.weight")->f32()[1], 1 + 2);
  EXPECT_FLOAT_EQ(only_y->Find("p.weight")->f32()[4], 1 + 4);
  EXPECT_FLOAT_EQ(only_y->Find("p.weight")->f32()[0], 1);
}

TEST(LoraSoup, RefusesWhatDoesNotMix) {
  const ParameterSet x = Expert({1, 2, 3}, {1, -1});
  const ParameterSet other_base = Expert({1, 2, 3}, {1, -1}, /*base=*/2);
  const std::vector<const ParameterSet*> two = {&x, &x};
  EXPECT_EQ(MergeLoraExperts(two, {1}, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MergeLoraExperts(two, {1, -0.5}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<const ParameterSet*> different = {&x, &other_base};
  absl::StatusOr<ParameterSet> s = MergeLoraExperts(different, {0.5, 0.5}, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("p.weight"), std::string::npos) << s.status();
  ParameterSet bad_shape;
  ASSERT_OK(bad_shape.Add("p.weight", Tensor::FromFloats({2, 3}, {1, 1, 1, 1, 1, 1})));
  ASSERT_OK(bad_shape.Add("p.lora_A", Tensor::FromFloats({1, 2}, {1, 1})));
  ASSERT_OK(bad_shape.Add("p.lora_B", Tensor::FromFloats({2, 1}, {1, 1})));
  const std::vector<const ParameterSet*> one = {&bad_shape};
  EXPECT_EQ(MergeLoraExperts(one, {1}, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tailor
