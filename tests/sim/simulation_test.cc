// End to end: a tiny federated simulation on a slice of Debian's Fashion-MNIST, through the
// same Coordinator/Round/ClientRuntime code a deployment runs.
#include "sim/simulation.h"

#include "core/config_loader.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "absl/strings/str_format.h"
#include "core/wire_update.h"
#include "privacy/rdp_accountant.h"
#include "sim/byzantine.h"
#include "sim/experiment.h"
#include "sim/summary_table.h"
#include "sim/svg_plot.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

config::ExperimentConfig TinyConfig(const std::string& algorithm, int workers) {
  auto c = ParseExperimentConfig(
      R"(
    name: "tiny"
    seed: 5
    rounds: 2
    data { num_clients: 4 max_samples: 1600 dirichlet { alpha: 0.5 min_samples_per_client: 40 } }
    train { learning_rate: 0.02 }
  )",
      "tiny.textproto",
      {{"algorithm.name", algorithm},
       {"simulation.workers", std::to_string(workers)},
       // FedBN keeps the normalization layers personal: it needs a model that has them.
       {"model.architecture", algorithm == "fedbn" ? "fmnist_cnn_bn" : "fmnist_cnn"}});
  EXPECT_OK(c);
  return *c;
}

SimulationResult RunTiny(const config::ExperimentConfig& c) {
  SimulationOptions o;
  o.write_outputs = false;
  o.keep_personal_states = true;
  auto r = RunSimulation(c, o);
  EXPECT_OK(r);
  return r.ok() ? *std::move(r) : SimulationResult();
}

