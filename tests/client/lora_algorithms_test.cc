// The LoRA algorithms on the byte transformer: the base is frozen (never trained, never
// uploaded), and each algorithm uploads exactly its shared adapter matrices.
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client_runtime.h"
#include "core/serialization.h"
#include "core/wire_update.h"
#include "data/image_dataset.h"
#include "data/preference_dataset.h"
#include "data/text_dataset.h"
#include "models/transformer_spec.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

std::shared_ptr<TextDataset> Texts() {
  auto ds = std::make_shared<TextDataset>();
  for (int i = 0; i < 48; ++i) {
    ds->texts.push_back(absl::StrCat("A fortune, number ", i, ": ", std::string(i % 7 + 1, 'x')));
  }
  return ds;
}

ModelSpec TinyLora() {
  ModelOptions o;
  o.architecture = "byte_transformer_tiny";
  o.lora.rank = 2;
  o.lora.personal_rank = 1;  // the personal adapters dual_lora trains (frozen for the others)
  return *BuildModelSpec(o);
}

struct LmClient {
  explicit LmClient(const std::string& name)
      : spec(TinyLora()),
        algorithm(*CreateClientAlgorithm(name, spec, AlgorithmOptions())),
        initial(std::make_shared<const ParameterSet>(InitialParameters(spec, 3))),
        trainer(*LocalTrainer::Create(spec)) {
    for (uint32_t i = 0; i < 40; ++i) train.push_back(i);
    for (uint32_t i = 40; i < 48; ++i) test.push_back(i);
    ctx.client_id = 0;
    ctx.algorithm = algorithm.get();
    ctx.store = &store;
    ctx.data = {ds.get(), train, test};
    ctx.initial_model = initial;
    task.round = 1;
    task.global_shared =
        std::make_shared<const ParameterSet>(algorithm->policy().Shared(*initial));
    task.options.learning_rate = 0.5;
    task.options.batch_size = 8;
    task.seed = 11;
  }
  std::shared_ptr<TextDataset> ds = Texts();
  ModelSpec spec;
  std::unique_ptr<ClientAlgorithm> algorithm;
  std::shared_ptr<const ParameterSet> initial;
  InMemoryPersonalStore store;
  std::vector<uint32_t> train, test;
  ClientContext ctx;
  TrainTask task;
  std::unique_ptr<LocalTrainer> trainer;
};

std::set<std::string> Kinds(const ParameterSet& set) {
  std::set<std::string> kinds;
  for (const auto& e : set.entries()) {
    kinds.insert(absl::EndsWith(e.name, ".lora_A")    ? "A"
                 : absl::EndsWith(e.name, ".lora_B")  ? "B"
                 : absl::EndsWith(e.name, ".plora_A") ? "pA"
                 : absl::EndsWith(e.name, ".plora_B") ? "pB"
                                                      : "base");
  }
  return kinds;
}

bool Equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::equal(a.f32().begin(), a.f32().end(), b.f32().begin(), b.f32().end());
}

TEST(LoraAlgorithms, EachUploadsExactlyItsSharedAdaptersAndNeverTheBase) {
  const std::map<std::string, std::set<std::string>> uploads = {
      {"fedit", {"A", "B"}}, {"ffa_lora", {"B"}}, {"fedsa_lora", {"A"}},
      {"ditto_lora", {"A", "B"}}, {"oppu", {}}, {"dual_lora", {"A", "B"}}};
  for (const auto& [name, kinds] : uploads) {
    SCOPED_TRACE(name);
    LmClient c(name);
    EXPECT_EQ(Kinds(*c.task.global_shared), kinds);  // what the coordinator distributes
    ClientRuntime runtime(c.ctx);
    absl::StatusOr<UpdateUpload> up = runtime.Train(c.task, *c.trainer);
    ASSERT_OK(up);
    absl::StatusOr<ParameterSet> sent = DeserializeParameterSet(up->payload);
    ASSERT_OK(sent);
    EXPECT_EQ(Kinds(*sent), kinds);
    EXPECT_EQ(sent->size(), c.task.global_shared->size());
    // Training changed no base weight (and, under FFA-LoRA, no A; but under dual_lora, no
    // personal adapter); it did change every B it trains.
    const ParameterSet after = c.trainer->Snapshot();
    for (const auto& e : after.entries()) {
      const bool personal_adapter = absl::StrContains(e.name, ".plora_");
      const bool fixed = (!absl::StrContains(e.name, "lora_") ||
                          (name == "ffa_lora" && absl::EndsWith(e.name, ".lora_A")) ||
                          personal_adapter) &&
                         !(personal_adapter && name == "dual_lora");
      EXPECT_EQ(Equal(e.tensor, *c.initial->Find(e.name)), fixed) << e.name;
    }
  }
}

