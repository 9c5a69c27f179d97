// Pretraining the base language model: it sees only the training clients' train text, resumes
// from its checkpoint, and experiments start from what it writes.
#include "sim/pretrain.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "core/config_loader.h"
#include "core/serialization.h"
#include "data/text_dataset.h"
#include "models/model_spec.h"
#include "sim/experiment.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(Pretraining, SeesNoValTestOrHeldOutTextOfDebiansFortunes) {
  config::DataConfig data;
  data.set_dataset("fortunes");
  data.set_path(kFortunesRoot);
  data.set_num_clients(60);
  data.mutable_text()->set_min_texts_per_client(50);
  data.mutable_text()->set_val_fraction(0.1);
  data.mutable_text()->set_test_fraction(0.1);
  const int held_out = 9;
  absl::StatusOr<FederatedDataset> f = BuildFederatedDataset(data, 7, Env::Default(), held_out);
  ASSERT_OK(f);
  const auto& texts = dynamic_cast<const TextDataset&>(*f->pool).texts;
  std::set<std::string> forbidden, allowed;
  for (size_t c = 0; c < f->clients.size(); ++c) {
    const ClientSplit& s = f->clients[c];
    const bool unseen = c >= f->clients.size() - held_out;
    for (uint32_t i : s.train) (unseen ? forbidden : allowed).insert(texts[i]);
    for (uint32_t i : s.val) forbidden.insert(texts[i]);
    for (uint32_t i : s.test) forbidden.insert(texts[i]);
  }
  const std::vector<uint32_t> corpus = PretrainingIndices(*f, held_out);
  ASSERT_FALSE(corpus.empty());
  for (uint32_t i : corpus) {
    ASSERT_EQ(forbidden.count(texts[i]), 0u) << texts[i];
    ASSERT_EQ(allowed.count(texts[i]), 1u);
  }
  // And validation is the training clients' val text, none of it trained on.
  for (uint32_t i : PretrainingValidationIndices(*f, held_out)) {
    ASSERT_EQ(allowed.count(texts[i]), 0u);
  }
}

config::ExperimentConfig TinyConfig(const std::string& dir) {
  EXPECT_OK(Env::Default()->CreateDirs(dir + "/texts"));
  for (int u = 0; u < 4; ++u) {
    std::string text;
    for (int i = 0; i < 12; ++i) absl::StrAppend(&text, "user ", u, " says thing ", i, "\n%\n");
    EXPECT_OK(Env::Default()->WriteFileAtomically(absl::StrCat(dir, "/texts/u", u), text));
  }
  auto c = ParseExperimentConfig(
      absl::StrCat("name: \"pre\" rounds: 1 data { dataset: \"text_dir\" path: \"", dir,
                   "/texts\" num_clients: 4 text { min_texts_per_client: 10 } } "
                   "model { architecture: \"byte_transformer_tiny\" lora { rank: 2 } } "
                   "train { learning_rate: 0.1 batch_size: 4 } eval { new_clients: 1 } "
                   "pretrain { steps: 4 eval_every_steps: 2 } output_dir: \"",
                   dir, "/run\""),
      "pre.textproto");
  EXPECT_OK(c);
  return *c;
}

TEST(Pretraining, WritesTheBaseResumesAndExperimentsStartFromIt) {
  const std::string dir = testing::MakeTempDir("pretrain");
  config::ExperimentConfig c = TinyConfig(dir);
  absl::StatusOr<PretrainResult> first = RunPretraining(c, Env::Default(), nullptr);
  ASSERT_OK(first);
  EXPECT_EQ(first->steps, 4);
  EXPECT_FALSE(first->resumed);
  EXPECT_TRUE(std::isfinite(first->val_bpb));
  // The base only: no LoRA adapter in the file.
  absl::StatusOr<ParameterSet> base =
      DeserializeParameterSet(*Env::Default()->ReadFile(first->output));
  ASSERT_OK(base);
  for (const auto& e : base->entries()) EXPECT_EQ(e.name.find("lora"), std::string::npos) << e.name;
  c.mutable_pretrain()->set_steps(6);
  absl::StatusOr<PretrainResult> more = RunPretraining(c, Env::Default(), nullptr);
  ASSERT_OK(more);
  EXPECT_TRUE(more->resumed);
  EXPECT_EQ(more->steps, 6);

  // An experiment from the pretrained base: its tensors, and fresh adapters (B = 0).
  c.mutable_model()->set_initial_model(more->output);
  const ModelSpec spec = *BuildModelSpec(ModelOptionsOf(c.model()));
  absl::StatusOr<ParameterSet> start = InitialModel(c, spec, Env::Default());
  ASSERT_OK(start);
  base = DeserializeParameterSet(*Env::Default()->ReadFile(more->output));
  const Tensor& want = *base->Find("blocks.0.attn.q.weight");
  const Tensor& got = *start->Find("blocks.0.attn.q.weight");
  EXPECT_TRUE(std::equal(want.f32().begin(), want.f32().end(), got.f32().begin()));
  for (float v : start->Find("blocks.1.attn.v.lora_B")->f32()) ASSERT_EQ(v, 0.0f);
}

TEST(InitialModel, RefusesTensorsTheModelLacksOrShapesItDoesNot) {
  const std::string dir = testing::MakeTempDir("initial");
  config::ExperimentConfig c = TinyConfig(dir);
  const ModelSpec spec = *BuildModelSpec(ModelOptionsOf(c.model()));
  auto write = [&](const std::string& name, Tensor t) {
    ParameterSet set;
    EXPECT_OK(set.Add(name, std::move(t)));
    EXPECT_OK(Env::Default()->WriteFileAtomically(dir + "/m.tlps", SerializeParameterSet(set)));
  };
  c.mutable_model()->set_initial_model(dir + "/m.tlps");
  write("fc9.weight", Tensor(DType::kFloat32, {2}));
  EXPECT_STATUS(InitialModel(c, spec, Env::Default()), absl::StatusCode::kInvalidArgument,
                "'fc9.weight', which model byte_transformer_tiny does not have");
  write("ln_f.weight", Tensor(DType::kFloat32, {33}));
  EXPECT_STATUS(InitialModel(c, spec, Env::Default()), absl::StatusCode::kInvalidArgument,
                "other model options");
  Tensor nan(DType::kFloat32, {32});
  nan.f32()[3] = std::nanf("");
  write("ln_f.weight", nan);
  EXPECT_STATUS(InitialModel(c, spec, Env::Default()), absl::StatusCode::kInvalidArgument,
                "non-finite");
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/m.tlps", "not a parameter file"));
  EXPECT_FALSE(InitialModel(c, spec, Env::Default()).ok());
  c.mutable_model()->set_initial_model(dir + "/missing.tlps");
  EXPECT_STATUS(InitialModel(c, spec, Env::Default()), absl::StatusCode::kNotFound, "missing.tlps");
}

}  // namespace
}  // namespace tailor
