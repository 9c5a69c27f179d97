// Local-training throughput of Tailor's LibTorch trainer (Google Benchmark): the reference CNN
// (items_per_second = training samples per second; bench/compare_trainer.sh compares it with
// bench/pytorch_trainer_baseline.py) and the byte transformer (items_per_second = trained
// tokens per second; bench/compare_lm_trainer.sh compares it with
// bench/pytorch_lm_baseline.py, the same model in a PyTorch loop).
#include <benchmark/benchmark.h>

#include <numeric>

#include "client/local_trainer.h"
#include "core/malloc_tuning.h"
#include "core/random.h"
#include "data/image_dataset.h"
#include "data/text_dataset.h"
#include "models/model_spec.h"

namespace tailor {
namespace {

ImageDataset RandomImages(int n) {
  ImageDataset ds;
  ds.rows = ds.cols = 28;
  ds.num_classes = 10;
  Rng rng(1);
  ds.pixels.resize(static_cast<size_t>(n) * 784);
  for (auto& p : ds.pixels) p = static_cast<uint8_t>(rng.UniformInt(256));
  for (int i = 0; i < n; ++i) ds.labels.push_back(static_cast<uint8_t>(rng.UniformInt(10)));
  return ds;
}

void BM_TrainEpoch(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  constexpr int kSamples = 2000;
  SetTorchThreads(1);
  ImageDataset ds = RandomImages(kSamples);
  std::vector<uint32_t> idx(kSamples);
  std::iota(idx.begin(), idx.end(), 0u);
  auto trainer = *LocalTrainer::Create("fmnist_cnn");
  (void)trainer->Load(InitialParameters(*GetModelSpec("fmnist_cnn"), 1));
  TrainOptions opts;
  opts.batch_size = batch;
  int64_t samples = 0;
  uint64_t seed = 0;
  for (auto _ : state) {
    auto stats = trainer->Train(ds, idx, opts, nullptr, ++seed);
    if (!stats.ok()) state.SkipWithError(std::string(stats.status().message()).c_str());
    samples += stats->samples;
  }
  state.SetItemsProcessed(samples);
}
BENCHMARK(BM_TrainEpoch)->Arg(10)->Arg(64)->Unit(benchmark::kMillisecond);

// The byte transformer (arg 0: tiny, 1: the default 3.35M one) on 256 texts of 255 random
// bytes (a full context window each with BOS: 256 scored tokens per text), batch 16, SGD.
void BM_TrainLmTokens(benchmark::State& state) {
  SetTorchThreads(1);
  const std::string architecture = state.range(0) == 0 ? "byte_transformer_tiny" : "byte_transformer";
  const ModelSpec spec = *GetModelSpec(architecture);
  const int length = spec.options.transformer.context - 1;
  TextDataset texts;
  Rng rng(1);
  for (int i = 0; i < 256; ++i) {
    std::string t(static_cast<size_t>(length), ' ');
    for (char& c : t) c = static_cast<char>(32 + rng.UniformInt(95));
    texts.texts.push_back(std::move(t));
  }
  std::vector<uint32_t> idx(texts.texts.size());
  std::iota(idx.begin(), idx.end(), 0u);
  auto trainer = *LocalTrainer::Create(spec);
  (void)trainer->Load(InitialParameters(spec, 1));
  TrainOptions opts;
  opts.batch_size = 16;
  opts.learning_rate = 0.05;
  int64_t tokens = 0;
  uint64_t seed = 0;
  for (auto _ : state) {
    auto stats = trainer->Train(texts, idx, opts, nullptr, ++seed);
    if (!stats.ok()) state.SkipWithError(std::string(stats.status().message()).c_str());
    tokens += stats->samples * (length + 1);
  }
  state.SetItemsProcessed(tokens);
}
BENCHMARK(BM_TrainLmTokens)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  // Same process setup as the tailor binary.
  tailor::TuneMallocForTraining();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
