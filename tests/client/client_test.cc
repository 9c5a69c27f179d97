// The trainer (LibTorch) and the client runtime on a small synthetic dataset.
#include "absl/strings/match.h"
#include "client/client_runtime.h"
#include "client/train_options_proto.h"
#include "core/parameter_math.h"
#include "core/serialization.h"
#include "core/wire_update.h"
#include "models/model_spec.h"
#include "privacy/rdp_accountant.h"
#include "tests/client/synthetic_client.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

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

  auto personal = store.Load(7, PersonalStore::kNewest);
  ASSERT_OK(personal);
  ASSERT_TRUE(personal->has_value());
  EXPECT_EQ((*personal)->names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  EXPECT_FALSE(*(*personal)->Find("fc2.weight") == *initial->Find("fc2.weight"));

  EvalTask eval;
  eval.round = 1;
  eval.global_shared = task.global_shared;
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

TEST(ClientRuntime, UnderDifferentialPrivacyTheUploadIsClippedOnTheDevice) {
  FedPerClient free_client(4);
  ClientRuntime free_runtime(free_client.ctx);
  auto unclipped = free_runtime.Train(free_client.task, *free_client.trainer);
  ASSERT_OK(unclipped);
  const double norm = L2Norm(*DeserializeParameterSet(unclipped->payload));

  for (double clip : {norm / 4, norm * 4}) {
    FedPerClient c(4);  // same client, same seed: the same update before clipping
    c.task.options.clip_norm = clip;
    ClientRuntime runtime(c.ctx);
    auto up = runtime.Train(c.task, *c.trainer);
    ASSERT_OK(up);
    const double sent = L2Norm(*DeserializeParameterSet(up->payload));
    EXPECT_LE(sent, clip);
    EXPECT_EQ(up->within_clip_norm, norm <= clip);
    if (clip > norm) {
      EXPECT_NEAR(sent, norm, 1e-6 * norm);  // untouched within the norm
    }
  }
  FedPerClient broken(4);
  broken.task.options.clip_norm = std::nan("");
  ClientRuntime runtime(broken.ctx);
  EXPECT_STATUS(runtime.Train(broken.task, *broken.trainer).status(),
                absl::StatusCode::kInvalidArgument, "clip norm");
}

// Scripted coins: every record sampled (or none), and a fixed "noise" value.
class ScriptedCoins : public PrivateCoins {
 public:
  ScriptedCoins(bool sample, float noise) : sample_(sample), noise_(noise) {}
  bool Bernoulli(double) override { return sample_; }
  void FillStandardNormal(float* out, size_t n) override { std::fill(out, out + n, noise_); }

 private:
  bool sample_;
  float noise_;
};

// Trains 20 records, batch 10 (2 steps), plain SGD without momentum; returns ‖Δw‖ of conv1.
double DpSgdMovement(double clip, bool sample, float noise, double* per_coordinate = nullptr) {
  auto ds = Synthetic();
  auto trainer = *LocalTrainer::Create("fmnist_cnn");
  EXPECT_OK(trainer->Load(InitialParameters(*GetModelSpec("fmnist_cnn"), 3)));
  const ParameterSet start = trainer->Snapshot();
  ScriptedCoins coins(sample, noise);
  TrainOptions opts;
  opts.learning_rate = 0.1;
  opts.dp_sgd_clip_norm = clip;
  opts.dp_sgd_noise_multiplier = 2.0;
  opts.dp_sgd_coins = &coins;
  auto stats = trainer->Train(*ds, Range(0, 20), opts, nullptr, 1);
  EXPECT_OK(stats);
  EXPECT_EQ(stats->steps, 2);
  const ParameterSet end = trainer->Snapshot();
  const Tensor& a = *start.Find("conv1.bias");
  const Tensor& b = *end.Find("conv1.bias");
  if (per_coordinate != nullptr) *per_coordinate = b.f32()[0] - a.f32()[0];
  double squared = 0;
  for (const char* name : {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                           "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
    const Tensor& x = *start.Find(name);
    const Tensor& y = *end.Find(name);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double d = static_cast<double>(y.f32()[i]) - x.f32()[i];
      squared += d * d;
    }
  }
  return std::sqrt(squared);
}

TEST(TorchTrainer, DpSgdClipsEveryExampleAndAddsNoiseOfStdZTimesC) {
  // Every record in both steps and no noise: each step's gradient is Σ clip(gᵢ)/10 over 20
  // records, so the model moves at most 2 steps · lr · 20·C/10 = 0.4·C.
  const double clip = 1e-3;
  EXPECT_LE(DpSgdMovement(clip, true, 0.0f), 0.4 * clip * (1 + 1e-4));
  // The same run with a generous norm moves much further: the bound above is the clipping.
  EXPECT_GT(DpSgdMovement(100.0, true, 0.0f), 100 * 0.4 * clip);
  // No record sampled and every noise draw 1: each coordinate moves by exactly
  // -2 steps · lr · z·C / batch = -2 · 0.1 · 2 · 0.5 / 10 = -0.02.
  double moved = 0;
  DpSgdMovement(0.5, false, 1.0f, &moved);
  EXPECT_NEAR(moved, -0.02, 1e-6);
}

TEST(ClientRuntime, DpSgdAccountsEachRecordOnTheDeviceAcrossRoundsAndRestarts) {
  FedPerClient c(5);
  c.task.options.dp_sgd_clip_norm = 1.0;
  c.task.options.dp_sgd_noise_multiplier = 1.2;
  c.task.options.batch_size = 15;  // 150 records: rate 0.1, 10 steps per epoch
  c.ctx.reproducible_private_noise = true;
  double previous = 0;
  for (int round = 1; round <= 3; ++round) {
    c.task.round = round;
    ClientRuntime runtime(c.ctx);  // a new runtime each round: the state is on the "disk"
    auto up = runtime.Train(c.task, *c.trainer);
    ASSERT_OK(up);
    const double want = SubsampledGaussianEpsilon(0.1, 1.2, 10 * round, 1e-5)->epsilon;
    EXPECT_NEAR(up->record_epsilon, want, 1e-12) << round;
    EXPECT_GT(up->record_epsilon, previous);
    previous = up->record_epsilon;
  }
  auto stored = *c.store.Load(5, PersonalStore::kNewest);
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->Find("dp_sgd/rdp"), nullptr);
  EXPECT_EQ(stored->Find("dp_sgd/rdp")->numel(), static_cast<int64_t>(DefaultRdpOrders().size()));
  // The accountant state never travels: only shared parameters are in the payload.
  c.task.round = 4;
  auto up = ClientRuntime(c.ctx).Train(c.task, *c.trainer);
  ASSERT_OK(up);
  EXPECT_EQ(up->payload.find("dp_sgd"), std::string::npos);
  // Bad settings are refused by name.
  c.task.options.dp_sgd_noise_multiplier = 0;
  EXPECT_STATUS(ClientRuntime(c.ctx).Train(c.task, *c.trainer).status(),
                absl::StatusCode::kInvalidArgument, "DP-SGD");
}

