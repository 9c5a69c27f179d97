// Tailor's PFLlib-compatible partition against NumPy itself (Debian's python3-numpy, installed
// by deploy/install-deps.sh): the same clients, index for index.
#include "data/pfllib_partition.h"

#include <cstdio>
#include <sstream>

#include "core/random.h"
#include "data/image_dataset.h"
#include "data/numpy_legacy_random.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

std::vector<ClientSplit> NumpyReference(const std::vector<uint8_t>& labels, int clients,
                                        double alpha, int least, uint32_t seed) {
  const std::string dir = testing::MakeTempDir("pfllib");
  const std::string path = dir + "/labels.u8";
  EXPECT_OK(Env::Default()->WriteFileAtomically(
      path, std::string(labels.begin(), labels.end())));
  const std::string cmd = absl::StrCat("/usr/bin/python3 tests/data/pfllib_reference.py ", path,
                                       " ", clients, " ", alpha, " ", least, " 0.75 ", seed);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buf[1 << 16];
  size_t got;
  while (pipe && (got = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, got);
  const int rc = pipe ? ::pclose(pipe) : -1;
  EXPECT_EQ(rc, 0) << "reference script failed (python3-numpy missing? run "
                      "deploy/install-deps.sh): "
                   << cmd;
  std::vector<ClientSplit> splits;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "train") splits.emplace_back();
    std::vector<uint32_t>& dst = kind == "train" ? splits.back().train : splits.back().test;
    uint32_t v;
    while (words >> v) dst.push_back(v);
  }
  return splits;
}

void ExpectSame(const std::vector<ClientSplit>& ours, const std::vector<ClientSplit>& numpy) {
  ASSERT_EQ(ours.size(), numpy.size());
  for (size_t c = 0; c < ours.size(); ++c) {
    EXPECT_EQ(ours[c].train, numpy[c].train) << "client " << c << " train differs";
    EXPECT_EQ(ours[c].test, numpy[c].test) << "client " << c << " test differs";
  }
}

std::vector<uint8_t> RandomLabels(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> labels(n);
  for (auto& l : labels) l = static_cast<uint8_t>(rng.UniformInt(10));
  return labels;
}

TEST(NumpyLegacyRandom, FirstDrawsOfSeedZeroMatchNumpy) {
  // np.random.seed(0); np.random.randint(0, 2**32, dtype=np.uint64) is not comparable, but the
  // MT19937 stream is: np.random.RandomState(0).randint(2**32, size=3, dtype=np.uint32) gives
  // the raw 32-bit outputs 2357136044 2546248239 3071714933 (the reference MT19937 values).
  NumpyLegacyRandom rng(0);
  EXPECT_EQ(rng.NextU32(), 2357136044u);
  EXPECT_EQ(rng.NextU32(), 2546248239u);
  EXPECT_EQ(rng.NextU32(), 3071714933u);
}

TEST(NumpyPairwiseSum, EqualsPlainSumForSmallAndIsAccurate) {
  std::vector<double> a = {1e16, 1, -1e16, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  // A different association than left-to-right: the point is that it is numpy's.
  EXPECT_EQ(NumpyPairwiseSum(a.data(), 3), (0.0 + 1e16) + 1 + -1e16);
  std::vector<double> ones(1000, 0.1);
  EXPECT_NEAR(NumpyPairwiseSum(ones.data(), ones.size()), 100.0, 1e-12);
}

TEST(PfllibPartition, MatchesNumpyOnSyntheticLabels) {
  struct Case {
    size_t n;
    int clients;
    double alpha;
    int least;
    uint32_t seed;
  };
  for (const Case& c : {Case{3000, 20, 0.1, 40, 1}, Case{2000, 7, 0.5, 10, 3},
                        Case{1500, 5, 2.0, 1, 7}}) {
    const auto labels = RandomLabels(c.n, c.seed);
    PfllibDirichletOptions opts;
    opts.alpha = c.alpha;
    opts.least_samples = c.least;
    opts.numpy_seed = c.seed;
    auto ours = PfllibDirichletSplit(labels, 10, c.clients, opts);
    ASSERT_OK(ours);
    ExpectSame(*ours, NumpyReference(labels, c.clients, c.alpha, c.least, c.seed));
  }
}

TEST(PfllibPartition, MatchesNumpyOnFashionMnistReferenceSetup) {
  auto ds = LoadFashionMnist("/usr/share/datasets/fashion-mnist", Env::Default());
  ASSERT_OK(ds) << "install dataset-fashion-mnist (deploy/install-deps.sh)";
  PfllibDirichletOptions opts;  // alpha 0.1, least 40, 75/25, np.random.seed(1)
  auto ours = PfllibDirichletSplit(ds->labels, 10, 20, opts);
  ASSERT_OK(ours);
  ExpectSame(*ours, NumpyReference(ds->labels, 20, 0.1, 40, 1));
  size_t total = 0;
  for (const auto& c : *ours) total += c.train.size() + c.test.size();
  EXPECT_EQ(total, 70000u);
}

}  // namespace
}  // namespace tailor