TEST(LoraAlgorithms, PersonalAdaptersStayOnTheDevice) {
  for (const auto& [name, personal] : std::map<std::string, std::set<std::string>>{
           {"fedsa_lora", {"B"}}, {"oppu", {"A", "B"}}, {"fedit", {}},
           {"dual_lora", {"pA", "pB"}}}) {
    SCOPED_TRACE(name);
    LmClient c(name);
    ClientRuntime runtime(c.ctx);
    ASSERT_OK(runtime.Train(c.task, *c.trainer));
    absl::StatusOr<std::optional<ParameterSet>> stored = c.store.Load(0, PersonalStore::kNewest);
    ASSERT_OK(stored);
    const ParameterSet held =
        stored->has_value() ? ClientRuntime::SplitStoredState(**stored).personal : ParameterSet();
    EXPECT_EQ(Kinds(held), personal);
  }
  EXPECT_FALSE(LmClient("oppu").algorithm->federated());
}

TEST(LoraAlgorithms, RefuseAModelWithoutAdapters) {
  EXPECT_STATUS(CreateClientAlgorithm("fedsa_lora", *GetModelSpec("byte_transformer_tiny"),
                                      AlgorithmOptions()),
                absl::StatusCode::kInvalidArgument, "model.lora.rank");
  ModelOptions shared_only;
  shared_only.architecture = "byte_transformer_tiny";
  shared_only.lora.rank = 2;
  EXPECT_STATUS(CreateClientAlgorithm("dual_lora", *BuildModelSpec(shared_only), AlgorithmOptions()),
                absl::StatusCode::kInvalidArgument, "model.lora.personal_rank");
}

TEST(WireUpdate, RefusesToUploadAFrozenOrPersonalAdapterTensor) {
  const ModelSpec spec = TinyLora();
  const ParameterSet init = InitialParameters(spec, 1);
  const PersonalizationPolicy fedsa(
      {"*.lora_B"}, {"tok_emb.weight", "blocks.*.weight", "blocks.*.bias"});
  ParameterSet b;
  ASSERT_OK(b.Add("blocks.0.attn.q.lora_B", *init.Find("blocks.0.attn.q.lora_B")));
  EXPECT_STATUS(EncodeSharedUpdate(b, fedsa), absl::StatusCode::kFailedPrecondition, "personal");
  ParameterSet base;
  ASSERT_OK(base.Add("blocks.0.attn.q.weight", *init.Find("blocks.0.attn.q.weight")));
  EXPECT_STATUS(EncodeSharedUpdate(base, fedsa), absl::StatusCode::kFailedPrecondition, "frozen");
  ParameterSet a;
  ASSERT_OK(a.Add("blocks.0.attn.q.lora_A", *init.Find("blocks.0.attn.q.lora_A")));
  EXPECT_OK(EncodeSharedUpdate(a, fedsa));
}

// The language-model evaluation end to end through the trainer: a model whose output head is
// zero predicts every token with probability 1/258, so it scores log2(258) bits per byte on
// any text, long ones (several context windows) included, and every byte plus one terminator
// per text is scored exactly once.
TEST(LanguageModelEvaluation, AUniformModelScoresLog2OfTheVocabularyPerByte) {
  const ModelSpec spec = *GetModelSpec("byte_transformer_tiny");
  ParameterSet model = InitialParameters(spec, 1);
  for (float& v : model.FindMutable("lm_head.weight")->f32()) v = 0;
  auto trainer = *LocalTrainer::Create(spec);
  ASSERT_OK(trainer->Load(model));
  TextDataset texts;
  texts.texts = {"short", std::string(300, 'x'), "", "a\nb"};  // 300 bytes: 10 windows of 64
  absl::StatusOr<EvalStats> stats = trainer->Evaluate(texts, {0, 1, 2, 3});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->count, (5 + 1) + (300 + 1) + (0 + 1) + (3 + 1));
  const double bpb = MetricOf(TaskKind::kCausalLanguageModel)
                         .Of(stats->correct, stats->count, stats->loss_sum);
  EXPECT_NEAR(bpb, std::log2(258.0), 1e-5);
  // Training data of the wrong kind is refused, naming both.
  EXPECT_STATUS(trainer->Evaluate(*std::make_shared<ImageDataset>(), {}),
                absl::StatusCode::kInvalidArgument, "causal_lm");
}