TEST(ClientRuntime, DpSgdRepeatsForASeedOnlyInReproducibleMode) {
  auto run = [](bool reproducible) {
    FedPerClient c(6);
    c.task.options.dp_sgd_clip_norm = 1.0;
    c.task.options.dp_sgd_noise_multiplier = 1.0;
    c.ctx.reproducible_private_noise = reproducible;
    return ClientRuntime(c.ctx).Train(c.task, *c.trainer).value().payload;
  };
  EXPECT_EQ(run(true), run(true));
  EXPECT_NE(run(false), run(false));
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
  auto stored = *store.Load(2, PersonalStore::kNewest);
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

TEST(TrainOptionsProto, EveryWireFieldSurvivesTheRoundTrip) {
  TrainOptions in;
  in.learning_rate = 0.123;
  in.batch_size = 17;
  in.epochs = 3;
  in.momentum = 0.5;
  in.weight_decay = 1e-4;
  in.drop_last = false;
  in.proximal_mu = 0.02;
  in.upload_codec = "int8";
  in.topk_fraction = 0.3;
  in.clip_norm = 0.7;
  in.dp_sgd_clip_norm = 1.5;
  in.dp_sgd_noise_multiplier = 1.1;
  in.dp_sgd_delta = 1e-7;
  v1::TrainOptionsMsg msg;
  TrainOptionsToProto(in, &msg);
  // Through bytes, as the network carries it.
  v1::TrainOptionsMsg parsed;
  ASSERT_TRUE(parsed.ParseFromString(msg.SerializeAsString()));
  const TrainOptions out = TrainOptionsFromProto(parsed);
  EXPECT_EQ(out.learning_rate, in.learning_rate);
  EXPECT_EQ(out.batch_size, in.batch_size);
  EXPECT_EQ(out.epochs, in.epochs);
  EXPECT_EQ(out.momentum, in.momentum);
  EXPECT_EQ(out.weight_decay, in.weight_decay);
  EXPECT_EQ(out.drop_last, in.drop_last);
  EXPECT_EQ(out.proximal_mu, in.proximal_mu);
  EXPECT_EQ(out.upload_codec, in.upload_codec);
  EXPECT_EQ(out.topk_fraction, in.topk_fraction);
  EXPECT_EQ(out.clip_norm, in.clip_norm);
  EXPECT_EQ(out.dp_sgd_clip_norm, in.dp_sgd_clip_norm);
  EXPECT_EQ(out.dp_sgd_noise_multiplier, in.dp_sgd_noise_multiplier);
  EXPECT_EQ(out.dp_sgd_delta, in.dp_sgd_delta);
  // An empty message keeps the defaults that zero would break.
  const TrainOptions empty = TrainOptionsFromProto(v1::TrainOptionsMsg());
  EXPECT_EQ(empty.upload_codec, "none");
  EXPECT_EQ(empty.dp_sgd_delta, 1e-5);
}

// Records what each Train call may change and for how many epochs; trains nothing.
class RecordingTrainer : public LocalTrainer {
 public:
  struct Call {
    int epochs;
    bool head_trains, body_trains;
    std::vector<uint32_t> examples;
  };
  absl::Status Load(const ParameterSet&) override { return absl::OkStatus(); }
  ParameterSet Snapshot() const override { return ParameterSet(); }
  absl::StatusOr<TrainStats> Train(const ExamplePool&, absl::Span<const uint32_t> indices,
                                   const TrainOptions& options, const TrainableFilter& trainable,
                                   uint64_t) override {
    calls.push_back({options.epochs, !trainable || trainable("fc2.weight"),
                     !trainable || trainable("conv1.weight"),
                     std::vector<uint32_t>(indices.begin(), indices.end())});
    TrainStats stats;
    stats.steps = 1;
    return stats;
  }
  absl::StatusOr<EvalStats> Evaluate(const ExamplePool&, absl::Span<const uint32_t>) override {
    return EvalStats();
  }
  absl::StatusOr<ParameterSet> Gradient(const ExamplePool&, absl::Span<const uint32_t>,
                                        double*) override {
    return absl::UnimplementedError("no gradients here");
  }
  std::vector<Call> calls;
};

TEST(ClientAlgorithm, FedRepTrainsTheHeadFirstThenTheBody) {
  AlgorithmOptions options;
  options.head_epochs = 3;
  auto fedrep = CreateClientAlgorithm("fedrep", *GetModelSpec("fmnist_cnn"), options);
  ASSERT_OK(fedrep);
  EXPECT_TRUE((*fedrep)->policy().IsPersonal("fc2.weight"));
  EXPECT_FALSE((*fedrep)->policy().IsPersonal("conv1.weight"));
  RecordingTrainer trainer;
  TrainOptions train;
  train.epochs = 2;
  auto ds = Synthetic();
  const std::vector<uint32_t> idx = Range(0, 10);
  ASSERT_OK((*fedrep)->TrainLocally(trainer, {ds.get(), idx, idx}, train, 1, nullptr));
  ASSERT_EQ(trainer.calls.size(), 2u);
  EXPECT_EQ(trainer.calls[0].epochs, 3);  // the head, body frozen
  EXPECT_TRUE(trainer.calls[0].head_trains);
  EXPECT_FALSE(trainer.calls[0].body_trains);
  EXPECT_EQ(trainer.calls[1].epochs, 2);  // then the body, head frozen
  EXPECT_FALSE(trainer.calls[1].head_trains);
  EXPECT_TRUE(trainer.calls[1].body_trains);
}

// eval.new_client_shots: each point starts from the fresh device and fits only the personal
// part on the first n training examples, with the full adaptation's optimizer steps.
TEST(ClientRuntime, ANewClientsFewShotPointsFitOnlyThePersonalPartOnItsFirstExamples) {
  FedPerClient c(3, "fedper");
  RecordingTrainer trainer;
  EvalTask eval;
  eval.round = 2;
  eval.global_shared = c.task.global_shared;
  // 150 training examples: 4 full batches an epoch (the incomplete fifth is dropped), so the
  // full adaptation's 2 epochs take 8 optimizer steps.
  eval.options.batch_size = 32;
  eval.new_client_epochs = 2;
  eval.new_client_shots = {1, 40, 500};
  auto report = ClientRuntime(c.ctx).Evaluate(eval, trainer);
  ASSERT_OK(report);
  ASSERT_EQ(trainer.calls.size(), 4u);  // the full adaptation, then one fit per point
  EXPECT_EQ(trainer.calls[0].examples.size(), 150u);
  // 1 example: 1 batch an epoch; 40: 2 (the points keep incomplete batches); 500: all 150.
  const std::vector<std::pair<size_t, int>> expected = {{1, 8}, {40, 4}, {150, 2}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const RecordingTrainer::Call& fit = trainer.calls[i + 1];
    EXPECT_EQ(fit.examples, std::vector<uint32_t>(c.train.begin(),
                                                  c.train.begin() + expected[i].first));
    EXPECT_EQ(fit.epochs, expected[i].second) << "point " << i;
    EXPECT_TRUE(fit.head_trains);
    EXPECT_FALSE(fit.body_trains) << "a point fitted the shared body";
  }
  for (const char* view : {"shots_1", "shots_40", "shots_500"}) {
    EXPECT_EQ(report->personalized_views.count(view), 1u) << view;
  }
  // FedAvg evaluates its global model: its points fit nothing (a flat curve).
  FedPerClient avg(3, "fedavg");
  RecordingTrainer avg_trainer;
  eval.global_shared = avg.task.global_shared;
  ASSERT_OK(ClientRuntime(avg.ctx).Evaluate(eval, avg_trainer));
  EXPECT_EQ(avg_trainer.calls.size(), 1u);
  // Points a coordinator should never send are refused, naming them.
  eval.new_client_shots = {5, 5};
  auto refused = ClientRuntime(avg.ctx).Evaluate(eval, avg_trainer);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "few-shot points must increase"))
      << refused.status();
}

