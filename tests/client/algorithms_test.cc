// The defining behaviour of the algorithms that keep state beyond a personal split (Ditto,
// APFL, FedALA), of FedBN and its batch-norm model, and of LocalTrainer::Gradient they build on.
#include <cmath>

#include "client/algorithm.h"
#include "client/client_runtime.h"
#include "core/parameter_math.h"
#include "core/serialization.h"
#include "models/model_spec.h"
#include "tests/client/synthetic_client.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

// The device state the client left in its store, split as the runtime splits it.
ClientRuntime::DeviceState StoredState(FedPerClient& c) {
  auto stored = c.store.Load(c.ctx.client_id, PersonalStore::kNewest);
  EXPECT_OK(stored);
  EXPECT_TRUE(stored->has_value());
  return ClientRuntime::SplitStoredState(**stored);
}

ParameterSet Prefixed(const ParameterSet& state, const std::string& prefix) {
  ParameterSet out;
  for (const auto& e : state.entries()) {
    if (e.name.rfind(prefix, 0) == 0) EXPECT_OK(out.Add(e.name.substr(prefix.size()), e.tensor));
  }
  return out;
}

double Distance(const ParameterSet& a, const ParameterSet& b) {
  auto d = Difference(a, b);
  EXPECT_OK(d);
  return L2Norm(*d);
}

TEST(TorchTrainer, GradientIsWhatOneSgdStepFollows) {
  auto ds = Synthetic();
  const auto batch = Range(0, 10);
  auto trainer = *LocalTrainer::Create("fmnist_cnn");
  const ParameterSet start = InitialParameters(*GetModelSpec("fmnist_cnn"), 3);
  ASSERT_OK(trainer->Load(start));
  double loss = 0;
  auto grad = trainer->Gradient(*ds, batch, &loss);
  ASSERT_OK(grad);
  EXPECT_GT(loss, 0);
  EXPECT_EQ(grad->names(), start.names());
  ParameterSet manual = start;
  ASSERT_OK(AddScaled(&manual, *grad, -0.1));
  TrainOptions one_step;
  one_step.learning_rate = 0.1;
  ASSERT_OK(trainer->Train(*ds, batch, one_step, nullptr, 1));  // one batch of 10, any order
  EXPECT_LT(Distance(trainer->Snapshot(), manual), 1e-5 * L2Norm(start));
  EXPECT_STATUS(trainer->Gradient(*ds, {}, &loss), absl::StatusCode::kInvalidArgument, "empty");
}

TEST(Ditto, ThePersonalModelMovesTowardTheGlobalOneAsLambdaGrows) {
  std::vector<double> distances;
  for (double lambda : {0.0, 1.0, 10.0}) {
    AlgorithmOptions options;
    options.ditto_lambda = lambda;
    FedPerClient c(4, "ditto", options);
    c.task.options.learning_rate = 0.05;
    auto up = ClientRuntime(c.ctx).Train(c.task, *c.trainer);
    ASSERT_OK(up);
    // The global model's update is uploaded whole; the personal model stays on the device.
    auto sent = DeserializeParameterSet(up->payload);
    ASSERT_OK(sent);
    EXPECT_EQ(sent->names(), c.initial->names());
    const ParameterSet personal = Prefixed(StoredState(c).algorithm, "personal/");
    ASSERT_EQ(personal.names(), c.initial->names());
    distances.push_back(Distance(personal, *c.task.global_shared));
  }
  EXPECT_GT(distances[0], distances[1]);
  EXPECT_GT(distances[1], distances[2]);
  EXPECT_GT(distances[2], 0);
}

TEST(Ditto, EvaluatesThePersonalModelAndReportsTheGlobalOne) {
  FedPerClient c(4, "ditto");
  c.task.options.learning_rate = 0.05;
  ClientRuntime runtime(c.ctx);
  ASSERT_OK(runtime.Train(c.task, *c.trainer));
  EvalTask eval;
  eval.round = 1;
  eval.global_shared = c.task.global_shared;  // the untrained model: chance level
  auto report = runtime.Evaluate(eval, *c.trainer);
  ASSERT_OK(report);
  ASSERT_TRUE(report->global.has_value());
  EXPECT_GT(report->personalized.correct, report->global->correct + 5)
      << "the personal model trained an epoch, the global one did not";
}