TEST(Simulation, FedPerClientsShareTheBodyAndKeepDifferentHeads) {
  SimulationResult r = RunTiny(TinyConfig("fedper", 2));
  ASSERT_EQ(r.rounds.size(), 2u);
  ASSERT_EQ(r.personal_states.size(), 4u);
  // The shared set is exactly the body: every client's model body is the global one.
  EXPECT_EQ(r.final_shared->Find("fc2.weight"), nullptr);
  EXPECT_NE(r.final_shared->Find("conv1.weight"), nullptr);
  for (const auto& [id, personal] : r.personal_states) {
    EXPECT_EQ(personal.names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"})) << id;
    EXPECT_EQ(personal.Find("conv1.weight"), nullptr);
  }
  // Heads differ between clients.
  for (int a = 0; a < 4; ++a) {
    for (int b = a + 1; b < 4; ++b) {
      EXPECT_FALSE(*r.personal_states[a].Find("fc2.weight") ==
                   *r.personal_states[b].Find("fc2.weight"))
          << a << " and " << b << " have the same head";
    }
  }
  ASSERT_TRUE(r.rounds.back().eval.has_value());
  EXPECT_GT(r.rounds.back().eval->micro, 0.3);  // far above chance (0.1)
  EXPECT_EQ(r.rounds.back().accepted, 4);
  const std::string table = FormatSummaryTable({r});
  EXPECT_NE(table.find("fedper"), std::string::npos);
}

TEST(Simulation, SameSeedSameNumbersWhateverTheWorkerCount) {
  SimulationResult one = RunTiny(TinyConfig("fedavg", 1));
  SimulationResult two = RunTiny(TinyConfig("fedavg", 2));
  ASSERT_TRUE(one.final_shared && two.final_shared);
  EXPECT_TRUE(*one.final_shared == *two.final_shared) << "worker count changed the model";
  ASSERT_TRUE(one.rounds.back().eval && two.rounds.back().eval);
  EXPECT_EQ(one.rounds.back().eval->micro, two.rounds.back().eval->micro);
  EXPECT_EQ(one.rounds.back().train_loss, two.rounds.back().train_loss);
}

// The algorithms with state of their own and the held-out new clients are as deterministic as
// FedAvg: the worker count (which client trains on which thread, in which order) changes
// nothing.
TEST(Simulation, StatefulAlgorithmsAndNewClientsRepeatWhateverTheWorkerCount) {
  for (const char* algorithm : {"ditto", "apfl", "fedala", "fedbn"}) {
    auto with = [&](int workers) {
      config::ExperimentConfig c = TinyConfig(algorithm, workers);
      c.mutable_eval()->set_new_clients(1);
      c.mutable_data()->set_max_samples(800);
      return RunTiny(c);
    };
    SimulationResult one = with(1), two = with(2);
    ASSERT_TRUE(one.final_shared && two.final_shared) << algorithm;
    EXPECT_TRUE(*one.final_shared == *two.final_shared) << algorithm;
    ASSERT_TRUE(one.rounds.back().new_client_eval && two.rounds.back().new_client_eval);
    EXPECT_EQ(one.rounds.back().eval->micro, two.rounds.back().eval->micro)
        << algorithm;
    EXPECT_EQ(one.rounds.back().new_client_eval->micro,
              two.rounds.back().new_client_eval->micro)
        << algorithm;
    EXPECT_EQ(one.rounds.back().cohort_size, 3) << "the held-out client trained";
    EXPECT_GT(one.rounds.back().new_client_eval->micro, 0.2) << algorithm;
  }
}

TEST(Simulation, PersonalStateOnDiskAndNeverMixedWithAnEarlierRun) {
  config::ExperimentConfig c = TinyConfig("fedper", 2);
  c.set_rounds(1);
  const std::string dir = testing::MakeTempDir("personal");
  c.mutable_simulation()->set_personal_state_dir(dir);
  SimulationResult first = RunTiny(c);
  ASSERT_EQ(first.personal_states.size(), 4u);
  EXPECT_TRUE(Env::Default()->FileExists(dir + "/client-0.tlps"));
  SimulationOptions o;
  o.write_outputs = false;
  EXPECT_STATUS(RunSimulation(c, o), absl::StatusCode::kFailedPrecondition,
                "already holds client 0's state");
}

TEST(Simulation, APopulationWhoseStateWouldNotFitInMemoryIsToldToUseADirectory) {
  const ModelSpec spec = *GetModelSpec("fmnist_cnn");
  const ParameterSet model = InitialParameters(spec, 1);  // 2.3 MB
  auto ditto = *CreateClientAlgorithm("ditto", spec, AlgorithmOptions());
  auto fedper = *CreateClientAlgorithm("fedper", spec, AlgorithmOptions());
  const uint64_t gib24 = uint64_t{24} << 30;
  // 10,000 Ditto clients keep 23 GB of personal models: refused, naming the way out.
  EXPECT_STATUS(CheckInMemoryDeviceState(10000, *ditto, model, gib24),
                absl::StatusCode::kFailedPrecondition, "simulation.personal_state_dir");
  EXPECT_OK(CheckInMemoryDeviceState(1000, *ditto, model, gib24));
  // FedPer keeps only its 20 KB head per client.
  EXPECT_OK(CheckInMemoryDeviceState(10000, *fedper, model, gib24));
}

TEST(Simulation, LocalOnlySharesNothing) {
  SimulationResult r = RunTiny(TinyConfig("local", 2));
  EXPECT_TRUE(r.final_shared->empty());
  EXPECT_EQ(r.personal_states.at(0).size(), 8u);
  EXPECT_FALSE(r.has_global_model);
}

TEST(Simulation, PatternThatMatchesNothingIsAConfigError) {
  auto c = TinyConfig("fedper", 1);
  c.mutable_algorithm()->add_personal_patterns("head.*");
  SimulationOptions o;
  o.write_outputs = false;
  EXPECT_STATUS(RunSimulation(c, o), absl::StatusCode::kInvalidArgument, "'head.*' matches no");
}

// Secure aggregation end to end (issue 17): virtual clients run the real protocol, and the
// coordinator, which sees only masked inputs, gets the same model, bit for bit, as the plain
// weighted mean of the same updates (a clip norm the updates never reach). With clients dropping
// at every phase the rounds still complete, and the summary says what was recovered.
TEST(Simulation, SecureAggregationGivesThePlainRunsModelAndSurvivesDropouts) {
  auto plain_config = TinyConfig("fedper", 2);
  SimulationResult plain = RunTiny(plain_config);
  for (const char* mode : {"secagg", "secagg_plus"}) {
    auto c = plain_config;
    auto* sa = c.mutable_secure_aggregation();
    sa->set_mode(mode);
    sa->set_threshold(2);
    if (std::string(mode) == "secagg_plus") sa->set_neighbours(2);  // a ring over 4 clients
    sa->set_clip_norm(1000);
    SimulationResult secure = RunTiny(c);
    ASSERT_EQ(secure.rounds.size(), plain.rounds.size()) << mode;
    EXPECT_TRUE(*secure.final_shared == *plain.final_shared) << mode;
    for (size_t i = 0; i < plain.rounds.size(); ++i) {
      const RoundRecord& s = secure.rounds[i];
      ASSERT_TRUE(s.secure_aggregation.has_value()) << mode;
      EXPECT_EQ(s.secure_aggregation->masked_inputs, 4) << mode;
      EXPECT_EQ(s.accepted, plain.rounds[i].accepted) << mode;
      EXPECT_EQ(s.train_samples, plain.rounds[i].train_samples) << mode;
      EXPECT_NEAR(s.train_loss, plain.rounds[i].train_loss, 1e-4) << mode;
      ASSERT_TRUE(s.eval.has_value());
      EXPECT_EQ(s.eval->micro, plain.rounds[i].eval->micro) << mode;
      // Every byte of the protocol against the update alone: more, but not twice as much.
      EXPECT_GT(s.secure_aggregation->protocol_bytes, s.secure_aggregation->plain_upload_bytes);
      EXPECT_LT(s.secure_aggregation->protocol_bytes, 2.5 * s.secure_aggregation->plain_upload_bytes);
    }
  }
  // Dropouts at each boundary over 8 rounds of 4 clients, threshold 2.
  auto c = plain_config;
  c.set_rounds(8);
  auto* sa = c.mutable_secure_aggregation();
  sa->set_mode("secagg");
  sa->set_threshold(2);
  sa->set_clip_norm(1000);
  auto* d = sa->mutable_simulated_dropout();
  d->set_before_advertise(0.1);
  d->set_after_advertise(0.1);
  d->set_after_share(0.15);
  d->set_after_input(0.1);
  SimulationResult dropped = RunTiny(c);
  ASSERT_EQ(dropped.rounds.size(), 8u);
  int64_t recovered = 0, summed = 0, advertised = 0;
  for (const RoundRecord& r : dropped.rounds) {
    if (r.skipped) continue;
    ASSERT_TRUE(r.secure_aggregation.has_value());
    recovered += r.secure_aggregation->recovered_dropouts;
    summed += r.secure_aggregation->masked_inputs;
    advertised += r.secure_aggregation->advertised;
    EXPECT_EQ(r.accepted, r.secure_aggregation->masked_inputs);
  }
  EXPECT_GT(recovered, 0) << "no client dropped between sharing keys and its masked input";
  EXPECT_LT(summed, advertised);
  const std::string table = FormatSummaryTable({dropped});
  EXPECT_NE(table.find("secure aggregation:"), std::string::npos) << table;
  EXPECT_NE(table.find("dropouts' masks recovered"), std::string::npos) << table;
}

// Secure aggregation composed with central DP (issue 17): clients clip to the DP clip norm and
// put the update in the round's DP grid themselves, the coordinator adds the same discrete
// Gaussian noise to the unmasked sum. With reproducible noise the private run with secure
// aggregation ends, bit for bit, where the private run without it ends, with the same epsilon
// and the same adaptive clip norm, while the coordinator saw only masked inputs.
TEST(Simulation, SecureAggregationUnderCentralDpGivesThePrivateRunsModel) {
  auto c = TinyConfig("fedper", 2);
  c.set_rounds(4);
  c.mutable_privacy()->set_clip_norm(0.05);
  c.mutable_privacy()->set_noise_multiplier(1.5);
  c.mutable_privacy()->set_sampling_rate(0.75);
  c.mutable_privacy()->mutable_adaptive_clipping()->set_enabled(true);
  c.mutable_privacy()->mutable_adaptive_clipping()->set_count_stddev(1.0);
  c.mutable_privacy()->set_release_unprotected_metrics(true);
  SimulationResult plain = RunTiny(c);
  auto* sa = c.mutable_secure_aggregation();
  sa->set_mode("secagg");
  sa->set_threshold(2);
  SimulationResult secure = RunTiny(c);
  ASSERT_EQ(secure.rounds.size(), plain.rounds.size());
  EXPECT_TRUE(*secure.final_shared == *plain.final_shared);
  int64_t summed = 0;
  for (size_t i = 0; i < plain.rounds.size(); ++i) {
    const RoundRecord& s = secure.rounds[i];
    ASSERT_TRUE(s.privacy.has_value());
    EXPECT_EQ(s.privacy->epsilon, plain.rounds[i].privacy->epsilon);
    EXPECT_EQ(s.privacy->clip_norm, plain.rounds[i].privacy->clip_norm) << "adaptive clipping";
    EXPECT_EQ(s.accepted, plain.rounds[i].accepted);
    if (!s.secure_aggregation) continue;
    summed += s.secure_aggregation->masked_inputs;
    // The DP grid's compact field: ~3 bytes a value instead of the weighted mean's 8, so the
    // whole protocol costs no more than the float32 update in the clear.
    EXPECT_LT(s.secure_aggregation->protocol_bytes, 1.1 * s.secure_aggregation->plain_upload_bytes);
  }
  EXPECT_GT(summed, 0) << "no round went through the protocol";
}

// 3 rounds of DP-FedAvg (every client sampled, z 1.5, counts released for the test) under
// SecAgg with `threshold`.
config::ExperimentConfig PrivateSecureConfig(int threshold) {
  auto c = TinyConfig("fedper", 2);
  c.set_rounds(3);
  c.mutable_privacy()->set_clip_norm(0.05);
  c.mutable_privacy()->set_noise_multiplier(1.5);
  c.mutable_privacy()->set_sampling_rate(1.0);
  c.mutable_privacy()->set_release_unprotected_metrics(true);
  c.mutable_secure_aggregation()->set_mode("secagg");
  c.mutable_secure_aggregation()->set_threshold(threshold);
  return c;
}

// Distributed DP under secure aggregation: every client adds its share of the noise before
// masking, so no party sees an un-noised sum; the rounds complete, each is accounted at the
// noise its survivors carried (never below the configured z, so never more epsilon than
// central DP spends), and the run repeats for its seed.
TEST(Simulation, DistributedNoiseUnderSecureAggregationIsAccountedAtTheNoiseCarried) {
  auto c = PrivateSecureConfig(/*threshold=*/2);
  auto* sa = c.mutable_secure_aggregation();
  SimulationResult central = RunTiny(c);
  sa->set_distributed_noise(true);
  SimulationResult distributed = RunTiny(c);
  SimulationResult again = RunTiny(c);
  ASSERT_EQ(distributed.rounds.size(), 3u);
  ASSERT_EQ(central.rounds.size(), 3u);
  EXPECT_TRUE(*distributed.final_shared == *again.final_shared) << "the same seed, the same run";
  EXPECT_FALSE(*distributed.final_shared == *central.final_shared)
      << "the clients' noise is not the coordinator's";
  for (size_t i = 0; i < 3; ++i) {
    const RoundRecord& r = distributed.rounds[i];
    ASSERT_TRUE(r.privacy.has_value());
    ASSERT_TRUE(r.secure_aggregation.has_value());
    EXPECT_EQ(r.secure_aggregation->masked_inputs, 4);
    // 4 survivors of a threshold of 2 carry twice the variance: z·sqrt(2).
    EXPECT_NEAR(r.privacy->noise_multiplier, 1.5 * std::sqrt(2.0), 1e-3);
    EXPECT_LT(r.privacy->epsilon, central.rounds[i].privacy->epsilon);
  }
}

// Under DP a round the protocol cannot unmask (here: fewer than the threshold advertise) still
// releases, the noise alone, and is accounted: retrying would sample the same Poisson cohort.
TEST(Simulation, UnderDpARoundSecureAggregationCannotUnmaskReleasesTheNoiseAlone) {
  auto c = PrivateSecureConfig(/*threshold=*/4);
  auto* at = c.mutable_secure_aggregation()->mutable_simulated_dropout()->add_at();
  at->set_round(2);
  at->set_client(1);
  at->set_boundary("before_advertise");
  SimulationResult r = RunTiny(c);
  ASSERT_EQ(r.rounds.size(), 3u);
  EXPECT_EQ(r.rounds[0].accepted, 4);
  EXPECT_EQ(r.rounds[1].accepted, 0) << "3 advertisers of a threshold of 4: nothing unmasked";
  EXPECT_FALSE(r.rounds[1].skipped);
  EXPECT_EQ(r.rounds[1].attempts, 1);
  EXPECT_EQ(r.rounds[2].accepted, 4);
  ASSERT_TRUE(r.rounds[1].privacy.has_value() && r.rounds[0].privacy.has_value());
  EXPECT_GT(r.rounds[1].privacy->epsilon, r.rounds[0].privacy->epsilon) << "the release is accounted";
}

// DP-FedAvg end to end: the real clients clip on the device (every accepted update reports
// whether it was within the norm), the run is reproducible for its seed, stops at its budget
// and says so in the summary, and every metrics line carries the epsilon spent.
TEST(Simulation, APrivateRunClipsOnTheDeviceStopsAtItsBudgetAndRepeatsForItsSeed) {
  auto c = TinyConfig("fedper", 2);
  c.set_rounds(10);
  c.mutable_privacy()->set_clip_norm(0.05);
  c.mutable_privacy()->set_noise_multiplier(1.5);
  c.mutable_privacy()->set_sampling_rate(0.75);
  const double budget = 0.5 * (SubsampledGaussianEpsilon(0.75, 1.5, 3, 1e-5)->epsilon +
                               SubsampledGaussianEpsilon(0.75, 1.5, 4, 1e-5)->epsilon);
  c.mutable_privacy()->set_epsilon_budget(budget);
  // This test reads the counts, which ε does not cover: the operator opts in.
  c.mutable_privacy()->set_release_unprotected_metrics(true);
  c.set_output_dir(testing::MakeTempDir("dp-sim") + "/run");
  SimulationOptions o;
  auto first = RunSimulation(c, o);
  ASSERT_OK(first);
  ASSERT_EQ(first->rounds.size(), 3u);
  EXPECT_NE(first->stop_reason.find("stopped after round 3 of 10"), std::string::npos)
      << first->stop_reason;
  int64_t accepted = 0, within = 0;
  for (const RoundRecord& r : first->rounds) {
    ASSERT_TRUE(r.privacy.has_value());
    EXPECT_LE(r.privacy->epsilon, budget);
    accepted += r.accepted;
    within += r.within_clip;
  }
  EXPECT_GT(accepted, 0);
  // Trained updates of a CNN body are far larger than 0.05: the clients clipped them.
  EXPECT_EQ(within, 0);
  const std::string table = FormatSummaryTable({*first});
  EXPECT_NE(table.find(absl::StrFormat("%.3f", first->rounds.back().privacy->epsilon)),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("stopped after round 3"), std::string::npos) << table;
  // The tighter PLD number for the same rounds is reported beside the budget's RDP one.
  EXPECT_GT(first->pld_epsilon, 0);
  EXPECT_LT(first->pld_epsilon, first->rounds.back().privacy->epsilon);
  EXPECT_NE(table.find("by PLD for the same 3 rounds"), std::string::npos) << table;
  auto jsonl = Env::Default()->ReadFile(c.output_dir() + "/metrics.jsonl");
  ASSERT_OK(jsonl);
  EXPECT_EQ(std::count(jsonl->begin(), jsonl->end(), '\n'), 3);
  EXPECT_NE(jsonl->find("\"privacy\":{\"epsilon\":"), std::string::npos) << *jsonl;

  c.set_output_dir(testing::MakeTempDir("dp-sim-again") + "/run");
  auto again = RunSimulation(c, o);
  ASSERT_OK(again);
  EXPECT_TRUE(*again->final_shared == *first->final_shared)
      << "reproducible noise should repeat for the same seed";
  c.mutable_privacy()->set_noise("secure");
  auto secure = RunSimulation(c, o);
  ASSERT_OK(secure);
  EXPECT_FALSE(*secure->final_shared == *first->final_shared)
      << "OS-keyed noise must not repeat the seeded noise";
}

TEST(Simulation, APrivateRunReleasesOnlyWhatEpsilonCoversUnlessTheOperatorOptsIn) {
  auto c = TinyConfig("fedper", 2);
  c.set_rounds(2);
  c.mutable_privacy()->set_clip_norm(0.05);
  c.mutable_privacy()->set_noise_multiplier(1.5);
  c.mutable_privacy()->set_sampling_rate(0.75);
  c.mutable_train()->mutable_dp_sgd()->set_clip_norm(1.0);
  c.mutable_train()->mutable_dp_sgd()->set_noise_multiplier(1.5);
  c.set_output_dir(testing::MakeTempDir("dp-withheld") + "/run");
  SimulationOptions o;
  auto withheld = RunSimulation(c, o);
  ASSERT_OK(withheld);
  const std::string jsonl = *Env::Default()->ReadFile(c.output_dir() + "/metrics.jsonl");
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 2);
  // Per-client accuracies, the training loss, exact counts and the record ε are not covered
  // by ε: none of them is released, and nothing is evaluated on the clients' data.
  for (const char* field : {"\"accepted\"", "\"cohort\"", "\"train_loss\"", "\"eval\"",
                            "client_accuracy", "record_epsilon_max", "\"failed\"",
                            "upload_bytes"}) {
    EXPECT_EQ(jsonl.find(field), std::string::npos) << field << " in\n" << jsonl;
  }
  EXPECT_NE(jsonl.find("\"withheld\":true"), std::string::npos) << jsonl;
  EXPECT_NE(jsonl.find("\"privacy\":{\"epsilon\":"), std::string::npos) << jsonl;
  for (const RoundRecord& r : withheld->rounds) {
    EXPECT_TRUE(r.withheld);
    EXPECT_FALSE(r.eval.has_value());
    EXPECT_EQ(r.accepted, 0);
  }
  // Opting in releases them; the model is the same either way.
  c.mutable_privacy()->set_release_unprotected_metrics(true);
  c.set_output_dir(testing::MakeTempDir("dp-released") + "/run");
  auto released = RunSimulation(c, o);
  ASSERT_OK(released);
  const std::string all = *Env::Default()->ReadFile(c.output_dir() + "/metrics.jsonl");
  EXPECT_NE(all.find("\"accepted\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"eval\""), std::string::npos) << all;
  EXPECT_TRUE(*released->final_shared == *withheld->final_shared);
}

