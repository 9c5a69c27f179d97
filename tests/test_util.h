// Helpers shared by Tailor's tests.
#ifndef TAILOR_TESTS_TEST_UTIL_H_
#define TAILOR_TESTS_TEST_UTIL_H_

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/parameter_set.h"
#include "core/random.h"
#include "gtest/gtest.h"

namespace tailor::testing {

// A float32 set with the given names and shapes, values drawn from N(0, scale²) with `seed`.
inline ParameterSet RandomSet(const std::vector<std::pair<std::string, std::vector<int64_t>>>& spec,
                              uint64_t seed, double scale = 1.0) {
  ParameterSet set;
  Rng rng(seed);
  for (const auto& [name, shape] : spec) {
    Tensor t(DType::kFloat32, shape);
    for (float& v : t.f32()) v = static_cast<float>(rng.Normal() * scale);
    EXPECT_TRUE(set.Add(name, std::move(t)).ok());
  }
  return set;
}

// A fresh empty directory under the test's temp dir.
inline std::string MakeTempDir(const std::string& tag) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/tailor-", tag, "-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = ::mkdtemp(buf.data());
  EXPECT_NE(dir, nullptr);
  return dir ? std::string(dir) : std::string();
}

}  // namespace tailor::testing

// EXPECT that a Status/StatusOr failed with `code` and its message contains `substr`.
#define EXPECT_STATUS(expr, want_code, substr)                                       \
  do {                                                                          \
    const ::absl::Status tailor_s_ = ::tailor::testing::ToStatus(expr);          \
    EXPECT_EQ(tailor_s_.code(), want_code) << tailor_s_;                             \
    EXPECT_NE(std::string(tailor_s_.message()).find(substr), std::string::npos) \
        << "message: " << tailor_s_.message();                                  \
  } while (0)

#define ASSERT_OK(expr) ASSERT_TRUE(::tailor::testing::ToStatus(expr).ok()) << ::tailor::testing::ToStatus(expr)
#define EXPECT_OK(expr) EXPECT_TRUE(::tailor::testing::ToStatus(expr).ok()) << ::tailor::testing::ToStatus(expr)

namespace tailor::testing {
inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace tailor::testing

#endif  // TAILOR_TESTS_TEST_UTIL_H_
