// Local-training throughput of Tailor's LibTorch trainer on the reference CNN (Google
// Benchmark). items_per_second = training samples per second. Compare with
// bench/pytorch_trainer_baseline.py through bench/compare_trainer.sh.
#include <benchmark/benchmark.h>

#include <numeric>

#include "client/local_trainer.h"
#include "core/malloc_tuning.h"
#include "core/random.h"
#include "data/image_dataset.h"
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
