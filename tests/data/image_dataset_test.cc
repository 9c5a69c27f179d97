#include "data/image_dataset.h"

#include <zlib.h>

#include "tests/test_util.h"

namespace tailor {
namespace {

std::string Gzip(const std::string& raw) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, raw.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = raw.size();
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = out.size();
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Idx(std::vector<uint32_t> dims, uint8_t fill) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  size_t total = 1;
  for (uint32_t d : dims) {
    s.push_back(static_cast<char>(d >> 24));
    s.push_back(static_cast<char>(d >> 16));
    s.push_back(static_cast<char>(d >> 8));
    s.push_back(static_cast<char>(d));
    total *= d;
  }
  s.append(total, static_cast<char>(fill));
  return s;
}

TEST(Idx, ParsesDimsAndPayload) {
  auto a = ParseIdx(Idx({3, 28, 28}, 7), "f");
  ASSERT_OK(a);
  EXPECT_EQ(a->dims, (std::vector<int64_t>{3, 28, 28}));
  EXPECT_EQ(a->data.size(), 3u * 784);
}

TEST(Idx, RejectsBadMagicTruncationAndBadRank) {
  std::string good = Idx({2, 2}, 1);
  std::string bad = good;
  bad[2] = 0x0D;  // float IDX
  EXPECT_STATUS(ParseIdx(bad, "f.idx"), absl::StatusCode::kInvalidArgument, "f.idx");
  EXPECT_STATUS(ParseIdx(good.substr(0, good.size() - 1), "f.idx"), absl::StatusCode::kDataLoss,
                "payload has 3 bytes, dimensions say 4");
  EXPECT_STATUS(ParseIdx(good.substr(0, 6), "f.idx"), absl::StatusCode::kDataLoss, "truncated");
  EXPECT_STATUS(ParseIdx("ab", "f.idx"), absl::StatusCode::kDataLoss, "truncated");
}

TEST(Gunzip, RoundTripAndCorruption) {
  const std::string raw = Idx({100, 28, 28}, 3);
  const std::string gz = Gzip(raw);
  EXPECT_EQ(*Gunzip(gz, "x"), raw);
  EXPECT_STATUS(Gunzip(gz.substr(0, gz.size() / 2), "x.gz"), absl::StatusCode::kDataLoss, "x.gz");
  std::string bad = gz;
  bad[20] ^= 0xff;
  EXPECT_FALSE(Gunzip(bad, "x.gz").ok());
}

TEST(FashionMnist, LoadsSyntheticFilesAndRejectsMismatches) {
  Env* env = Env::Default();
  const std::string dir = testing::MakeTempDir("fmnist");
  auto write = [&](const std::string& name, const std::string& raw) {
    ASSERT_OK(env->WriteFileAtomically(dir + "/" + name, Gzip(raw)));
  };
  write("train-images-idx3-ubyte.gz", Idx({5, 28, 28}, 1));
  write("train-labels-idx1-ubyte.gz", Idx({5}, 3));
  write("t10k-images-idx3-ubyte.gz", Idx({2, 28, 28}, 2));
  write("t10k-labels-idx1-ubyte.gz", Idx({2}, 9));
  auto ds = LoadFashionMnist(dir, env);
  ASSERT_OK(ds);
  EXPECT_EQ(ds->size(), 7u);
  EXPECT_EQ(ds->labels[6], 9);
  EXPECT_EQ(ds->pixels.size(), 7u * 784);

  write("t10k-labels-idx1-ubyte.gz", Idx({3}, 9));
  EXPECT_STATUS(LoadFashionMnist(dir, env), absl::StatusCode::kInvalidArgument,
                "3 labels for 2 images");
  write("t10k-labels-idx1-ubyte.gz", Idx({2}, 10));
  EXPECT_STATUS(LoadFashionMnist(dir, env), absl::StatusCode::kInvalidArgument, "label 10");
}

TEST(FashionMnist, MissingFilesSayHowToInstall) {
  EXPECT_STATUS(LoadFashionMnist("/nonexistent", Env::Default()), absl::StatusCode::kNotFound,
                "apt-get install dataset-fashion-mnist");
}

}  // namespace
}  // namespace tailor