TEST(Apfl, LearnsTheMixingWeightAndEvaluatesTheMixture) {
  AlgorithmOptions options;
  options.apfl_alpha = 0.5;
  FedPerClient c(5, "apfl", options);
  c.task.options.learning_rate = 0.05;
  c.task.options.epochs = 2;
  auto up = ClientRuntime(c.ctx).Train(c.task, *c.trainer);
  ASSERT_OK(up);
  EXPECT_EQ(up->stats.steps, 2 * 15);
  auto sent = DeserializeParameterSet(up->payload);
  ASSERT_OK(sent);
  EXPECT_EQ(sent->names(), c.initial->names());
  const ClientRuntime::DeviceState state = StoredState(c);
  const Tensor* alpha = state.algorithm.Find("alpha");
  ASSERT_NE(alpha, nullptr);
  const double a = alpha->f64()[0];
  EXPECT_GE(a, 0.0);
  EXPECT_LE(a, 1.0);
  EXPECT_NE(a, 0.5) << "alpha was not learned";
  const ParameterSet v = Prefixed(state.algorithm, "personal/");
  ASSERT_EQ(v.names(), c.initial->names());
  EXPECT_GT(Distance(v, *c.initial), 0);

  // Evaluation uses α·v + (1 − α)·w with the global model w it is given.
  const ParameterSet& w = *c.initial;
  ASSERT_OK(c.trainer->Load(w));
  ASSERT_OK(c.algorithm->PrepareEvaluation(*c.trainer, c.ctx.data, c.task.options, 1,
                                           state.algorithm));
  const ParameterSet loaded = c.trainer->Snapshot();
  for (const char* name : {"conv1.weight", "fc2.bias"}) {
    absl::Span<const float> got = loaded.Find(name)->f32();
    absl::Span<const float> vs = v.Find(name)->f32(), ws = w.Find(name)->f32();
    for (size_t j = 0; j < got.size(); j += 7) {
      EXPECT_NEAR(got[j], a * vs[j] + (1 - a) * ws[j], 1e-6) << name << "[" << j << "]";
    }
  }
}

TEST(Apfl, BatchNormStatisticsFollowTheGlobalModelsTraining) {
  FedPerClient c(9, "apfl", AlgorithmOptions(), "fmnist_cnn_bn");
  c.task.options.learning_rate = 0.05;
  auto up = ClientRuntime(c.ctx).Train(c.task, *c.trainer);
  ASSERT_OK(up);
  auto sent = DeserializeParameterSet(up->payload);
  ASSERT_OK(sent);
  const Tensor* moved = sent->Find("bn2.running_mean");
  ASSERT_NE(moved, nullptr);
  double total = 0;
  for (float v : moved->f32()) total += std::fabs(v);
  EXPECT_GT(total, 0) << "w's running statistics did not move with its training";
}

