// The daemon's cache of the coordinator's base model: a copy is used only if it decodes to the
// address it is filed under; anything else is deleted and fetched again.
#include "client/base_model_cache.h"

#include "gtest/gtest.h"
#include "core/serialization.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

ParameterSet Base(uint64_t seed) {
  return testing::RandomSet({{"blocks.0.attn.q.weight", {8, 8}}, {"lm_head.weight", {4, 8}}},
                            seed);
}

TEST(BaseModelCacheTest, AStoredModelIsFoundByItsAddress) {
  const std::string dir = testing::MakeTempDir("base_cache") + "/models";
  BaseModelCache cache(dir, Env::Default());
  const ParameterSet base = Base(1);
  absl::StatusOr<std::string> sha = cache.Store(base);
  ASSERT_OK(sha);
  EXPECT_EQ(*sha, ContentAddressOf(SerializeParameterSet(base)));
  absl::StatusOr<std::optional<ParameterSet>> found = cache.Find(*sha);
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_TRUE(**found == base);
  // Another address: absent (the daemon fetches it).
  found = cache.Find(ContentAddressOf(SerializeParameterSet(Base(2))));
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
}

TEST(BaseModelCacheTest, ATornOrSwappedCopyIsDeletedAndReportedAbsent) {
  const std::string dir = testing::MakeTempDir("base_cache_damaged");
  BaseModelCache cache(dir, Env::Default());
  absl::StatusOr<std::string> sha = cache.Store(Base(1));
  ASSERT_OK(sha);
  // Torn: the file's first half.
  const std::string whole = *Env::Default()->ReadFile(cache.PathOf(*sha));
  ASSERT_OK(Env::Default()->WriteFileAtomically(cache.PathOf(*sha), whole.substr(0, whole.size() / 2)));
  absl::StatusOr<std::optional<ParameterSet>> found = cache.Find(*sha);
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_FALSE(Env::Default()->FileExists(cache.PathOf(*sha)));
  // Swapped: a valid model filed under another model's address.
  ASSERT_OK(Env::Default()->WriteFileAtomically(cache.PathOf(*sha), SerializeParameterSet(Base(3))));
  found = cache.Find(*sha);
  ASSERT_OK(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_FALSE(Env::Default()->FileExists(cache.PathOf(*sha)));
}

// A coordinator's base model that is not this client's model (other shapes, a missing or an
// extra tensor) is refused naming what differs, before any task runs on it.
TEST(BaseModelCacheTest, ABaseModelOfAnotherModelIsRefused) {
  const ParameterSet own = Base(1);
  ASSERT_OK(CheckBaseModelMatches(own, Base(2)));  // other values, same model
  const ParameterSet wider = testing::RandomSet(
      {{"blocks.0.attn.q.weight", {8, 16}}, {"lm_head.weight", {4, 8}}}, 1);
  EXPECT_STATUS(CheckBaseModelMatches(own, wider), absl::StatusCode::kFailedPrecondition,
                "'blocks.0.attn.q.weight' as");
  const ParameterSet fewer = testing::RandomSet({{"lm_head.weight", {4, 8}}}, 1);
  EXPECT_STATUS(CheckBaseModelMatches(own, fewer), absl::StatusCode::kFailedPrecondition,
                "as nothing");
  const ParameterSet more = testing::RandomSet(
      {{"blocks.0.attn.q.weight", {8, 8}}, {"lm_head.weight", {4, 8}}, {"extra", {2}}}, 1);
  EXPECT_STATUS(CheckBaseModelMatches(own, more), absl::StatusCode::kFailedPrecondition,
                "3 parameters");
}

TEST(BaseModelCacheTest, AnAddressThatIsNotHexIsRefused) {
  BaseModelCache cache(testing::MakeTempDir("base_cache_names"), Env::Default());
  absl::StatusOr<std::optional<ParameterSet>> found = cache.Find("../../etc/passwd");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(found.status().message().find("not a model address"), std::string::npos);
  EXPECT_EQ(cache.Find("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tailor