TEST(Simulation, DpSgdClientsReportTheirRecordLevelEpsilon) {
  auto c = TinyConfig("fedavg", 2);
  c.set_rounds(1);
  c.mutable_train()->mutable_dp_sgd()->set_clip_norm(1.0);
  c.mutable_train()->mutable_dp_sgd()->set_noise_multiplier(1.5);
  c.set_output_dir(testing::MakeTempDir("dp-sgd") + "/run");
  SimulationOptions o;
  auto r = RunSimulation(c, o);
  ASSERT_OK(r);
  ASSERT_EQ(r->rounds.size(), 1u);
  EXPECT_GT(r->rounds[0].record_epsilon_max, 0);
  auto jsonl = Env::Default()->ReadFile(c.output_dir() + "/metrics.jsonl");
  ASSERT_OK(jsonl);
  EXPECT_NE(jsonl->find("\"record_epsilon_max\":"), std::string::npos) << *jsonl;
}

TEST(Simulation, WritesMetricsJsonl) {
  auto c = TinyConfig("fedavg", 2);
  c.set_rounds(1);
  c.set_output_dir(testing::MakeTempDir("sim") + "/run");
  SimulationOptions o;
  auto r = RunSimulation(c, o);
  ASSERT_OK(r);
  auto jsonl = Env::Default()->ReadFile(c.output_dir() + "/metrics.jsonl");
  ASSERT_OK(jsonl);
  EXPECT_NE(jsonl->find("\"round\":1"), std::string::npos);
  EXPECT_NE(jsonl->find("\"personalized_accuracy\""), std::string::npos);
  EXPECT_EQ(std::count(jsonl->begin(), jsonl->end(), '\n'), 1);
}