TEST(ClientRuntime, LgFedAvgUploadsTheHeadAndNeverTheBody) {
  FedPerClient c(3, "lg_fedavg");
  auto up = ClientRuntime(c.ctx).Train(c.task, *c.trainer);
  ASSERT_OK(up);
  auto sent = DeserializeParameterSet(up->payload);
  ASSERT_OK(sent);
  EXPECT_EQ(sent->names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  for (const char* body : {"conv1", "conv2", "fc1"}) {
    EXPECT_EQ(up->payload.find(body), std::string::npos) << body << " left the device";
  }
  auto stored = *c.store.Load(3, PersonalStore::kNewest);
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->Find("conv1.weight"), nullptr);
  EXPECT_EQ(stored->Find("fc2.weight"), nullptr);
}

TEST(ClientRuntime, FedBabuKeepsTheHeadFixedDuringFederationAndFineTunesOnlyToEvaluate) {
  FedPerClient c(8, "fedbabu");
  ClientRuntime runtime(c.ctx);
  for (int round = 1; round <= 2; ++round) {
    c.task.round = round;
    auto up = runtime.Train(c.task, *c.trainer);
    ASSERT_OK(up);
    EXPECT_GT(L2Norm(*DeserializeParameterSet(up->payload)), 0);  // the body learned
  }
  auto stored = *c.store.Load(8, PersonalStore::kNewest);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(*stored->Find("fc2.weight") == *c.initial->Find("fc2.weight"))
      << "the head moved during federation";
  // Evaluation fine-tunes (the result differs from the model as stored) and stores nothing.
  EvalTask eval{2, c.task.global_shared, c.task.options, 5};
  auto tuned = runtime.Evaluate(eval, *c.trainer);
  ASSERT_OK(tuned);
  EXPECT_TRUE(*(*c.store.Load(8, PersonalStore::kNewest))->Find("fc2.weight") ==
              *c.initial->Find("fc2.weight"));
  FedPerClient untuned_client(8, "fedbabu");
  AlgorithmOptions none;
  none.finetune_epochs = 0;
  auto no_finetune = *CreateClientAlgorithm("fedbabu", untuned_client.spec, none);
  untuned_client.ctx.algorithm = no_finetune.get();
  untuned_client.ctx.store = &c.store;
  auto plain = ClientRuntime(untuned_client.ctx).Evaluate(eval, *untuned_client.trainer);
  ASSERT_OK(plain);
  EXPECT_NE(tuned->personalized.loss_sum, plain->personalized.loss_sum);
}

