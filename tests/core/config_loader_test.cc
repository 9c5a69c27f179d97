#include "core/config_loader.h"

#include <dirent.h>

#include "tests/test_util.h"

namespace tailor {
namespace {

constexpr char kMinimal[] = R"(
rounds: 3
data { num_clients: 5 }
)";

TEST(ConfigLoader, AppliesDefaults) {
  auto c = ParseExperimentConfig(kMinimal, "runs/minimal.textproto");
  ASSERT_OK(c);
  EXPECT_EQ(c->name(), "minimal");
  EXPECT_EQ(c->data().dataset(), "fashion_mnist");
  EXPECT_DOUBLE_EQ(c->data().train_fraction(), 0.75);
  EXPECT_TRUE(c->data().has_iid());
  EXPECT_DOUBLE_EQ(c->train().learning_rate(), 0.005);
  EXPECT_EQ(c->train().batch_size(), 10);
  EXPECT_EQ(c->algorithm().name(), "fedavg");
  EXPECT_EQ(c->output_dir(), "runs/minimal");
}

TEST(ConfigLoader, UnknownFieldNamesFileLineAndField) {
  const std::string text = "rounds: 3\ndata {\n  num_clients: 5\n  colour: 2\n}\n";
  EXPECT_STATUS(ParseExperimentConfig(text, "x.textproto"), absl::StatusCode::kInvalidArgument,
                "x.textproto:4:");
  EXPECT_STATUS(ParseExperimentConfig(text, "x.textproto"), absl::StatusCode::kInvalidArgument,
                "colour");
}

TEST(ConfigLoader, WrongTypeNamesLine) {
  const std::string text = "rounds: 3\ntrain { batch_size: \"ten\" }\ndata { num_clients: 5 }\n";
  EXPECT_STATUS(ParseExperimentConfig(text, "x.textproto"), absl::StatusCode::kInvalidArgument,
                "x.textproto:2:");
}

TEST(ConfigLoader, OutOfRangeValueNamesFileLineAndField) {
  const std::string text = "rounds: 3\ndata { num_clients: 5 }\ntrain {\n  learning_rate: -1\n}\n";
  auto c = ParseExperimentConfig(text, "x.textproto");
  EXPECT_STATUS(c, absl::StatusCode::kInvalidArgument,
                "x.textproto:4:3: train.learning_rate: must be > 0, got -1");
}

TEST(ConfigLoader, EachRangeCheck) {
  struct Case {
    const char* text;
    const char* field;
  };
  const Case cases[] = {
      {"rounds: 0 data { num_clients: 5 }", "rounds"},
      {"rounds: 1 data { num_clients: 0 }", "data.num_clients"},
      {"rounds: 1 data { num_clients: 5 train_fraction: 1 }", "data.train_fraction"},
      {"rounds: 1 data { num_clients: 5 dirichlet { alpha: 0 } }", "data.dirichlet.alpha"},
      {"rounds: 1 data { num_clients: 5 dataset: \"cifar\" }", "data.dataset"},
      {"rounds: 1 data { num_clients: 5 } train { batch_size: 0 }", "train.batch_size"},
      {"rounds: 1 data { num_clients: 5 } train { momentum: 1 }", "train.momentum"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedmagic\" }", "algorithm.name"},
      {"rounds: 1 data { num_clients: 5 } server { clients_per_round: 6 }",
       "server.clients_per_round"},
      {"rounds: 1 data { num_clients: 5 } server { aggregator: \"mode\" }", "server.aggregator"},
      {"rounds: 1 data { num_clients: 5 } server { aggregator: \"trimmed_mean\" trim_fraction: 0.5 "
       "}",
       "server.trim_fraction"},
      {"rounds: 1 data { num_clients: 5 } server { norm_bound: -2 }", "server.norm_bound"},
      {"rounds: 1 data { num_clients: 5 } server { aggregator: \"median\" norm_bound: 2 }",
       "server.norm_bound"},
      {"rounds: 1 data { num_clients: 5 } server { min_updates: 9 }", "server.min_updates"},
      {"rounds: 1 data { num_clients: 5 } server { short_round: \"give_up\" }",
       "server.short_round"},
      {"name: \"../../etc/x\" rounds: 1 data { num_clients: 5 }", "name"},
      {"name: \"a/b\" rounds: 1 data { num_clients: 5 }", "name"},
      {"name: \"..\" rounds: 1 data { num_clients: 5 }", "name"},
      {"rounds: 1 data { num_clients: 5 } server { max_round_attempts: -1 }",
       "server.max_round_attempts"},
      {"rounds: 1 data { num_clients: 5 } server { keep_models: -1 }", "server.keep_models"},
      {"rounds: 1 output_dir: \"runs/\\xff\"", "output_dir"},
      {"rounds: 1 algorithm { name: \"fed\\xc0\\xafavg\" }", "algorithm.name"},
      {"rounds: 1 data { num_clients: 5 } server { optimizer: \"adamw\" }", "server.optimizer"},
      {"rounds: 1 data { num_clients: 5 } server { optimizer: \"fedavgm\" server_momentum: 1 }",
       "server.server_momentum"},
      {"rounds: 1 data { num_clients: 5 } server { optimizer: \"fedadam\" beta1: -0.5 }",
       "server.beta1"},
      {"rounds: 1 data { num_clients: 5 } server { optimizer: \"fedyogi\" beta2: 1.5 }",
       "server.beta2"},
      {"rounds: 1 data { num_clients: 5 } server { optimizer: \"fedadagrad\" tau: 0 }",
       "server.tau"},
      {"rounds: 1 data { num_clients: 5 } server { aggregator: \"krum\" byzantine_clients: 2 }",
       "server.byzantine_clients"},
      {"rounds: 1 data { num_clients: 20 } server { aggregator: \"multi_krum\" min_updates: 4 "
       "byzantine_clients: 1 }",
       "server.byzantine_clients"},
      {"rounds: 1 data { num_clients: 9 } server { aggregator: \"multi_krum\" "
       "multi_krum_selected: 9 }",
       "server.multi_krum_selected"},
      {"rounds: 1 data { num_clients: 9 } server { aggregator: \"krum\" multi_krum_selected: 2 }",
       "server.multi_krum_selected"},
      {"rounds: 1 data { num_clients: 9 } upload { codec: \"zstd\" }", "upload.codec"},
      {"rounds: 1 data { num_clients: 9 } upload { codec: \"topk\" topk_fraction: 0 }",
       "upload.topk_fraction"},
      {"rounds: 1 data { num_clients: 9 } train { proximal_mu: -1 }", "train.proximal_mu"},
      {"rounds: 1 data { num_clients: 9 } algorithm { name: \"fedprox\" } train { proximal_mu: 0 }",
       "train.proximal_mu"},
      {"rounds: 1 data { num_clients: 9 } server { aggregation_buffer_mb: -1 }",
       "server.aggregation_buffer_mb"},
      {"rounds: 1 data { num_clients: 9 } simulation { attack { byzantine_fraction: 0.5 } }",
       "simulation.attack.byzantine_fraction"},
      {"rounds: 1 data { num_clients: 9 } simulation { attack { kind: \"label_flip\" } }",
       "simulation.attack.kind"},
      {"rounds: 1 data { num_clients: 9 } simulation { attack { scale: 0 } }",
       "simulation.attack.scale"},
      {"rounds: 1 data { num_clients: 9 } server { byzantine_clients: 1 }",
       "server.byzantine_clients"},
      {"rounds: 1 data { num_clients: 5 } eval { every_rounds: 0 }", "eval.every_rounds"},
      {"rounds: 1 data { num_clients: 5 } privacy { clip_norm: -1 }", "privacy.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secret\" }",
       "secure_aggregation.mode"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg\" }",
       "secure_aggregation.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg\" clip_norm: 1 "
       "threshold: 1 }",
       "secure_aggregation.threshold"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg_plus\" clip_norm: "
       "1 neighbours: 3 }",
       "secure_aggregation.neighbours"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg\" clip_norm: 1 "
       "simulated_dropout { after_share: 2 } }",
       "secure_aggregation.simulated_dropout.after_share"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg\" clip_norm: 1 "
       "simulated_dropout { at { round: 1 client: 2 boundary: \"mid_air\" } } }",
       "secure_aggregation.simulated_dropout.at.boundary"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg\" clip_norm: 1 "
       "simulated_dropout { at { round: 0 client: 2 boundary: \"after_share\" } } }",
       "secure_aggregation.simulated_dropout.at"},
      {"rounds: 1 data { num_clients: 5 } server { aggregator: \"median\" } "
       "secure_aggregation { mode: \"secagg\" clip_norm: 1 }",
       "server.aggregator"},
      {"rounds: 1 data { num_clients: 5 } privacy { clip_norm: 1 noise_multiplier: 1 } "
       "secure_aggregation { mode: \"secagg\" clip_norm: 1 }",
       "secure_aggregation.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } secure_aggregation { mode: \"secagg\" clip_norm: 1 "
       "distributed_noise: true }",
       "secure_aggregation.distributed_noise"},
      {"rounds: 1 data { num_clients: 5 } privacy { clip_norm: 1 noise_multiplier: 1 "
       "adaptive_clipping { enabled: true } } secure_aggregation { mode: \"secagg\" "
       "distributed_noise: true }",
       "secure_aggregation.distributed_noise"},
      {"rounds: 1 data { num_clients: 5 } privacy { noise_multiplier: inf }",
       "privacy.noise_multiplier"},
      {"rounds: 1 data { num_clients: 5 } privacy { target_epsilon: -3 }",
       "privacy.target_epsilon"},
      {"rounds: 1 data { num_clients: 5 } privacy { epsilon_budget: nan }",
       "privacy.epsilon_budget"},
      {"rounds: 1 data { num_clients: 5 } privacy { delta: 1 }", "privacy.delta"},
      {"rounds: 1 data { num_clients: 5 } privacy { sampling_rate: 1.5 }",
       "privacy.sampling_rate"},
      {"rounds: 1 data { num_clients: 5 } privacy { noise: \"mt19937\" }", "privacy.noise"},
      {"rounds: 1 data { num_clients: 5 } privacy { adaptive_clipping { target_quantile: 1 } }",
       "privacy.adaptive_clipping.target_quantile"},
      {"rounds: 1 data { num_clients: 5 } privacy { adaptive_clipping { learning_rate: 0 } }",
       "privacy.adaptive_clipping.learning_rate"},
      {"rounds: 1 data { num_clients: 5 } privacy { adaptive_clipping { count_stddev: -1 } }",
       "privacy.adaptive_clipping.count_stddev"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedrep\" head_epochs: 0 }",
       "algorithm.head_epochs"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedbabu\" finetune_epochs: -1 }",
       "algorithm.finetune_epochs"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"ditto\" ditto_lambda: -1 }",
       "algorithm.ditto_lambda"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"ditto\" personal_epochs: 0 }",
       "algorithm.personal_epochs"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"apfl\" apfl_alpha: 1.5 }",
       "algorithm.apfl_alpha"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedala\" ala_learning_rate: 0 }",
       "algorithm.ala_learning_rate"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedala\" ala_data_fraction: 1.2 }",
       "algorithm.ala_data_fraction"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedala\" ala_layers: 0 }",
       "algorithm.ala_layers"},
      // Preference datasets: a reward model, the simulated users' options named, users not
      // a partition.
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" }", "model.architecture"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" } model { architecture: "
       "\"byte_reward_tiny\" }",
       "model.architecture"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" preference { alpha: -1 "
       "} } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.alpha"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" preference { axis: "
       "\"grumpy\" } } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.axis"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" preference { "
       "consensus_weight: -0.5 } } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.consensus_weight"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" preference { "
       "max_train_pairs: 5 } } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.max_train_pairs"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_jsonl\" } model { architecture: "
       "\"byte_reward_tiny\" }",
       "data.path"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" iid {} } model { "
       "architecture: \"byte_reward_tiny\" }",
       "data.dataset"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_jsonl\" path: \"p.jsonl\" "
       "preference { test_fraction: 0 } } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.test_fraction"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_fortunes\" } model { architecture: "
       "\"byte_reward_tiny\" reward { head: \"softmax\" } }",
       "model.reward.head"},
      // Archetype labellers: one per archetype, and only of the fortunes.
      {"rounds: 1 data { num_clients: 13 dataset: \"preference_fortunes\" preference { "
       "archetype_users: true } } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.archetype_users"},
      {"rounds: 1 data { num_clients: 5 dataset: \"preference_jsonl\" path: \"p.jsonl\" "
       "preference { archetype_users: true } } model { architecture: \"byte_reward_tiny\" }",
       "data.preference.archetype_users"},
      // The algorithm registry also judges whether the model can run the algorithm.
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" } model { architecture: "
       "\"byte_transformer_tiny\" } algorithm { name: \"fedsa_lora\" }",
       "algorithm.name"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedbn\" }", "algorithm.name"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"fedper\" personal_patterns: \"\" }",
       "algorithm.personal_patterns"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"local\" } "
       "privacy { clip_norm: 1 noise_multiplier: 1 }",
       "privacy.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } eval { new_clients: 5 }", "eval.new_clients"},
      {"rounds: 1 data { num_clients: 5 dirichlet { alpha: 1 per_client: true "
       "pfllib_numpy_seed: 1 } }",
       "data.dirichlet.per_client"},
      {"rounds: 1 data { num_clients: 5 } eval { new_clients: -1 }", "eval.new_clients"},
      {"rounds: 1 data { num_clients: 5 } eval { new_clients: 1 new_client_epochs: 0 }",
       "eval.new_client_epochs"},
      {"rounds: 1 data { num_clients: 5 } eval { new_client_shots: [1, 5] }",
       "eval.new_client_shots"},
      {"rounds: 1 data { num_clients: 5 } eval { new_clients: 1 new_client_shots: [5, 2] }",
       "eval.new_client_shots"},
      {"rounds: 1 data { num_clients: 5 } eval { new_clients: 1 new_client_shots: 0 }",
       "eval.new_client_shots"},
      {"rounds: 1 data { num_clients: 5 } train { dp_sgd { clip_norm: -1 } }",
       "train.dp_sgd.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } train { dp_sgd { clip_norm: 1 } }",
       "train.dp_sgd.noise_multiplier"},
      {"rounds: 1 data { num_clients: 5 } train { dp_sgd { clip_norm: 1 noise_multiplier: 1 "
       "delta: 0 } }",
       "train.dp_sgd.delta"},
      // Privacy on, and the rest of the config must not undo it.
      {"rounds: 1 data { num_clients: 5 } privacy { noise_multiplier: 1 }", "privacy.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } privacy { clip_norm: 1 }", "privacy.noise_multiplier"},
      {"rounds: 1 data { num_clients: 5 } server { aggregator: \"median\" } "
       "privacy { clip_norm: 1 noise_multiplier: 1 }",
       "server.aggregator"},
      {"rounds: 1 data { num_clients: 5 } server { norm_bound: 3 } "
       "privacy { clip_norm: 1 noise_multiplier: 1 }",
       "server.aggregator"},
      {"rounds: 1 data { num_clients: 5 } server { min_updates: 2 } "
       "privacy { clip_norm: 1 noise_multiplier: 1 }",
       "server.min_updates"},
      {"rounds: 1 data { num_clients: 5 } algorithm { name: \"local\" } "
       "privacy { clip_norm: 1 noise_multiplier: 1 }",
       "privacy.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } simulation { attack { byzantine_fraction: 0.2 } } "
       "privacy { clip_norm: 1 noise_multiplier: 1 }",
       "simulation.attack.byzantine_fraction"},
      {"rounds: 1 data { num_clients: 5 } model { architecture: \"resnet\" }",
       "model.architecture"},
      // The model registry's own option checks, named under model.
      {"rounds: 1 data { num_clients: 5 } model { architecture: \"byte_transformer\" "
       "transformer { heads: 3 } }",
       "model.transformer.heads"},
      {"rounds: 1 data { num_clients: 5 } model { architecture: \"byte_transformer\" "
       "lora { rank: 4 targets: \"x\" } }",
       "model.lora.targets"},
      {"rounds: 1 data { num_clients: 5 } model { architecture: \"fmnist_cnn\" lora { rank: 2 } }",
       "model.lora"},
      // A language model cannot train on images, nor an image model on text.
      {"rounds: 1 data { num_clients: 5 } model { architecture: \"byte_transformer_tiny\" }",
       "model.architecture"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" }", "model.architecture"},
      // Text datasets: users are the clients, so no partition or sample cap; sane fractions.
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" iid {} } "
       "model { architecture: \"byte_transformer_tiny\" }",
       "data.dataset"},
      {"rounds: 1 data { num_clients: 5 dataset: \"text_dir\" } "
       "model { architecture: \"byte_transformer_tiny\" }",
       "data.path"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" max_samples: 100 } "
       "model { architecture: \"byte_transformer_tiny\" }",
       "data.max_samples"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" text { test_fraction: 0.6 } } "
       "model { architecture: \"byte_transformer_tiny\" }",
       "data.text.test_fraction"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" text { min_texts_per_client: 2 } } "
       "model { architecture: \"byte_transformer_tiny\" }",
       "data.text.min_texts_per_client"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" "
       "text { max_texts_per_client: 10 } } model { architecture: \"byte_transformer_tiny\" }",
       "data.text.max_texts_per_client"},
      {"rounds: 1 data { num_clients: 5 text { val_fraction: 0.1 } }", "data.text"},
      {"rounds: 1 data { num_clients: 5 dataset: \"fortunes\" } "
       "model { architecture: \"byte_transformer_tiny\" } "
       "train { dp_sgd { clip_norm: 1 noise_multiplier: 1 } }",
       "train.dp_sgd.clip_norm"},
      {"rounds: 1 data { num_clients: 5 } pretrain { steps: 10 }", "pretrain"},
  };
  for (const Case& c : cases) {
    auto r = ParseExperimentConfig(c.text, "c.textproto");
    EXPECT_STATUS(r, absl::StatusCode::kInvalidArgument, std::string(c.field) + ":");
  }
}