// Issue 4's Byzantine test in miniature (the full table is bench/byzantine.sh): 2 of 10 clients
// upload their update sign-flipped and x100. FedAvg's mean follows them; the median and
// Multi-Krum stay near the clean run.
TEST(Simulation, ASignFlippingMinorityBreaksFedAvgButNotTheRobustRules) {
  auto run = [](const std::string& rule, double fraction) -> absl::StatusOr<double> {
    auto c =
        ParseExperimentConfig(R"(
      name: "byz" seed: 2 rounds: 3
      data { num_clients: 10 max_samples: 3000 iid {} }
      train { learning_rate: 0.02 }
      simulation { workers: 2 attack { kind: "sign_flip" scale: 100 } }
    )",
                              "byz.textproto",
                              {{"server.aggregator", rule},
                               {"simulation.attack.byzantine_fraction", std::to_string(fraction)}});
    if (!c.ok()) return c.status();
    SimulationOptions o;
    o.write_outputs = false;
    TAILOR_ASSIGN_OR_RETURN(SimulationResult r, RunSimulation(*c, o));
    return r.rounds.back().eval->micro;
  };
  auto clean = run("weighted_mean", 0);
  ASSERT_OK(clean);
  EXPECT_GT(*clean, 0.35);  // far above chance (0.1) after 3 short rounds
  auto fedavg = run("weighted_mean", 0.2);
  // Either the mean drives training to divergence (the run stops with that error) or to chance.
  if (fedavg.ok()) {
    EXPECT_LT(*fedavg, 0.3);
  } else {
    EXPECT_NE(fedavg.status().message().find("diverged"), std::string::npos) << fedavg.status();
  }
  for (const std::string rule : {"median", "multi_krum"}) {
    auto robust = run(rule, 0.2);
    ASSERT_OK(robust);
    EXPECT_GT(*robust, *clean - 0.08) << rule << ": " << *robust << " vs clean " << *clean;
  }
}

