// A synthetic learnable image dataset and one client on it, for the client runtime's and the
// algorithms' tests (with the LibTorch trainer).
#ifndef TAILOR_TESTS_CLIENT_SYNTHETIC_CLIENT_H_
#define TAILOR_TESTS_CLIENT_SYNTHETIC_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "client/client_runtime.h"
#include "core/random.h"
#include "data/image_dataset.h"
#include "models/model_spec.h"

namespace tailor {

// 200 28x28 images whose class is written in the brightness of one row band: learnable fast.
inline std::shared_ptr<ImageDataset> Synthetic(int n = 200) {
  auto ds = std::make_shared<ImageDataset>();
  ds->rows = ds->cols = 28;
  ds->num_classes = 10;
  Rng rng(1);
  for (int i = 0; i < n; ++i) {
    const int label = i % 10;
    ds->labels.push_back(static_cast<uint8_t>(label));
    for (int p = 0; p < 784; ++p) {
      const bool band = (p / 28) / 3 == label % 9 && label != 9;
      ds->pixels.push_back(
          static_cast<uint8_t>(band ? 200 + rng.UniformInt(50) : rng.UniformInt(30)));
    }
  }
  return ds;
}

inline std::vector<uint32_t> Range(uint32_t a, uint32_t b) {
  std::vector<uint32_t> v;
  for (uint32_t i = a; i < b; ++i) v.push_back(i);
  return v;
}

// One client of `name` (FedPer by default) on the synthetic data: 150 training and 50 test
// samples, an in-memory store, and the round-1 task from the initial model.
struct FedPerClient {
  explicit FedPerClient(int64_t id, const std::string& name = "fedper",
                        const AlgorithmOptions& options = AlgorithmOptions(),
                        const std::string& architecture = "fmnist_cnn")
      : spec(*GetModelSpec(architecture)),
        algorithm(*CreateClientAlgorithm(name, spec, options)),
        initial(std::make_shared<const ParameterSet>(InitialParameters(spec, 3))),
        trainer(*LocalTrainer::Create(architecture)) {
    ctx.client_id = id;
    ctx.algorithm = algorithm.get();
    ctx.store = &store;
    ctx.data = {ds.get(), train, test};
    ctx.initial_model = initial;
    task.round = 1;
    task.global_shared = std::make_shared<const ParameterSet>(algorithm->policy().Shared(*initial));
    task.seed = 11;
  }
  std::shared_ptr<ImageDataset> ds = Synthetic();
  ModelSpec spec;
  std::unique_ptr<ClientAlgorithm> algorithm;
  std::shared_ptr<const ParameterSet> initial;
  InMemoryPersonalStore store;
  const std::vector<uint32_t> train = Range(0, 150), test = Range(150, 200);  // ctx holds views
  ClientContext ctx;
  TrainTask task;
  std::unique_ptr<LocalTrainer> trainer;
};

}  // namespace tailor

#endif  // TAILOR_TESTS_CLIENT_SYNTHETIC_CLIENT_H_
