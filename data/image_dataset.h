// An in-memory labelled image dataset (uint8 pixels, uint8 labels), and the Fashion-MNIST
// loader for the IDX files of Debian's dataset-fashion-mnist package. No LibTorch here: the
// trainer converts batches to tensors.
#ifndef TAILOR_DATA_IMAGE_DATASET_H_
#define TAILOR_DATA_IMAGE_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/env.h"
#include "data/example_pool.h"

namespace tailor {

struct ImageDataset : public ExamplePool {
  TaskKind task() const override { return TaskKind::kImageClassification; }
  int rows = 0;
  int cols = 0;
  int channels = 1;
  int num_classes = 0;
  // size() * channels * rows * cols bytes, sample-major.
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;

  size_t size() const override { return labels.size(); }
  size_t sample_bytes() const { return static_cast<size_t>(channels) * rows * cols; }
  // Keeps the first n samples (no-op when n >= size()).
  void Truncate(size_t n);
};

// Decompresses a gzip stream. DATA_LOSS for a corrupted or truncated stream.
absl::StatusOr<std::string> Gunzip(absl::string_view compressed, absl::string_view what);

// A parsed IDX array (the MNIST family's format): magic 0x0000 08 <rank>, big-endian dims.
struct IdxArray {
  std::vector<int64_t> dims;
  std::string data;  // uint8 payload
};
// INVALID_ARGUMENT for a wrong magic/type, DATA_LOSS when the payload is shorter than the dims
// say. `what` names the file in messages.
absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view what);

// Loads train (60k) and t10k (10k) and merges them, train first: 70,000 samples.
// NOT_FOUND with an install hint when the files are missing.
absl::StatusOr<ImageDataset> LoadFashionMnist(const std::string& dir, Env* env);

}  // namespace tailor

#endif  // TAILOR_DATA_IMAGE_DATASET_H_