TEST(FedAla, LowerLayersTakeTheGlobalModelAndTheHeadAWeightedMix) {
  FedPerClient c(6, "fedala");
  c.task.options.learning_rate = 0.05;
  ClientRuntime runtime(c.ctx);
  ASSERT_OK(runtime.Train(c.task, *c.trainer));  // first round: no local model yet, plain FedAvg
  const ClientRuntime::DeviceState first = StoredState(c);
  const ParameterSet local = Prefixed(first.algorithm, "local/");
  ASSERT_EQ(local.names(), c.initial->names());
  EXPECT_TRUE(Prefixed(first.algorithm, "weight/").empty());

  // A new global model arrives; evaluation adapts it with the stored local model.
  const ParameterSet global = InitialParameters(c.spec, 99);
  ASSERT_OK(c.trainer->Load(global));
  ASSERT_OK(c.algorithm->PrepareEvaluation(*c.trainer, c.ctx.data, c.task.options, 1,
                                           first.algorithm));
  const ParameterSet adapted = c.trainer->Snapshot();
  for (const char* lower : {"conv1.weight", "conv2.bias", "fc1.weight"}) {
    EXPECT_TRUE(*adapted.Find(lower) == *global.Find(lower)) << lower;
  }
  int strictly_between = 0;
  for (const char* top : {"fc2.weight", "fc2.bias"}) {
    absl::Span<const float> a = adapted.Find(top)->f32();
    absl::Span<const float> g = global.Find(top)->f32(), l = local.Find(top)->f32();
    for (size_t j = 0; j < a.size(); ++j) {
      EXPECT_GE(a[j], std::min(g[j], l[j]) - 1e-6f) << top << "[" << j << "]";
      EXPECT_LE(a[j], std::max(g[j], l[j]) + 1e-6f) << top << "[" << j << "]";
      if (std::fabs(a[j] - g[j]) > 1e-6f && std::fabs(a[j] - l[j]) > 1e-6f) ++strictly_between;
    }
  }
  EXPECT_GT(strictly_between, 0) << "the aggregation weights did not move from 1";

  // Training the next round keeps the learned weights, each in [0, 1].
  TrainTask second = c.task;
  second.round = 2;
  second.global_shared = std::make_shared<const ParameterSet>(global);
  ASSERT_OK(runtime.Train(second, *c.trainer));
  const ParameterSet weights = Prefixed(StoredState(c).algorithm, "weight/");
  ASSERT_EQ(weights.names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  for (const auto& e : weights.entries()) {
    for (float w : e.tensor.f32()) {
      EXPECT_GE(w, 0.0f);
      EXPECT_LE(w, 1.0f);
    }
  }
}

TEST(FedBn, NeverUploadsNormalizationLayersOrTheirStatistics) {
  FedPerClient c(8, "fedbn", AlgorithmOptions(), "fmnist_cnn_bn");
  c.task.options.learning_rate = 0.05;
  auto up = ClientRuntime(c.ctx).Train(c.task, *c.trainer);
  ASSERT_OK(up);
  auto sent = DeserializeParameterSet(up->payload);
  ASSERT_OK(sent);
  EXPECT_NE(sent->Find("conv1.weight"), nullptr);
  EXPECT_NE(sent->Find("fc2.weight"), nullptr);
  for (const auto& e : sent->entries()) EXPECT_EQ(e.name.rfind("bn", 0), std::string::npos) << e.name;
  EXPECT_EQ(up->payload.find("running_"), std::string::npos);
  const ParameterSet personal = StoredState(c).personal;
  ASSERT_NE(personal.Find("bn2.running_mean"), nullptr);
  double moved = 0;
  for (float v : personal.Find("bn2.running_mean")->f32()) moved += std::fabs(v);
  EXPECT_GT(moved, 0) << "training should have moved the running statistics from 0";
  EXPECT_EQ(personal.size(), 12u);  // 3 layers × (weight, bias, running mean, running variance)

  EXPECT_STATUS(CreateClientAlgorithm("fedbn", *GetModelSpec("fmnist_cnn"), AlgorithmOptions()),
                absl::StatusCode::kInvalidArgument, "no");
}

TEST(TorchTrainer, RecalibrationAveragesBatchStatisticsWhateverTheOldOnes) {
  auto ds = Synthetic();
  const ModelSpec spec = *GetModelSpec("fmnist_cnn_bn");
  auto trainer = *LocalTrainer::Create("fmnist_cnn_bn");
  auto recalibrated = [&](float stale) {
    ParameterSet model = InitialParameters(spec, 3);
    for (const char* name : {"bn1.running_mean", "bn3.running_var"}) {
      for (float& v : model.FindMutable(name)->f32()) v = stale;
    }
    EXPECT_OK(trainer->Load(model));
    EXPECT_OK(trainer->RecalibrateNormalization(*ds, Range(0, 100), 10));
    return trainer->Snapshot();
  };
  const ParameterSet a = recalibrated(5.0f), b = recalibrated(-3.0f);
  EXPECT_TRUE(*a.Find("bn1.running_mean") == *b.Find("bn1.running_mean"));
  EXPECT_TRUE(*a.Find("bn3.running_var") == *b.Find("bn3.running_var"));
  EXPECT_NE(a.Find("bn1.running_mean")->f32()[0], 0.0f);
  EXPECT_TRUE(*a.Find("conv1.weight") == *InitialParameters(spec, 3).Find("conv1.weight"))
      << "recalibration must not train";
  // A model without normalization layers: nothing to do.
  auto plain = *LocalTrainer::Create("fmnist_cnn");
  EXPECT_OK(plain->RecalibrateNormalization(*ds, Range(0, 100), 10));
}

TEST(ModelSpec, BatchNormCnnMatchesItsModuleAndPyTorchInitialization) {
  const ModelSpec spec = *GetModelSpec("fmnist_cnn_bn");
  const ParameterSet init = InitialParameters(spec, 3);
  auto trainer = *LocalTrainer::Create("fmnist_cnn_bn");
  ASSERT_OK(trainer->Load(init));
  const ParameterSet snap = trainer->Snapshot();
  EXPECT_EQ(snap.names(), init.names()) << "spec order must match the module's";
  EXPECT_TRUE(snap == init);
  for (float v : init.Find("bn3.weight")->f32()) EXPECT_EQ(v, 1.0f);
  for (float v : init.Find("bn3.running_var")->f32()) EXPECT_EQ(v, 1.0f);
  for (float v : init.Find("bn1.running_mean")->f32()) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(spec.TrainableNames().size(), 14u);
  EXPECT_EQ(spec.TrainableNames().back(), "fc2.bias");
}

}  // namespace
}  // namespace tailor
