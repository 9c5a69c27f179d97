// The simulation's overhead over pure local training, for one round of the reference setup on
// a slice of Fashion-MNIST. "Pure" is the same clients trained by the same LocalTrainer on the
// same number of threads with nothing else: no model loading, deltas, encoding, decoding,
// validation or aggregation. Prints the median over repetitions and the ratio.
//   build/bench/sim_overhead [max_samples] [repetitions]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/time/clock.h"
#include "client/local_trainer.h"
#include "core/config_loader.h"
#include "core/malloc_tuning.h"
#include "data/federated_dataset.h"
#include "models/model_spec.h"
#include "sim/simulation.h"

namespace tailor {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  const int max_samples = argc > 1 ? std::atoi(argv[1]) : 14000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  auto config = LoadExperimentConfig(
      "configs/reference_fedavg.textproto", Env::Default(),
      {{"rounds", "1"}, {"data.max_samples", std::to_string(max_samples)},
       {"eval.every_rounds", "1000"}});
  if (!config.ok()) {
    std::fprintf(stderr, "%s (run from the repository root)\n", config.status().ToString().c_str());
    return 1;
  }
  const int workers = config->simulation().workers();
  SetTorchThreads(1);
  auto data = BuildFederatedDataset(config->data(), config->seed(), Env::Default());
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  const ParameterSet init = InitialParameters(*GetModelSpec("fmnist_cnn"), 1);
  TrainOptions opts;

  std::vector<double> pure, sim;
  for (int rep = 0; rep < reps; ++rep) {
    // Pure local training: workers pull clients from a shared counter.
    std::atomic<int> next{0};
    const absl::Time t0 = absl::Now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        SetTorchThreads(1);  // OpenMP thread counts are per thread
        auto trainer = *LocalTrainer::Create("fmnist_cnn");
        for (int c = next++; c < static_cast<int>(data->clients.size()); c = next++) {
          (void)trainer->Load(init);
          (void)trainer->Train(*data->pool, data->clients[c].train, opts, nullptr, c);
        }
      });
    }
    for (auto& t : threads) t.join();
    pure.push_back(absl::ToDoubleSeconds(absl::Now() - t0));

    SimulationOptions so;
    so.write_outputs = false;
    auto result = RunSimulation(*config, so);
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
      return 1;
    }
    sim.push_back(result->rounds[0].train_seconds);
    std::fprintf(stderr, "rep %d: pure %.2fs  simulated round (training phase) %.2fs\n", rep,
                 pure.back(), sim.back());
  }
  const double p = Median(pure), s = Median(sim);
  std::printf("clients=%zu samples=%d workers=%d  pure local training %.2fs  simulated round %.2fs"
              "  overhead %+.1f%%\n",
              data->clients.size(), max_samples, workers, p, s, 100.0 * (s / p - 1.0));
  return 0;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  tailor::TuneMallocForTraining();
  return tailor::Main(argc, argv);
}
