// Costs of the privacy machinery (Google Benchmark):
//   - one epsilon from the RDP accountant (every default order; the issue asks < 1 ms),
//   - one round's RDP curve (what the coordinator composes per round),
//   - the PLD accountant's epsilon at typical federated settings (seconds at most),
//   - secure aggregation's kernels: a ChaCha20 mask, a client's masking with k peers, the
//     coordinator's running sum and a client's fixed-point encoding,
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
#include "privacy/secagg_crypto.h"
#include "privacy/secagg_input.h"
#include "privacy/secagg_masking.h"

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

// Secure aggregation's kernels for P = 2^20 values (64-bit words). Compare the items/s with
// the copy above: a mask is ChaCha20 keystream added in place; the coordinator's running sum
// of masked inputs is one add per word.
void BM_SecAggExpandMask(benchmark::State& state) {
  const size_t p = static_cast<size_t>(state.range(0));
  std::vector<uint64_t> words(p);
  Key32 key{};
  key[0] = 7;
  for (auto _ : state) {
    ExpandMask(key, 0, 64, absl::MakeSpan(words));
    benchmark::DoNotOptimize(words.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(p));
}
BENCHMARK(BM_SecAggExpandMask)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// One client's masking with k pairwise masks and its self mask.
void BM_SecAggClientMasks(benchmark::State& state) {
  const size_t p = static_cast<size_t>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  std::vector<uint64_t> input(p, 3);
  std::vector<PeerKey> peers(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) peers[static_cast<size_t>(i)] = {i + 1, Key32{static_cast<uint8_t>(i)}};
  for (auto _ : state) {
    AddMasks(0, Key32{}, peers, SecAggWeightedField(), absl::MakeSpan(input));
    benchmark::DoNotOptimize(input.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(p) * (k + 1));
}
BENCHMARK(BM_SecAggClientMasks)->Args({1 << 20, 8})->Args({1 << 20, 40})->Unit(benchmark::kMillisecond);

// The coordinator's running sum: one masked input added modulo 2^64.
void BM_SecAggAddModulo(benchmark::State& state) {
  const size_t p = static_cast<size_t>(state.range(0));
  std::vector<uint64_t> input(p, 5), sum(p, 1);
  for (auto _ : state) {
    AddModulo(input, SecAggWeightedField(), absl::MakeSpan(sum));
    benchmark::DoNotOptimize(sum.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(p));
}
BENCHMARK(BM_SecAggAddModulo)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// A client's fixed-point input from a clipped float delta (the weighted mean's own terms).
void BM_SecAggEncodeInput(benchmark::State& state) {
  const int64_t p = state.range(0);
  ParameterSet delta;
  Tensor t(DType::kFloat32, {p});
  for (float& v : t.f32()) v = 1e-4f;
  (void)delta.Add("w", std::move(t));
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeSecAggInput(delta, 100, 0.5, 10, 1000));
  }
  state.SetItemsProcessed(state.iterations() * p);
}
BENCHMARK(BM_SecAggEncodeInput)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tailor

BENCHMARK_MAIN();