TEST(ClientRuntime, FedAvgWithFineTuningEvaluatesATunedCopyOfTheGlobalModel) {
  FedPerClient ft(9, "fedavg_ft"), plain(9, "fedavg");
  EvalTask eval{1, ft.task.global_shared, ft.task.options, 5};
  eval.global_shared = std::make_shared<const ParameterSet>(*ft.initial);
  auto tuned = ClientRuntime(ft.ctx).Evaluate(eval, *ft.trainer);
  auto untuned = ClientRuntime(plain.ctx).Evaluate(eval, *plain.trainer);
  ASSERT_OK(tuned);
  ASSERT_OK(untuned);
  EXPECT_LT(tuned->personalized.loss_sum, untuned->personalized.loss_sum);
  auto stored = ft.store.Load(9, PersonalStore::kNewest);
  ASSERT_OK(stored);
  EXPECT_FALSE(stored->has_value()) << "evaluation must not store the fine-tuned model";
  // What it evaluates is not the global model, so no report may call it that; the global
  // model is evaluated separately, before tuning, and is the plain FedAvg client's model.
  EXPECT_FALSE(ft.algorithm->has_global_model());
  EXPECT_TRUE(plain.algorithm->has_global_model());
  ASSERT_TRUE(tuned->global.has_value());
  ASSERT_TRUE(untuned->global.has_value());
  EXPECT_EQ(tuned->global->loss_sum, untuned->personalized.loss_sum);
  EXPECT_EQ(untuned->global->loss_sum, untuned->personalized.loss_sum);
  // A personal head: there is no global model to evaluate.
  FedPerClient fedper(9);
  auto personal = ClientRuntime(fedper.ctx).Evaluate(eval, *fedper.trainer);
  ASSERT_OK(personal);
  EXPECT_FALSE(personal->global.has_value());
}

