#include <cmath>
#include <set>

#include "core/env.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "absl/synchronization/blocking_counter.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(Rng, SameSeedSameSequenceDifferentSeedDifferent) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    EXPECT_NE(x, c.NextU64());
  }
  EXPECT_NE(DeriveSeed(1, {2, 3}), DeriveSeed(1, {3, 2}));
  EXPECT_EQ(DeriveSeed(1, {2, 3}), DeriveSeed(1, {2, 3}));
}

TEST(Rng, UniformIntIsInRangeAndCoversIt) {
  Rng rng(5);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[rng.UniformInt(7)];
  for (int n : counts) EXPECT_NEAR(n, 10000, 500);  // > 5 sigma
}

TEST(Rng, NormalAndGammaMoments) {
  Rng rng(9);
  const int n = 200000;
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.Normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.015);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
  for (double shape : {0.1, 0.5, 1.0, 3.0}) {
    double gsum = 0;
    for (int i = 0; i < n; ++i) gsum += rng.Gamma(shape);
    // Var(Gamma(k)) = k, so the mean's std is sqrt(k/n); allow 6 sigma.
    EXPECT_NEAR(gsum / n, shape, 6 * std::sqrt(shape / n)) << shape;
  }
}

TEST(Rng, DirichletSumsToOne) {
  Rng rng(3);
  for (double alpha : {0.01, 0.1, 1.0}) {
    auto p = rng.SymmetricDirichlet(alpha, 20);
    double sum = 0;
    for (double x : p) {
      EXPECT_GE(x, 0);
      sum += x;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(Env, AtomicWriteReplacesWholeFile) {
  Env* env = Env::Default();
  const std::string dir = testing::MakeTempDir("env");
  const std::string path = dir + "/f";
  ASSERT_OK(env->WriteFileAtomically(path, "first"));
  ASSERT_OK(env->WriteFileAtomically(path, "second"));
  EXPECT_EQ(*env->ReadFile(path), "second");
  ASSERT_OK(env->AppendToFile(path, "+"));
  EXPECT_EQ(*env->ReadFile(path), "second+");
  EXPECT_STATUS(env->ReadFile(dir + "/missing"), absl::StatusCode::kNotFound, "missing");
  ASSERT_OK(env->CreateDirs(dir + "/a/b/c"));
  EXPECT_TRUE(env->FileExists(dir + "/a/b/c"));
}

TEST(ThreadPool, RunsEveryTaskOnValidWorkers) {
  ThreadPool pool(3);
  absl::BlockingCounter done(100);
  std::atomic<int> sum{0};
  for (int i = 0; i < 100; ++i) {
    pool.Schedule([&, i](int worker) {
      EXPECT_GE(worker, 0);
      EXPECT_LT(worker, 3);
      sum += i;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(sum.load(), 4950);
}

}  // namespace
}  // namespace tailor