// Fine-tuning before an evaluation chooses its epochs on the validation split: a learning rate
// that ruins the model is not kept (the test set is never consulted).
TEST(FineTuning, KeepsTheEpochCountWithTheLowestValidationLoss) {
  for (const double lr : {4.0, 0.5}) {
    SCOPED_TRACE(lr);
    LmClient c("fedavg_ft");
    std::vector<uint32_t> val = {0, 1, 2, 3, 4, 5, 6, 7};
    LocalData data = c.ctx.data;
    TrainOptions options;
    options.learning_rate = lr;
    options.batch_size = 8;
    ASSERT_OK(c.trainer->Load(*c.initial));
    ASSERT_OK(c.algorithm->PrepareEvaluation(*c.trainer, data, options, 1, ParameterSet()));
    const bool changed_without_val =
        !Equal(*c.trainer->Snapshot().Find("lm_head.weight"), *c.initial->Find("lm_head.weight"));
    EXPECT_TRUE(changed_without_val);
    data.val = val;
    ASSERT_OK(c.trainer->Load(*c.initial));
    absl::StatusOr<EvalStats> before = c.trainer->Evaluate(*data.pool, data.val);
    ASSERT_OK(c.algorithm->PrepareEvaluation(*c.trainer, data, options, 1, ParameterSet()));
    absl::StatusOr<EvalStats> after = c.trainer->Evaluate(*data.pool, data.val);
    EXPECT_LE(after->loss_sum, before->loss_sum);
    const bool kept_start =
        Equal(*c.trainer->Snapshot().Find("lm_head.weight"), *c.initial->Find("lm_head.weight"));
    EXPECT_EQ(kept_start, lr == 4.0);
  }
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Pairwise preferences through the trainer: Bradley-Terry's loss on rewards read at each
// candidate's end, pairwise accuracy as the metric. A preference the model can see (the
// shorter candidate wins) is learned well above chance on pairs it never trained on; a model
// scoring every candidate alike is at chance with log-loss ln 2 per pair.
TEST(RewardTraining, LearnsAVisiblePreferenceAndScoresPairsByBradleyTerry) {
  ModelOptions o;
  o.architecture = "byte_reward_tiny";
  const ModelSpec spec = *BuildModelSpec(o);
  auto trainer = *LocalTrainer::Create(spec);
  ParameterSet model = InitialParameters(spec, 2);
  for (float& v : model.FindMutable("reward.w")->f32()) v = 0;
  ASSERT_OK(trainer->Load(model));
  PreferenceDataset pairs;
  pairs.texts = {""};
  Rng rng(4);
  for (int i = 0; i < 160; ++i) {
    const size_t short_len = 3 + rng.UniformInt(10), long_len = 25 + rng.UniformInt(30);
    auto text = [&rng](size_t n) {
      std::string t;
      for (size_t k = 0; k < n; ++k) t.push_back(static_cast<char>('a' + rng.UniformInt(26)));
      return t;
    };
    pairs.texts.push_back(text(short_len));
    pairs.texts.push_back(text(long_len));
    const uint32_t s = static_cast<uint32_t>(pairs.texts.size() - 2);
    pairs.pairs.push_back({0, s, s + 1});
  }
  std::vector<uint32_t> train, test;
  for (uint32_t i = 0; i < 160; ++i) (i < 120 ? train : test).push_back(i);
  absl::StatusOr<EvalStats> before = trainer->Evaluate(pairs, test);
  ASSERT_OK(before);
  EXPECT_EQ(before->count, 40);
  EXPECT_NEAR(before->loss_sum / before->count, std::log(2.0), 1e-6);  // every reward 0
  TrainOptions t;
  t.learning_rate = 0.1;
  t.momentum = 0.9;
  t.batch_size = 8;
  t.epochs = 4;
  ASSERT_OK(trainer->Train(pairs, train, t, nullptr, 1));
  absl::StatusOr<EvalStats> after = trainer->Evaluate(pairs, test);
  ASSERT_OK(after);
  EXPECT_GE(MetricOf(TaskKind::kPairwisePreference).Of(after->correct, after->count, 0), 0.9);
  EXPECT_LT(after->loss_sum / after->count, std::log(2.0));
  // Reward() reads a candidate as the pairs do: the chosen beats the rejected exactly on the
  // pairs Evaluate counted correct.
  std::vector<std::string> candidates;
  for (uint32_t i : test) {
    candidates.push_back(pairs.texts[pairs.pairs[i].chosen]);
    candidates.push_back(pairs.texts[pairs.pairs[i].rejected]);
  }
  absl::StatusOr<std::vector<double>> rewards = trainer->Reward("", candidates);
  ASSERT_OK(rewards);
  ASSERT_EQ(rewards->size(), 2 * test.size());
  int64_t wins = 0;
  for (size_t i = 0; i < test.size(); ++i) wins += (*rewards)[2 * i] > (*rewards)[2 * i + 1];
  EXPECT_EQ(wins, after->correct);
  // Text data for a reward model is refused, naming both tasks.
  EXPECT_STATUS(trainer->Evaluate(TextDataset(), {}), absl::StatusCode::kInvalidArgument,
                "pairwise_preference");
  // A language model scores no candidates.
  auto lm = *LocalTrainer::Create("byte_transformer_tiny");
  EXPECT_STATUS(lm->Reward("", {"a"}), absl::StatusCode::kInvalidArgument, "not a reward model");
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Pairs where the shorter of two random lowercase strings is chosen.
PreferenceDataset ShorterWins(int n, uint64_t seed) {
  PreferenceDataset pairs;
  pairs.texts = {""};
  Rng rng(seed);
  auto text = [&rng](size_t len) {
    std::string t;
    for (size_t k = 0; k < len; ++k) t.push_back(static_cast<char>('a' + rng.UniformInt(26)));
    return t;
  };
  for (int i = 0; i < n; ++i) {
    pairs.texts.push_back(text(3 + rng.UniformInt(8)));
    pairs.texts.push_back(text(20 + rng.UniformInt(20)));
    const uint32_t s = static_cast<uint32_t>(pairs.texts.size() - 2);
    pairs.pairs.push_back({0, s, s + 1});
  }
  return pairs;
}

// DPO through the trainer: at the start the adapters are zero, the model is its reference and
// every implicit reward is 0 (log-loss ln 2); it learns a visible preference; a larger beta
// keeps it nearer the reference (DPO's loss saturates once beta times the margin is large, so
// the log-likelihood ratios it ends with shrink as beta grows: the KL-regularized optimum's
// behaviour), with the learning rate scaled by 1 / beta so that every beta starts with the
// same step.
TEST(DpoTraining, StartsAtTheReferenceLearnsAPreferenceAndLargeBetaStaysNear) {
  const PreferenceDataset pairs = ShorterWins(96, 5);
  std::vector<uint32_t> train, test;
  for (uint32_t i = 0; i < 96; ++i) (i < 64 ? train : test).push_back(i);
  std::vector<std::string> trained_candidates;
  for (uint32_t i : train) {
    trained_candidates.push_back(pairs.texts[pairs.pairs[i].chosen]);
    trained_candidates.push_back(pairs.texts[pairs.pairs[i].rejected]);
  }
  // Per beta: the mean |log pi/pi_ref| of the trained candidates and the mean margin (the
  // chosen's log-ratio minus the rejected's).
  double mean_abs_ratio[3] = {0, 0, 0};
  double margin[3] = {0, 0, 0};
  const double betas[3] = {0.1, 1, 10};
  for (int b = 0; b < 3; ++b) {
    ModelOptions o;
    o.architecture = "byte_dpo_tiny";
    o.reward.beta = betas[b];
    const ModelSpec spec = *BuildModelSpec(o);
    auto trainer = *LocalTrainer::Create(spec);
    ASSERT_OK(trainer->Load(InitialParameters(spec, 3)));
    absl::StatusOr<EvalStats> before = trainer->Evaluate(pairs, test);
    ASSERT_OK(before);
    EXPECT_NEAR(before->loss_sum / before->count, std::log(2.0), 1e-6) << "not at the reference";
    TrainOptions t;
    t.learning_rate = 0.3 / betas[b];
    t.batch_size = 8;
    t.epochs = 40;
    // Only the adapters train (what every LoRA algorithm does): the base stays the reference.
    t.frozen = [](const std::string& name) { return name.find("lora_") == std::string::npos; };
    ASSERT_OK(trainer->Train(pairs, train, t, nullptr, 1));
    absl::StatusOr<EvalStats> after = trainer->Evaluate(pairs, test);
    ASSERT_OK(after);
    if (b == 0) {
      EXPECT_GE(MetricOf(TaskKind::kPairwisePreference).Of(after->correct, after->count, 0), 0.85);
    }
    absl::StatusOr<std::vector<double>> rewards = trainer->Reward("", trained_candidates);
    ASSERT_OK(rewards);
    for (double r : *rewards) mean_abs_ratio[b] += std::abs(r / betas[b]) / rewards->size();
    for (size_t i = 0; i < rewards->size(); i += 2) {
      margin[b] += ((*rewards)[i] - (*rewards)[i + 1]) / betas[b] / (rewards->size() / 2);
    }
    // The tuned model still generates.
    GenerationOptions g;
    g.max_bytes = 8;
    EXPECT_OK(trainer->Generate("ab", g).status());
  }
  for (int b = 1; b < 3; ++b) {
    EXPECT_GT(margin[b], 0) << "beta " << betas[b] << " did not learn the preference";
    EXPECT_LT(margin[b], margin[b - 1]) << "beta " << betas[b];
  }
  EXPECT_LT(mean_abs_ratio[2], mean_abs_ratio[0] / 2)
      << "log-ratios " << mean_abs_ratio[0] << " (beta 0.1) vs " << mean_abs_ratio[2]
      << " (beta 10)";
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Reward-guided decoding (ARGS): with weight 0 it is the model's own greedy text; a guide that
// rewards the letter 'a' steers a greedy decoder to write 'a's; a guide's failure is returned.
TEST(GuidedDecoding, TheGuideSteersEachStepAndWeightZeroIsTheModelAlone) {
  auto trainer = *LocalTrainer::Create("byte_transformer_tiny");
  ASSERT_OK(trainer->Load(InitialParameters(*GetModelSpec("byte_transformer_tiny"), 5)));
  GenerationOptions g;
  g.temperature = 0;
  g.max_bytes = 12;
  const TextScorer count_a = [](const std::vector<std::string>& texts) {
    std::vector<double> r;
    for (const std::string& t : texts) r.push_back(static_cast<double>(std::count(t.begin(), t.end(), 'a')));
    return absl::StatusOr<std::vector<double>>(r);
  };
  absl::StatusOr<std::string> plain = trainer->Generate("x", g);
  ASSERT_OK(plain);
  g.guide_top_k = 300;  // every token a candidate, so 'a' is always among them
  g.guide_weight = 0;
  absl::StatusOr<std::string> unguided = trainer->GenerateGuided("x", g, *WholeTextGuide(count_a, 0));
  ASSERT_OK(unguided);
  EXPECT_EQ(*unguided, *plain);
  g.guide_weight = 1000;
  absl::StatusOr<std::string> steered = trainer->GenerateGuided("x", g, *WholeTextGuide(count_a, 0));
  ASSERT_OK(steered);
  EXPECT_EQ(*steered, std::string(12, 'a'));
  const TextScorer broken = [](const std::vector<std::string>&) {
    return absl::StatusOr<std::vector<double>>(absl::UnavailableError("reward model gone"));
  };
  EXPECT_STATUS(trainer->GenerateGuided("x", g, *WholeTextGuide(broken, 0)), absl::StatusCode::kUnavailable,
                "reward model gone");
  g.guide_top_k = 0;
  EXPECT_STATUS(trainer->GenerateGuided("x", g, *WholeTextGuide(count_a, 0)), absl::StatusCode::kInvalidArgument,
                "guide_top_k >= 1");
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

std::unique_ptr<LocalTrainer> RandomRewardModel(const std::string& head, const std::string& pool,
                                                int context, uint64_t seed) {
  ModelOptions o;
  o.architecture = "byte_reward_tiny";
  o.reward.head = head;
  o.reward.pool = pool;
  o.transformer.context = context;
  const ModelSpec spec = *BuildModelSpec(o);
  auto trainer = *LocalTrainer::Create(spec);
  ParameterSet p = InitialParameters(spec, seed);
  // A user who is not the generic one, so the user head's personal term counts.
  if (Tensor* user = p.FindMutable("reward.user"); user != nullptr) {
    Rng rng(seed);
    for (float& v : user->f32()) v = static_cast<float>(rng.Uniform() - 0.5);
  }
  EXPECT_OK(trainer->Load(p));
  return trainer;
}

// The reward model's cached guide gives, at every step, the rewards Reward() gives the whole
// texts (each head, both poolings, with and without a prompt, and past the context where both
// cut the text), whether the appended byte was just scored (its row reused) or not, reading
// about two positions per next byte instead of the whole text.
TEST(RewardGuide, ScoresEachNextByteAsTheWholeTextIsScored) {
  const std::string text = "a cached reward reads only the next byte";  // 40 bytes > context
  for (const std::string head : {"linear", "user", "pal", "lore"}) {
    for (const std::string pool : {"end", "mean"}) {
      for (const std::string prompt : {"", "q?"}) {
        SCOPED_TRACE(head + "/" + pool + "/'" + prompt + "'");
        auto model = RandomRewardModel(head, pool, /*context=*/24, 7);
        absl::StatusOr<std::unique_ptr<TextGuide>> guide = model->RewardGuide(prompt);
        ASSERT_OK(guide);
        std::string so_far;
        for (char next : text) {
          // Every third byte is appended unscored (read on its own, not reused from a row).
          if (so_far.size() % 3 == 2) {
            ASSERT_OK((*guide)->Append(static_cast<unsigned char>(next)));
            so_far.push_back(next);
            continue;
          }
          absl::StatusOr<std::vector<double>> cached = (*guide)->ScoreNext({'x', next, kEosToken});
          ASSERT_OK(cached);
          absl::StatusOr<std::vector<double>> whole =
              model->Reward(prompt, {so_far + 'x', so_far + next, so_far});
          ASSERT_OK(whole);
          ASSERT_EQ(cached->size(), 3u);
          for (size_t i = 0; i < 3; ++i) {
            ASSERT_NEAR((*cached)[i], (*whole)[i], 1e-4) << "after " << so_far.size() << " bytes";
          }
          ASSERT_OK((*guide)->Append(static_cast<unsigned char>(next)));
          so_far.push_back(next);
        }
        // Whole texts would have read every text again at each step.
        EXPECT_LT((*guide)->positions(), 7 * static_cast<int64_t>(text.size()) + 4);
      }
    }
  }
  auto model = RandomRewardModel("linear", "end", 24, 7);
  std::unique_ptr<TextGuide> guide = *model->RewardGuide("");
  EXPECT_STATUS(guide->Append(kEosToken), absl::StatusCode::kInvalidArgument, "only bytes");
  auto lm = *LocalTrainer::Create("byte_transformer_tiny");
  EXPECT_STATUS(lm->RewardGuide(""), absl::StatusCode::kInvalidArgument, "not a reward model");
}

// Guided decoding with the cached guide writes the same text as with whole texts rescored at
// every step, and costs a fraction of the positions.
TEST(RewardGuide, GuidedDecodingWritesTheSameTextAsWholeTexts) {
  auto lm = *LocalTrainer::Create("byte_transformer_tiny");
  ASSERT_OK(lm->Load(InitialParameters(*GetModelSpec("byte_transformer_tiny"), 5)));
  auto reward = RandomRewardModel("user", "end", 128, 9);
  GenerationOptions g;
  g.max_bytes = 60;
  g.seed = 3;
  g.guide_weight = 20;
  g.guide_top_k = 6;
  std::unique_ptr<TextGuide> cached = *reward->RewardGuide("");
  std::unique_ptr<TextGuide> whole = WholeTextGuide(
      [&](const std::vector<std::string>& t) { return reward->Reward("", t); }, 2);
  absl::StatusOr<std::string> a = lm->GenerateGuided("", g, *cached);
  absl::StatusOr<std::string> b = lm->GenerateGuided("", g, *whole);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(*a, *b);
  EXPECT_GT(a->size(), 20u);
  // The weight matters: the unguided sample differs.
  g.guide_weight = 0;
  EXPECT_NE(*lm->GenerateGuided("", g, **reward->RewardGuide("")), *a);
  EXPECT_LT(cached->positions() * 5, whole->positions());
}

}  // namespace
}  // namespace tailor
