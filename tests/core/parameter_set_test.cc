#include "core/parameter_set.h"

#include "core/parameter_math.h"
#include "core/personalization_policy.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

TEST(GlobMatch, Patterns) {
  EXPECT_TRUE(GlobMatch("fc2.*", "fc2.weight"));
  EXPECT_TRUE(GlobMatch("fc2.*", "fc2."));
  EXPECT_FALSE(GlobMatch("fc2.*", "fc1.weight"));
  EXPECT_FALSE(GlobMatch("fc2.*", "xfc2.weight"));
  EXPECT_TRUE(GlobMatch("*.lora_A", "layers.3.attn.lora_A"));
  EXPECT_FALSE(GlobMatch("*.lora_A", "layers.3.attn.lora_A.x"));
  EXPECT_TRUE(GlobMatch("*norm*", "layers.0.norm1.weight"));
  EXPECT_TRUE(GlobMatch("conv?.bias", "conv1.bias"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(ParameterSet, RejectsDuplicateAndEmptyNames) {
  ParameterSet s;
  EXPECT_OK(s.Add("a", Tensor(DType::kFloat32, {1})));
  EXPECT_STATUS(s.Add("a", Tensor(DType::kFloat32, {1})), absl::StatusCode::kAlreadyExists, "'a'");
  EXPECT_STATUS(s.Add("", Tensor(DType::kFloat32, {1})), absl::StatusCode::kInvalidArgument,
                "empty");
}

TEST(PersonalizationPolicy, SplitIsDisjointCompleteAndOrdered) {
  ParameterSet full = RandomSet(
      {{"conv1.weight", {2}}, {"conv1.bias", {2}}, {"fc2.weight", {3}}, {"fc2.bias", {1}}}, 3);
  PersonalizationPolicy policy({"fc2.*"});
  ParameterSet shared = policy.Shared(full);
  ParameterSet personal = policy.Personal(full);
  EXPECT_EQ(shared.names(), (std::vector<std::string>{"conv1.weight", "conv1.bias"}));
  EXPECT_EQ(personal.names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  for (const auto& n : shared.names()) EXPECT_FALSE(policy.IsPersonal(n));
  auto merged = MergeInOrder(shared, personal, full.names());
  ASSERT_OK(merged);
  EXPECT_TRUE(*merged == full);
}

TEST(PersonalizationPolicy, AllPersonalSharesNothing) {
  ParameterSet full = RandomSet({{"a", {2}}, {"b", {2}}}, 3);
  EXPECT_TRUE(PersonalizationPolicy::AllPersonal().Shared(full).empty());
  EXPECT_EQ(PersonalizationPolicy().Shared(full).size(), 2u);
}

TEST(ParameterMath, DifferenceAndAddScaledInvert) {
  ParameterSet a = RandomSet({{"w", {5}}, {"b", {2}}}, 1);
  ParameterSet b = RandomSet({{"w", {5}}, {"b", {2}}}, 2);
  auto d = Difference(a, b);
  ASSERT_OK(d);
  ParameterSet c = b;
  ASSERT_OK(AddScaled(&c, *d, 1.0));
  for (size_t i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(c.Find("w")->f32()[i], a.Find("w")->f32()[i]);
  ParameterSet other = RandomSet({{"w", {4}}, {"b", {2}}}, 2);
  EXPECT_STATUS(Difference(a, other), absl::StatusCode::kInvalidArgument, "'w'");
}

TEST(ParameterMath, MergeRefusesOverlapAndGaps) {
  ParameterSet a = RandomSet({{"x", {1}}}, 1);
  EXPECT_STATUS(MergeInOrder(a, a, {"x"}), absl::StatusCode::kInvalidArgument, "both");
  EXPECT_STATUS(MergeInOrder(a, ParameterSet(), {"x", "y"}), absl::StatusCode::kInvalidArgument,
                "neither");
}

}  // namespace
}  // namespace tailor
