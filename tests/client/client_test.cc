// The trainer (LibTorch) and the client runtime on a small synthetic dataset.
#include "client/client_runtime.h"
#include "core/parameter_math.h"
#include "core/serialization.h"
#include "core/wire_update.h"
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
      ds->pixels.push_back(
          static_cast<uint8_t>(band ? 200 + rng.UniformInt(50) : rng.UniformInt(30)));
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
  auto stats = trainer->Train(
      *ds, train, opts, [](const std::string& n) { return n.rfind("fc2.", 0) != 0; }, 1);
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

// One FedPer client on the synthetic data: 150 training and 50 test samples, an in-memory
// store, and the round-1 task from the initial model.
struct FedPerClient {
  explicit FedPerClient(int64_t id) {
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
  ModelSpec spec = *GetModelSpec("fmnist_cnn");
  std::unique_ptr<ClientAlgorithm> algorithm = *CreateClientAlgorithm("fedper", spec, {});
  std::shared_ptr<const ParameterSet> initial =
      std::make_shared<const ParameterSet>(InitialParameters(spec, 3));
  InMemoryPersonalStore store;
  const std::vector<uint32_t> train = Range(0, 150), test = Range(150, 200);  // ctx holds views
  ClientContext ctx;
  TrainTask task;
  std::unique_ptr<LocalTrainer> trainer = *LocalTrainer::Create("fmnist_cnn");
};

TEST(ClientRuntime, UploadHoldsOnlySharedDeltaAndPersonalStaysInStore) {
  FedPerClient c(7);
  ClientRuntime runtime(c.ctx);
  TrainTask& task = c.task;
  auto& store = c.store;
  auto& trainer = c.trainer;
  auto& initial = c.initial;
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

// FedProx: the proximal term pulls the shared parameters toward where training started, so the
// update shrinks as mu grows, and personal parameters are not anchored.
TEST(TorchTrainer, ProximalTermShrinksTheUpdateOfAnchoredParametersOnly) {
  auto ds = Synthetic();
  const ParameterSet init = InitialParameters(*GetModelSpec("fmnist_cnn"), 3);
  auto moved = [&](double mu, const std::string& name) {
    auto trainer = *LocalTrainer::Create("fmnist_cnn");
    EXPECT_OK(trainer->Load(init));
    TrainOptions opts;
    opts.learning_rate = 0.05;
    opts.epochs = 3;
    opts.proximal_mu = mu;
    opts.proximal = [](const std::string& n) { return n.rfind("fc2.", 0) != 0; };
    EXPECT_OK(trainer->Train(*ds, Range(0, 160), opts, nullptr, 1));
    const ParameterSet end = trainer->Snapshot();
    ParameterSet a, b;
    EXPECT_OK(a.Add(name, *end.Find(name)));
    EXPECT_OK(b.Add(name, *init.Find(name)));
    return L2Norm(*Difference(a, b));
  };
  const double free_body = moved(0, "conv2.weight");
  const double mild = moved(1, "conv2.weight");
  const double strong = moved(10, "conv2.weight");
  EXPECT_LT(mild, free_body);
  EXPECT_LT(strong, 0.6 * mild);
  // The head is not anchored: mu changes it only through the body it sits on.
  EXPECT_GT(moved(10, "fc2.weight"), 0.5 * moved(0, "fc2.weight"));
}

TEST(ClientRuntime, TopKUploadKeepsItsErrorFeedbackOnTheDeviceBesideThePersonalHead) {
  FedPerClient c(2);
  ClientRuntime runtime(c.ctx);
  TrainTask& task = c.task;
  auto& store = c.store;
  auto& trainer = c.trainer;
  task.options.upload_codec = "topk";
  task.options.topk_fraction = 0.02;
  auto up = runtime.Train(task, *trainer);
  ASSERT_OK(up);
  auto wire = DeserializeParameterSet(up->payload);
  ASSERT_OK(wire);
  EXPECT_NE(wire->Find("conv1.weight#topk.idx"), nullptr);
  EXPECT_EQ(up->payload.find("fc2"), std::string::npos) << "the head never leaves the device";
  auto dense = DecodeSharedUpdate(up->payload, *task.global_shared);
  ASSERT_OK(dense);
  auto stored = *store.Load(2);
  ASSERT_TRUE(stored.has_value());
  const Tensor* residual = stored->Find("upload_residual/conv1.weight");
  ASSERT_NE(residual, nullptr);
  EXPECT_NE(stored->Find("fc2.weight"), nullptr);
  EXPECT_EQ(stored->Find("upload_residual/fc2.weight"), nullptr);
  // Sent + kept = the whole update, element by element.
  const Tensor* sent = dense->Find("conv1.weight");
  size_t nonzero_residual = 0;
  for (int64_t i = 0; i < sent->numel(); ++i) {
    EXPECT_TRUE(sent->f32()[i] == 0 || residual->f32()[i] == 0) << i;
    nonzero_residual += residual->f32()[i] != 0;
  }
  EXPECT_GT(nonzero_residual, static_cast<size_t>(sent->numel() / 2));
  // The next round loads the stored head and the memory separately and still trains.
  task.round = 2;
  ASSERT_OK(runtime.Train(task, *trainer));
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
