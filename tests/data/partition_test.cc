#include "data/partition.h"

#include <algorithm>
#include <set>

#include "tests/test_util.h"

namespace tailor {
namespace {

// 10 classes x 700 samples, class-sorted like a real label file would not be; order irrelevant.
std::vector<uint8_t> Labels(int per_class = 700) {
  std::vector<uint8_t> labels;
  for (int i = 0; i < per_class; ++i) {
    for (int k = 0; k < 10; ++k) labels.push_back(static_cast<uint8_t>(k));
  }
  return labels;
}

void ExpectExactCover(const Partition& p, size_t n) {
  std::vector<uint32_t> all;
  for (const auto& c : p) all.insert(all.end(), c.begin(), c.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(all[i], i) << "sample missing or duplicated";
}

TEST(PartitionIid, EqualSizesExactCoverDeterministic) {
  auto p = PartitionIid(1003, 10, 1);
  ASSERT_OK(p);
  ExpectExactCover(*p, 1003);
  for (const auto& c : *p) EXPECT_TRUE(c.size() == 100 || c.size() == 101);
  EXPECT_EQ(*p, *PartitionIid(1003, 10, 1));
  EXPECT_NE(*p, *PartitionIid(1003, 10, 2));
  EXPECT_STATUS(PartitionIid(3, 10, 1), absl::StatusCode::kFailedPrecondition, "10 clients");
  EXPECT_STATUS(PartitionIid(3, 0, 1), absl::StatusCode::kInvalidArgument, "num_clients");
}

TEST(PartitionDirichlet, MinimumSizeCoverAndSkew) {
  const auto labels = Labels();
  DirichletOptions opts;
  opts.alpha = 0.1;
  opts.min_samples_per_client = 40;
  auto p = PartitionDirichlet(labels, 10, 20, opts, 7);
  ASSERT_OK(p);
  ExpectExactCover(*p, labels.size());
  double mean_classes = 0;
  for (const auto& c : *p) {
    EXPECT_GE(c.size(), 40u);
    std::vector<int> hist(10, 0);
    for (uint32_t i : c) ++hist[labels[i]];
    // Skew: with alpha = 0.1 a client's largest class dominates.
    const int top = *std::max_element(hist.begin(), hist.end());
    mean_classes += static_cast<double>(top) / c.size();
  }
  mean_classes /= 20;
  EXPECT_GT(mean_classes, 0.5) << "alpha=0.1 should give clients a dominant class";
  // Same seed, same partition; a different seed, a different one.
  EXPECT_EQ(*p, *PartitionDirichlet(labels, 10, 20, opts, 7));
  EXPECT_NE(*p, *PartitionDirichlet(labels, 10, 20, opts, 8));
}

TEST(PartitionDirichlet, LargeAlphaIsNearlyUniform) {
  const auto labels = Labels();
  DirichletOptions opts;
  opts.alpha = 1000;
  auto p = PartitionDirichlet(labels, 10, 10, opts, 1);
  ASSERT_OK(p);
  for (const auto& c : *p) {
    std::vector<int> hist(10, 0);
    for (uint32_t i : c) ++hist[labels[i]];
    for (int h : hist) EXPECT_NEAR(h, 70, 20);
  }
}

TEST(PartitionDirichletPerClient, EqualSharesForAPopulationLargerThanAClassCanFeed) {
  const auto labels = Labels();  // 7,000 samples
  auto p = PartitionDirichletPerClient(labels, 10, 1000, 0.1, 3);
  ASSERT_OK(p);
  ExpectExactCover(*p, labels.size());
  double dominant = 0;
  for (const auto& c : *p) {
    ASSERT_EQ(c.size(), 7u);
    std::vector<int> hist(10, 0);
    for (uint32_t i : c) ++hist[labels[i]];
    dominant += *std::max_element(hist.begin(), hist.end()) / 7.0;
  }
  EXPECT_GT(dominant / 1000, 0.6) << "alpha=0.1 should give clients a dominant class";
  EXPECT_EQ(*p, *PartitionDirichletPerClient(labels, 10, 1000, 0.1, 3));
  EXPECT_NE(*p, *PartitionDirichletPerClient(labels, 10, 1000, 0.1, 4));
  // A large alpha mixes classes evenly, except for the last clients, who take what the
  // others' draws left (negligible in large populations; visible with 10 clients).
  auto uniform = PartitionDirichletPerClient(labels, 10, 10, 1000, 1);
  ASSERT_OK(uniform);
  for (size_t c = 0; c < 7; ++c) {
    std::vector<int> hist(10, 0);
    for (uint32_t i : (*uniform)[c]) ++hist[labels[i]];
    for (int h : hist) EXPECT_NEAR(h, 70, 25) << "client " << c;
  }
  EXPECT_STATUS(PartitionDirichletPerClient(labels, 10, 8000, 0.5, 1),
                absl::StatusCode::kFailedPrecondition, "8000 clients");
  EXPECT_STATUS(PartitionDirichletPerClient(labels, 10, 10, 0, 1),
                absl::StatusCode::kInvalidArgument, "alpha");
}

TEST(PartitionDirichlet, ImpossibleMinimumFailsClearly) {
  DirichletOptions opts;
  opts.min_samples_per_client = 1000;
  EXPECT_STATUS(PartitionDirichlet(Labels(), 10, 20, opts, 1),
                absl::StatusCode::kFailedPrecondition, "exceeds");
  opts.min_samples_per_client = 340;
  opts.max_attempts = 3;
  opts.alpha = 0.01;
  EXPECT_STATUS(PartitionDirichlet(Labels(), 10, 20, opts, 1),
                absl::StatusCode::kFailedPrecondition, "3 attempts");
  std::vector<uint8_t> bad = {0, 1, 12};
  EXPECT_STATUS(PartitionDirichlet(bad, 10, 1, DirichletOptions{0.1, 0, true, 1}, 1),
                absl::StatusCode::kInvalidArgument, "label 12");
}

TEST(PartitionShards, EachClientHasAtMostKClasses) {
  const auto labels = Labels();
  auto p = PartitionShards(labels, 10, 20, 2, 3);
  ASSERT_OK(p);
  ExpectExactCover(*p, labels.size());
  for (const auto& c : *p) {
    std::set<int> classes;
    for (uint32_t i : c) classes.insert(labels[i]);
    EXPECT_EQ(classes.size(), 2u);
  }
  EXPECT_STATUS(PartitionShards(labels, 10, 20, 11, 3), absl::StatusCode::kInvalidArgument,
                "classes_per_client");
}

TEST(SplitTrainTest, SklearnRoundingAndDisjoint) {
  Partition p = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12}, {13}};
  auto s = SplitTrainTest(p, 0.75, 1);
  EXPECT_EQ(s[0].train.size(), 7u);  // test = ceil(2.5) = 3
  EXPECT_EQ(s[0].test.size(), 3u);
  EXPECT_EQ(s[1].train.size(), 2u);  // test = ceil(0.75) = 1
  EXPECT_EQ(s[2].train.size(), 0u);  // test = ceil(0.25) = 1
  for (const auto& c : s) {
    std::set<uint32_t> tr(c.train.begin(), c.train.end());
    for (uint32_t i : c.test) EXPECT_FALSE(tr.count(i));
  }
  Partition big = {std::vector<uint32_t>(100)};
  auto sb = SplitTrainTest(big, 0.75, 1);
  EXPECT_EQ(sb[0].test.size(), 25u);
}

}  // namespace
}  // namespace tailor
