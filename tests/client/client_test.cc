// The trainer (LibTorch) and the client runtime on a small synthetic dataset.
#include "client/client_runtime.h"

#include "core/parameter_math.h"
#include "core/serialization.h"
#include "models/model_spec.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

// 200 28x28 images whose class is written in the brightness of one row band: learnable fast.
std::shared_ptr<ImageDataset> Synthetic(int n = 200) {
  auto ds = std::make_shared<ImageDataset>();
  ds->rows = ds->cols = 28;
  ds->num_classes = 10;
  Rng rng(1);
  for (int i = 0; i < n; ++i) {
    const int label = i % 10;
    ds->labels.push_back(static_cast<uint8_t>(label));
    for (int p = 0; p < 784; ++p) {
      const bool band = (p / 28) / 3 == label % 9 && label != 9;
      ds->pixels.push_back(static_cast<uint8_t>(band ? 200 + rng.UniformInt(50) : rng.UniformInt(30)));
    }
  }
  return ds;
}

std::vector<uint32_t> Range(uint32_t a, uint32_t b) {
  std::vector<uint32_t> v;
  for (uint32_t i = a; i < b; ++i) v.push_back(i);
  return v;
}

TEST(TorchTrainer, LoadSnapshotRoundTripAndShapeChecks) {
  auto spec = *GetModelSpec("fmnist_cnn");
  auto trainer = LocalTrainer::Create("fmnist_cnn");
  ASSERT_OK(trainer);
  ParameterSet init = InitialParameters(spec, 3);
  ASSERT_OK((*trainer)->Load(init));
  ParameterSet snap = (*trainer)->Snapshot();
  EXPECT_TRUE(snap == init);
  EXPECT_EQ(snap.names(), init.names()) << "spec order must match the module's";
  ParameterSet wrong;
  ASSERT_OK(wrong.Add("fc2.bias", Tensor(DType::kFloat32, {11})));
  EXPECT_STATUS((*trainer)->Load(wrong), absl::StatusCode::kInvalidArgument, "fc2.bias");
  ParameterSet unknown;
  ASSERT_OK(unknown.Add("fc9.bias", Tensor(DType::kFloat32, {10})));
  EXPECT_STATUS((*trainer)->Load(unknown), absl::StatusCode::kInvalidArgument, "no parameter");
  EXPECT_STATUS(LocalTrainer::Create("resnet"), absl::StatusCode::kNotFound, "resnet");
}

TEST(TorchTrainer, TrainingLearnsAndRespectsFrozenParameters) {
  auto ds = Synthetic();
  auto trainer = *LocalTrainer::Create("fmnist_cnn");
  ASSERT_OK(trainer->Load(InitialParameters(*GetModelSpec("fmnist_cnn"), 3)));
  const auto train = Range(0, 160), test = Range(160, 200);
  auto before = trainer->Evaluate(*ds, test);
  ASSERT_OK(before);
  ParameterSet start = trainer->Snapshot();
  TrainOptions opts;
  opts.learning_rate = 0.05;
  opts.epochs = 5;
  auto stats = trainer->Train(*ds, train, opts,
                              [](const std::string& n) { return n.rfind("fc2.", 0) != 0; }, 1);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->steps, 5 * 16);
  ParameterSet end = trainer->Snapshot();
  EXPECT_TRUE(*end.Find("fc2.weight") == *start.Find("fc2.weight")) << "frozen head moved";
  EXPECT_FALSE(*end.Find("conv1.weight") == *start.Find("conv1.weight"));
  auto after = trainer->Evaluate(*ds, test);
  ASSERT_OK(after);
  EXPECT_LT(after->loss_sum, before->loss_sum);
}

TEST(TorchTrainer, SameSeedSameResult) {
  auto ds = Synthetic();
  auto run = [&](uint64_t seed) {
    auto trainer = *LocalTrainer::Create("fmnist_cnn");
    EXPECT_OK(trainer->Load(InitialParameters(*GetModelSpec("fmnist_cnn"), 3)));
    EXPECT_OK(trainer->Train(*ds, Range(0, 100), TrainOptions(), nullptr, seed));
    return trainer->Snapshot();
  };
  EXPECT_TRUE(run(5) == run(5));
  EXPECT_FALSE(run(5) == run(6));
}

TEST(ClientRuntime, UploadHoldsOnlySharedDeltaAndPersonalStaysInStore) {
  auto ds = Synthetic();
  auto spec = *GetModelSpec("fmnist_cnn");
  auto algorithm = *CreateClientAlgorithm("fedper", spec, {});
  auto initial = std::make_shared<const ParameterSet>(InitialParameters(spec, 3));
  InMemoryPersonalStore store;
  const auto train = Range(0, 150), test = Range(150, 200);
  ClientContext ctx;
  ctx.client_id = 7;
  ctx.algorithm = algorithm.get();
  ctx.store = &store;
  ctx.data = {ds.get(), train, test};
  ctx.initial_model = initial;
  ClientRuntime runtime(ctx);
  auto trainer = *LocalTrainer::Create("fmnist_cnn");

  TrainTask task;
  task.round = 1;
  task.global_shared = std::make_shared<const ParameterSet>(algorithm->policy().Shared(*initial));
  task.seed = 11;
  auto up = runtime.Train(task, *trainer);
  ASSERT_OK(up);
  EXPECT_EQ(up->weight, 150);
  auto delta = DeserializeParameterSet(up->payload);
  ASSERT_OK(delta);
  EXPECT_EQ(delta->names(), task.global_shared->names());
  EXPECT_EQ(delta->Find("fc2.weight"), nullptr);
  EXPECT_EQ(up->payload.find("fc2"), std::string::npos);
  EXPECT_GT(L2Norm(*delta), 0);

  auto personal = store.Load(7);
  ASSERT_OK(personal);
  ASSERT_TRUE(personal->has_value());
  EXPECT_EQ((*personal)->names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  EXPECT_FALSE(*(*personal)->Find("fc2.weight") == *initial->Find("fc2.weight"));

  EvalTask eval{1, task.global_shared};
  auto report = runtime.Evaluate(eval, *trainer);
  ASSERT_OK(report);
  EXPECT_EQ(report->personalized.count, 50);
}

TEST(ClientAlgorithm, UnknownNameIsRefused) {
  EXPECT_STATUS(CreateClientAlgorithm("fedmagic", *GetModelSpec("fmnist_cnn"), {}),
                absl::StatusCode::kInvalidArgument, "fedmagic");
}

TEST(DirectoryPersonalStore, PersistsAndReportsCorruption) {
  const std::string dir = testing::MakeTempDir("store");
  DirectoryPersonalStore store(dir + "/state", Env::Default());
  auto empty = store.Load(1);
  ASSERT_OK(empty);
  EXPECT_FALSE(empty->has_value());
  ParameterSet p = testing::RandomSet({{"fc2.bias", {10}}}, 1);
  ASSERT_OK(store.Save(1, p));
  DirectoryPersonalStore reopened(dir + "/state", Env::Default());
  EXPECT_TRUE(**reopened.Load(1) == p);
  std::string bytes = *Env::Default()->ReadFile(dir + "/state/client-1.tlps");
  bytes.resize(bytes.size() - 5);
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/state/client-1.tlps", bytes));
  EXPECT_STATUS(reopened.Load(1), absl::StatusCode::kDataLoss, "client-1.tlps");
}

}  // namespace
}  // namespace tailor