TEST(ConfigLoader, PrivacyDefaultsFollowTheCohort) {
  auto c = ParseExperimentConfig(
      "rounds: 1 data { num_clients: 40 } server { clients_per_round: 10 } "
      "privacy { clip_norm: 0.5 target_epsilon: 3 }",
      "p.textproto");
  ASSERT_OK(c);
  EXPECT_TRUE(PrivacyEnabled(*c));
  EXPECT_DOUBLE_EQ(c->privacy().sampling_rate(), 0.25);
  EXPECT_DOUBLE_EQ(c->privacy().delta(), 1e-5);
  EXPECT_DOUBLE_EQ(c->privacy().adaptive_clipping().target_quantile(), 0.5);
  auto off = ParseExperimentConfig("rounds: 1 data { num_clients: 4 }", "o.textproto");
  ASSERT_OK(off);
  EXPECT_FALSE(PrivacyEnabled(*off));
  EXPECT_DOUBLE_EQ(off->privacy().sampling_rate(), 1.0);
}

TEST(ConfigLoader, OverridesApplyAndAreValidated) {
  auto c = ParseExperimentConfig(kMinimal, "m.textproto",
                                 {{"rounds", "7"},
                                  {"train.learning_rate", "0.1"},
                                  {"output_dir", "/tmp/x y"},
                                  {"algorithm.name", "fedper"}});
  ASSERT_OK(c);
  EXPECT_EQ(c->rounds(), 7);
  EXPECT_DOUBLE_EQ(c->train().learning_rate(), 0.1);
  EXPECT_EQ(c->output_dir(), "/tmp/x y");
  EXPECT_EQ(c->algorithm().name(), "fedper");
  EXPECT_STATUS(ParseExperimentConfig(kMinimal, "m.textproto", {{"rounds", "-1"}}),
                absl::StatusCode::kInvalidArgument, "rounds: must be >= 1");
  EXPECT_STATUS(ParseExperimentConfig(kMinimal, "m.textproto", {{"no_such", "1"}}),
                absl::StatusCode::kInvalidArgument, "no_such");
  EXPECT_STATUS(ParseOverride("rounds"), absl::StatusCode::kInvalidArgument, "field.path=value");
}

TEST(ConfigLoader, MissingFileIsNotFound) {
  EXPECT_STATUS(LoadExperimentConfig("/nonexistent/x.textproto", Env::Default()),
                absl::StatusCode::kNotFound, "cannot read config");
}

TEST(ConfigLoader, EveryShippedConfigLoads) {
  // Tests run from the source root (see tailor_test in CMakeLists.txt).
  DIR* dir = ::opendir("configs");
  ASSERT_NE(dir, nullptr) << "run from the repository root";
  int loaded = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name.size() < 10 || name.substr(name.size() - 10) != ".textproto") continue;
    auto c = LoadExperimentConfig("configs/" + name, Env::Default());
    EXPECT_OK(c) << name;
    ++loaded;
  }
  ::closedir(dir);
  EXPECT_GE(loaded, 5);
}

}  // namespace
}  // namespace tailor
