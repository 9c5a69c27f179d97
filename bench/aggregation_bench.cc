// Aggregation kernels at memory speed (issue 4). Weighted mean (FedAvg's exact fixed-point sum)
// over K updates of P float32 parameters, reported as GB/s of update data read and as a share of
// this machine's memory bandwidth, measured first in the same binary by a STREAM-style copy
// (McCalpin's convention: bytes read + bytes written). Robust rules are measured the same way at
// the sizes their K × P memory allows.
//
//   build/bench/aggregation_bench [--benchmark_filter=...]
//   bash bench/aggregation.sh build   # adds the NumPy comparison
//
// Updates are real ParameterSets. When K updates of P parameters would not fit in memory
// (K = 100, P = 100M is 40 GB), K adds cycle over as many distinct buffers as fit in 4 GB, all
// far larger than the last-level cache, so every add still reads its update from DRAM.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "aggregation/aggregator.h"
#include "aggregation/fixed_point_kernel.h"
#include "core/malloc_tuning.h"
#include "core/random.h"
#include "core/update_codec.h"
#include "core/wire_update.h"

namespace tailor {
namespace {

double g_stream_copy_bytes_per_second = 0;

void SetShareOfStream(benchmark::State& state, double data_bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(data_bytes_per_iteration) * state.iterations());
  if (g_stream_copy_bytes_per_second > 0) {
    // A rate counter is divided by the elapsed time: this one reads as (update bytes per
    // second) / (STREAM copy bytes per second).
    state.counters["of_stream_copy"] = benchmark::Counter(
        data_bytes_per_iteration * state.iterations() / g_stream_copy_bytes_per_second,
        benchmark::Counter::kIsRate);
  }
}

// STREAM "copy": a[i] = b[i] over two 1 GiB arrays, far beyond the last-level cache. Its rate
// (bytes read + bytes written per second, the best iteration) is the yardstick of the others.
void BM_StreamCopy(benchmark::State& state) {
  const size_t n = size_t{1} << 28;  // floats
  std::vector<float> a(n), b(n, 1.0f);
  const double bytes = 2.0 * n * sizeof(float);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    float* __restrict dst = a.data();
    const float* __restrict src = b.data();
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    g_stream_copy_bytes_per_second = std::max(g_stream_copy_bytes_per_second, bytes / seconds);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}

struct Updates {
  std::vector<std::shared_ptr<const ParameterSet>> distinct;
  // Each update's per-tensor max |value|, as the coordinator's wire check hands it over.
  std::vector<std::vector<double>> max_abs;
  std::vector<double> weights;
};

// K weights and min(K, fits-in-4-GB) distinct updates of P float32 values, cached per (K, P).
const Updates& UpdatesFor(int64_t k, int64_t p) {
  static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Updates>> cache;
  auto& slot = cache[{k, p}];
  if (slot) return *slot;
  cache.clear();  // one size at a time: keep memory bounded
  auto& fresh = cache[{k, p}];
  fresh = std::make_unique<Updates>();
  const int64_t fit = std::max<int64_t>(2, (int64_t{4} << 30) / (4 * p));
  const int64_t distinct = std::min(k, fit);
  Rng rng(static_cast<uint64_t>(k * 1000003 + p));
  for (int64_t d = 0; d < distinct; ++d) {
    Tensor t(DType::kFloat32, {p});
    for (float& v : t.f32()) v = static_cast<float>(rng.Normal() * 0.01);
    ParameterSet set;
    (void)set.Add("w", std::move(t));
    fresh->max_abs.push_back({set.entry(0).tensor.MaxAbs()});
    fresh->distinct.push_back(std::make_shared<const ParameterSet>(std::move(set)));
  }
  for (int64_t i = 0; i < k; ++i) fresh->weights.push_back(50 + rng.UniformInt(450));
  return *fresh;
}

// `checked`: the updates arrive with their max |value| from the wire check (the coordinator's
// path); otherwise the aggregator reads each update once more to find it.
void RunAggregator(benchmark::State& state, const AggregatorOptions& options, bool checked = true) {
  const int64_t k = state.range(0), p = state.range(1);
  const Updates& u = UpdatesFor(k, p);
  auto aggregator = *CreateAggregator(options);
  auto aggregate = [&] {
    if (!aggregator->Begin(*u.distinct[0]).ok()) state.SkipWithError("Begin failed");
    for (int64_t i = 0; i < k; ++i) {
      // Handed over as the coordinator's round hands decoded updates over.
      const size_t d = static_cast<size_t>(i) % u.distinct.size();
      const absl::Status s =
          aggregator->AddShared(u.distinct[d], u.weights[i], checked ? &u.max_abs[d] : nullptr);
      if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    }
    auto result = aggregator->Finalize();
    benchmark::DoNotOptimize(result);
  };
  // One untimed round first: a coordinator's sums and result buffers are recycled from round to
  // round (core/buffer_pool.h), so the steady state has no first-touch page faults.
  aggregate();
  for (auto _ : state) aggregate();
  SetShareOfStream(state, 4.0 * k * p);
  state.SetLabel(FixedPointKernelName());
}

void BM_WeightedMean(benchmark::State& state) { RunAggregator(state, AggregatorOptions()); }

// The same without the wire check's max |value|: one more read of every update.
void BM_WeightedMeanUnchecked(benchmark::State& state) {
  RunAggregator(state, AggregatorOptions(), /*checked=*/false);
}

// Each update folded on arrival: the sums are read and written once per update.
void BM_WeightedMeanUnbuffered(benchmark::State& state) {
  AggregatorOptions o;
  o.buffer_bytes = 0;
  RunAggregator(state, o);
}

void BM_Median(benchmark::State& state) {
  AggregatorOptions o;
  o.name = "median";
  RunAggregator(state, o);
}
void BM_TrimmedMean(benchmark::State& state) {
  AggregatorOptions o;
  o.name = "trimmed_mean";
  o.trim_fraction = 0.2;
  RunAggregator(state, o);
}
void BM_MultiKrum(benchmark::State& state) {
  AggregatorOptions o;
  o.name = "multi_krum";
  RunAggregator(state, o);
}
void BM_NormBoundedMean(benchmark::State& state) {
  AggregatorOptions o;
  o.norm_bound = 1.0;  // below the updates' norms: every update is rescaled
  RunAggregator(state, o);
}

// Update codecs: compression on the client and expansion + validation on the coordinator, per
// GB/s of dense float32 update data. Argument 0 indexes kCodecs.
const char* const kCodecs[] = {"fp16", "bf16", "int8", "topk"};

void BM_Compress(benchmark::State& state) {
  const Updates& u = UpdatesFor(2, state.range(1));
  UpdateCodecOptions codec;
  codec.name = kCodecs[state.range(0)];
  ParameterSet residual;
  for (auto _ : state) {
    auto wire =
        CompressUpdate(*u.distinct[0], codec, 1, codec.name == "topk" ? &residual : nullptr);
    if (!wire.ok()) state.SkipWithError(std::string(wire.status().message()).c_str());
    benchmark::DoNotOptimize(wire);
  }
  SetShareOfStream(state, 4.0 * state.range(1));
  state.SetLabel(codec.name);
}

void BM_ExpandAndCheck(benchmark::State& state) {
  const Updates& u = UpdatesFor(2, state.range(1));
  UpdateCodecOptions codec;
  codec.name = kCodecs[state.range(0)];
  const ParameterSet wire = *CompressUpdate(*u.distinct[0], codec, 1, nullptr);
  for (auto _ : state) {
    auto dense = CheckSharedUpdate(wire, *u.distinct[0]);  // expand, schema, finiteness
    if (!dense.ok()) state.SkipWithError(std::string(dense.status().message()).c_str());
    benchmark::DoNotOptimize(dense);
  }
  SetShareOfStream(state, 4.0 * state.range(1));
  state.SetLabel(codec.name);
}

}  // namespace
}  // namespace tailor

BENCHMARK(tailor::BM_StreamCopy)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(tailor::BM_WeightedMean)
    ->ArgsProduct({{10, 100}, {1 << 20, 100 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_WeightedMeanUnchecked)
    ->ArgsProduct({{10, 100}, {1 << 20, 100 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_WeightedMeanUnbuffered)
    ->ArgsProduct({{10, 100}, {1 << 20, 100 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_NormBoundedMean)
    ->ArgsProduct({{10, 100}, {1 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_TrimmedMean)
    ->ArgsProduct({{10, 100}, {1 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_Median)
    ->ArgsProduct({{10, 100}, {1 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_MultiKrum)
    ->ArgsProduct({{10, 100}, {1 << 20}})
    ->ArgNames({"K", "P"})
    ->Unit(benchmark::kMillisecond);

BENCHMARK(tailor::BM_Compress)
    ->ArgsProduct({{0, 1, 2, 3}, {1 << 20}})
    ->ArgNames({"codec", "P"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(tailor::BM_ExpandAndCheck)
    ->ArgsProduct({{0, 1, 2, 3}, {1 << 20}})
    ->ArgNames({"codec", "P"})
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  tailor::TuneMallocForServing();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