TEST(ClientAlgorithm, UnknownNameIsRefused) {
  EXPECT_STATUS(
      CreateClientAlgorithm("fedmagic", *GetModelSpec("fmnist_cnn"), AlgorithmOptions()),
      absl::StatusCode::kInvalidArgument, "fedmagic");
}

TEST(ClientRuntime, ARoundRunAgainStartsFromTheSamePersonalStateForEveryAlgorithm) {
  // The coordinator crashed after round 2 was trained but before it was committed, and runs
  // round 2 again with the same inputs: the personal part must not be trained twice.
  for (const char* name : {"fedper", "ditto", "apfl", "fedrep"}) {
    FedPerClient c(3, name);
    ClientRuntime runtime(c.ctx);
    ASSERT_OK(runtime.Train(c.task, *c.trainer));  // round 1
    c.task.round = 2;
    auto first = runtime.Train(c.task, *c.trainer);
    ASSERT_OK(first);
    const ParameterSet after_first = **c.store.Load(3, PersonalStore::kNewest);
    auto again = ClientRuntime(c.ctx).Train(c.task, *c.trainer);  // a restarted daemon, too
    ASSERT_OK(again);
    EXPECT_EQ(again->payload, first->payload) << name;
    EXPECT_TRUE(**c.store.Load(3, PersonalStore::kNewest) == after_first) << name;
    // DP-SGD's record-level account is the exception: it only grows.
  }
}

TEST(ClientRuntime, ARoundRunAgainStillCountsTheFirstRunsDpSgdSteps) {
  FedPerClient c(5);
  c.task.options.dp_sgd_clip_norm = 1.0;
  c.task.options.dp_sgd_noise_multiplier = 1.2;
  c.task.options.batch_size = 15;  // rate 0.1, 10 steps per epoch
  c.ctx.reproducible_private_noise = true;
  ASSERT_OK(ClientRuntime(c.ctx).Train(c.task, *c.trainer));
  auto rerun = ClientRuntime(c.ctx).Train(c.task, *c.trainer);  // round 1 again
  ASSERT_OK(rerun);
  EXPECT_NEAR(rerun->record_epsilon, SubsampledGaussianEpsilon(0.1, 1.2, 20, 1e-5)->epsilon,
              1e-12);
}

