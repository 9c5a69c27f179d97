// Costs of the privacy machinery (Google Benchmark):
//   - one epsilon from the RDP accountant (every default order; the issue asks < 1 ms),
//   - one round's RDP curve (what the coordinator composes per round),
//   - the PLD accountant's epsilon at typical federated settings (seconds at most),
//   - one exact discrete Gaussian sample and the noise of a whole DP round, against the copy of
//     the same number of floats as the in-run baseline (the ratio is what to compare across
//     machines).
//   build/bench/privacy_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "privacy/discrete_gaussian.h"
#include "privacy/dp_sum.h"
#include "privacy/pld_accountant.h"
#include "privacy/rdp_accountant.h"

namespace tailor {
namespace {

void BM_RdpEpsilon(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(SubsampledGaussianEpsilon(0.01, 1.0, 1000, 1e-5));
  }
}
BENCHMARK(BM_RdpEpsilon)->Unit(benchmark::kMicrosecond);

void BM_NoiseMultiplierForEpsilon(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(NoiseMultiplierForEpsilon(0.1, 100, 3.0, 1e-5));
  }
}
BENCHMARK(BM_NoiseMultiplierForEpsilon)->Unit(benchmark::kMillisecond);

void BM_PldEpsilon(benchmark::State& state) {
  const int64_t steps = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(PldEpsilon(0.1, 1.5, steps, 1e-5));
}
BENCHMARK(BM_PldEpsilon)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_DiscreteGaussianSample(benchmark::State& state) {
  auto rng = SecureRandom::FromSeed(1, 1);
  auto sampler = DiscreteGaussianSampler::Create(uint64_t{1} << 44).value();
  for (auto _ : state) benchmark::DoNotOptimize(sampler.Sample(*rng));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DiscreteGaussianSample);

// The noise of one DP round over P parameters (no update: Finalize is all noise), at noise
// multiplier range(1)/1000.
void BM_DpRoundNoise(benchmark::State& state) {
  const int64_t p = state.range(0);
  const double z = static_cast<double>(state.range(1)) / 1000;
  ParameterSet schema;
  (void)schema.Add("w", Tensor(DType::kFloat32, {p}));
  auto rng = SecureRandom::FromSeed(2, 2);
  DpSumOptions o;
  o.clip_norm = 1;
  o.noise_multiplier = z;
  o.expected_cohort = 100;
  o.rng = rng.get();
  auto sum = DpSumAggregator::Create(o).value();
  for (auto _ : state) {
    (void)sum->Begin(schema);
    benchmark::DoNotOptimize(sum->Finalize());
  }
  state.SetItemsProcessed(state.iterations() * p);
}
BENCHMARK(BM_DpRoundNoise)->Args({1 << 20, 1000})->Args({1 << 20, 1})->Unit(benchmark::kMillisecond);

// Baseline in the same run: copying the same number of floats.
void BM_CopyFloatsBaseline(benchmark::State& state) {
  const int64_t p = state.range(0);
  std::vector<float> a(static_cast<size_t>(p), 1.0f), b(static_cast<size_t>(p));
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), a.size() * sizeof(float));
    benchmark::DoNotOptimize(b.data());
  }
  state.SetItemsProcessed(state.iterations() * p);
}
BENCHMARK(BM_CopyFloatsBaseline)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tailor

BENCHMARK_MAIN();