TEST(ByzantineClients, AFixedSeededShareAttacksAndSignFlipScalesTheUpdate) {
  AttackOptions o;
  o.byzantine_fraction = 0.25;
  o.seed = 4;
  auto a = ByzantineClients::Create(10, o);
  auto b = ByzantineClients::Create(10, o);
  ASSERT_OK(a);
  EXPECT_EQ(a->count(), 2);  // floor(0.25 * 10)
  int n = 0;
  for (int64_t id = 0; id < 10; ++id) {
    EXPECT_EQ(a->IsByzantine(id), b->IsByzantine(id));
    n += a->IsByzantine(id);
  }
  EXPECT_EQ(n, 2);
  EXPECT_FALSE(a->IsByzantine(10));
  const ParameterSet honest = testing::RandomSet({{"w", {5}}}, 3, 0.1);
  UpdateUpload up;
  up.payload = *EncodeSharedUpdate(honest, PersonalizationPolicy());
  ASSERT_OK(a->Corrupt(&up));
  const ParameterSet bad = *DeserializeParameterSet(up.payload);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FLOAT_EQ(bad.entry(0).tensor.f32()[i], -100 * honest.entry(0).tensor.f32()[i]);
  }
  o.kind = "label_flip";
  EXPECT_STATUS(ByzantineClients::Create(10, o).status(), absl::StatusCode::kInvalidArgument,
                "unknown attack 'label_flip'");
  o.kind = "sign_flip";
  o.byzantine_fraction = 0.5;
  EXPECT_STATUS(ByzantineClients::Create(10, o).status(), absl::StatusCode::kInvalidArgument,
                "byzantine_fraction");
}

TEST(AccuracyPlot, OnePolylinePerRunWithEscapedNames) {
  auto run = [](const std::string& name, std::vector<double> accs) {
    SimulationResult r;
    r.name = name;
    for (size_t i = 0; i < accs.size(); ++i) {
      RoundRecord rec;
      rec.round = static_cast<int64_t>(i + 1);
      rec.eval = EvalSummary();
      rec.eval->micro = accs[i];
      r.rounds.push_back(rec);
    }
    return r;
  };
  const std::string svg =
      AccuracyPlotSvg({run("a<b", {0.5, 0.7, 0.9}), run("c", {0.2, 0.3, 0.35})}, "t&t");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  size_t lines = 0;
  for (size_t pos = svg.find("<polyline"); pos != std::string::npos;
       pos = svg.find("<polyline", pos + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u);
  EXPECT_NE(svg.find("a&lt;b"), std::string::npos);
  EXPECT_NE(svg.find("t&amp;t"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_EQ(svg.find("http://www.w3.org/2000/svg\""), svg.find("http"))  // only the namespace
      << "no external references";
}

}  // namespace
}  // namespace tailor