TEST(DirectoryPersonalStore, PersistsAndReportsCorruption) {
  const std::string dir = testing::MakeTempDir("store");
  DirectoryPersonalStore store(dir + "/state", Env::Default());
  auto empty = store.Load(1, PersonalStore::kNewest);
  ASSERT_OK(empty);
  EXPECT_FALSE(empty->has_value());
  ParameterSet p = testing::RandomSet({{"fc2.bias", {10}}}, 1);
  ASSERT_OK(store.Save(1, 1, p));
  DirectoryPersonalStore reopened(dir + "/state", Env::Default());
  EXPECT_TRUE(**reopened.Load(1, 1) == p);
  std::string bytes = *Env::Default()->ReadFile(dir + "/state/client-1.tlps");
  bytes.resize(bytes.size() - 5);
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/state/client-1.tlps", bytes));
  EXPECT_STATUS(reopened.Load(1, 1), absl::StatusCode::kDataLoss, "client-1.tlps");
  EXPECT_STATUS(store.Save(1, 0, p), absl::StatusCode::kInvalidArgument, "round >= 1");
}

// The state advances with committed rounds: a re-run of round r (the coordinator crashed before
// committing it) reads the state the first run started from, in memory and on disk alike.
void ExpectStateFollowsCommittedRounds(PersonalStore& store) {
  const ParameterSet a = testing::RandomSet({{"fc2.bias", {10}}}, 1);
  const ParameterSet b = testing::RandomSet({{"fc2.bias", {10}}}, 2);
  const ParameterSet b2 = testing::RandomSet({{"fc2.bias", {10}}}, 3);
  const ParameterSet c = testing::RandomSet({{"fc2.bias", {10}}}, 4);
  ASSERT_OK(store.Save(4, 2, a));     // trained in round 2
  ASSERT_OK(store.Save(4, 5, b));     // trained in round 5 (not committed yet)
  EXPECT_TRUE(**store.Load(4, 4) == a) << "round 5 re-run starts from round 2's state";
  EXPECT_TRUE(**store.Load(4, 5) == b) << "round 5's evaluation sees round 5";
  ASSERT_OK(store.Save(4, 5, b2));    // the re-run of round 5 replaces its first run
  EXPECT_TRUE(**store.Load(4, 4) == a) << "the base of round 5 is kept";
  EXPECT_TRUE(**store.Load(4, PersonalStore::kNewest) == b2);
  ASSERT_OK(store.Save(4, 7, c));     // round 7: round 5 was committed
  EXPECT_TRUE(**store.Load(4, 6) == b2);
  EXPECT_TRUE(**store.Load(4, 7) == c);
  // A state older than anything kept: the coordinator was rolled back under the client.
  EXPECT_STATUS(store.Load(4, 3), absl::StatusCode::kFailedPrecondition, "rolled back");
  // The first round run again starts fresh.
  ASSERT_OK(store.Save(9, 1, a));
  auto fresh = store.Load(9, 0);
  ASSERT_OK(fresh);
  EXPECT_FALSE(fresh->has_value());
}

TEST(PersonalStore, StateFollowsCommittedRoundsInMemory) {
  InMemoryPersonalStore store;
  ExpectStateFollowsCommittedRounds(store);
}

TEST(PersonalStore, StateFollowsCommittedRoundsOnDiskAcrossReopening) {
  const std::string dir = testing::MakeTempDir("versions");
  DirectoryPersonalStore store(dir, Env::Default());
  ExpectStateFollowsCommittedRounds(store);
  DirectoryPersonalStore reopened(dir, Env::Default());
  EXPECT_TRUE(**reopened.Load(4, 6) ==
              **store.Load(4, 6));
  // A process killed mid-write leaves a temporary file; the next one removes it, and only it.
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/client-4.tlps.tmp.999", "torn"));
  ASSERT_OK(reopened.RemoveTemporaryFiles());
  EXPECT_FALSE(Env::Default()->FileExists(dir + "/client-4.tlps.tmp.999"));
  EXPECT_TRUE(**reopened.Load(4, 7) == **store.Load(4, 7));
  // A state file from before rounds were recorded reads as round 0.
  ASSERT_OK(Env::Default()->WriteFileAtomically(
      dir + "/client-11.tlps",
      SerializeParameterSet(testing::RandomSet({{"fc2.bias", {10}}}, 5))));
  ASSERT_OK(reopened.Load(11, 1));
  EXPECT_TRUE(reopened.Load(11, 1)->has_value());
}

}  // namespace
}  // namespace tailor
