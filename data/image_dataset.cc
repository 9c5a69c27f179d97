#include "data/image_dataset.h"

#include <zlib.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {

void ImageDataset::Truncate(size_t n) {
  if (n >= size()) return;
  labels.resize(n);
  pixels.resize(n * sample_bytes());
}

absl::StatusOr<std::string> Gunzip(absl::string_view compressed, absl::string_view what) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended before the stream did
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    return absl::DataLossError(absl::StrCat(what, ": gzip stream is corrupted or truncated (zlib ",
                                            rc == Z_BUF_ERROR ? "ran out of input" : "error", ")"));
  }
  return out;
}

absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view what) {
  if (bytes.size() < 4) {
    return absl::DataLossError(absl::StrCat(what, ": IDX header truncated (", bytes.size(),
                                            " bytes)"));
  }
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": not an unsigned-byte IDX file (magic ", static_cast<int>(b[0]), ",",
        static_cast<int>(b[1]), ",", static_cast<int>(b[2]), ")"));
  }
  const int rank = b[3];
  if (rank < 1 || rank > 4) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": IDX rank ", rank, " is unsupported"));
  }
  if (bytes.size() < 4 + 4 * static_cast<size_t>(rank)) {
    return absl::DataLossError(absl::StrCat(what, ": IDX dimensions truncated"));
  }
  IdxArray out;
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t* d = b + 4 + 4 * i;
    int64_t dim = (int64_t{d[0]} << 24) | (d[1] << 16) | (d[2] << 8) | d[3];
    out.dims.push_back(dim);
    total *= dim;
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() - header != static_cast<size_t>(total)) {
    return absl::DataLossError(absl::StrCat(what, ": IDX payload has ", bytes.size() - header,
                                            " bytes, dimensions say ", total));
  }
  out.data.assign(bytes.data() + header, static_cast<size_t>(total));
  return out;
}

namespace {

absl::StatusOr<IdxArray> ReadIdxGz(const std::string& path, Env* env) {
  absl::StatusOr<std::string> gz = env->ReadFile(path);
  if (absl::IsNotFound(gz.status())) {
    return absl::NotFoundError(absl::StrCat(
        "Fashion-MNIST file '", path, "' not found. Install it with "
        "`apt-get install dataset-fashion-mnist` (or deploy/install-deps.sh), or set data.path"));
  }
  if (!gz.ok()) return gz.status();
  TAILOR_ASSIGN_OR_RETURN(std::string raw, Gunzip(*gz, path));
  return ParseIdx(raw, path);
}

absl::Status AppendSplit(const std::string& dir, const std::string& prefix, Env* env,
                         ImageDataset* ds) {
  const std::string img_path = absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte.gz");
  const std::string lbl_path = absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte.gz");
  TAILOR_ASSIGN_OR_RETURN(IdxArray images, ReadIdxGz(img_path, env));
  TAILOR_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxGz(lbl_path, env));
  if (images.dims.size() != 3 || images.dims[1] != 28 || images.dims[2] != 28) {
    return absl::InvalidArgumentError(
        absl::StrCat(img_path, ": expected N x 28 x 28 images"));
  }
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat(lbl_path, ": has ", labels.dims[0],
                                                   " labels for ", images.dims[0], " images"));
  }
  for (unsigned char l : labels.data) {
    if (l >= 10) {
      return absl::InvalidArgumentError(
          absl::StrCat(lbl_path, ": label ", static_cast<int>(l), " outside 0..9"));
    }
  }
  ds->pixels.insert(ds->pixels.end(), images.data.begin(), images.data.end());
  ds->labels.insert(ds->labels.end(), labels.data.begin(), labels.data.end());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImageDataset> LoadFashionMnist(const std::string& dir, Env* env) {
  ImageDataset ds;
  ds.rows = 28;
  ds.cols = 28;
  ds.channels = 1;
  ds.num_classes = 10;
  TAILOR_RETURN_IF_ERROR(AppendSplit(dir, "train", env, &ds));
  TAILOR_RETURN_IF_ERROR(AppendSplit(dir, "t10k", env, &ds));
  return ds;
}

}  // namespace tailor
