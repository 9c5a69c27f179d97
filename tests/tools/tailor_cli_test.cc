// The `tailor` binary as a user meets it: exit codes and messages for bad invocations and
// configs, and a real (tiny) run.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/env.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Outcome RunTailor(const std::string& args) {
  const std::string cmd = std::string(TAILOR_BINARY) + " " + args + " 2>&1";
  Outcome out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.output.append(buf, n);
  const int status = ::pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string WriteConfig(const std::string& text) {
  const std::string path = testing::MakeTempDir("cli") + "/exp.textproto";
  EXPECT_OK(Env::Default()->WriteFileAtomically(path, text));
  return path;
}

// The mean of a numeric field over JSON lines (-1 when a line lacks it).
double MeanField(const std::string& jsonl, const std::string& field) {
  double sum = 0;
  int count = 0;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n', absl::SkipEmpty())) {
    const std::string key = "\"" + field + "\":";
    const size_t at = line.find(key);
    if (at == absl::string_view::npos) return -1;
    sum += std::strtod(std::string(line.substr(at + key.size())).c_str(), nullptr);
    ++count;
  }
  return count == 0 ? -1 : sum / count;
}

TEST(TailorCli, NoCommandPrintsUsageAndFails) {
  Outcome o = RunTailor("");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("tailor simulate"), std::string::npos);
  EXPECT_EQ(RunTailor("help").exit_code, 0);
  Outcome bad = RunTailor("frobnicate");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(TailorCli, BrokenConfigNamesFileLineAndField) {
  const std::string path =
      WriteConfig("rounds: 2\ndata { num_clients: 3 }\ntrain {\n  batch_size: -4\n}\n");
  Outcome o = RunTailor("simulate --config " + path);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find(path + ":4:3: train.batch_size: must be >= 1, got -4"), std::string::npos)
      << o.output;
}

TEST(TailorCli, MissingConfigAndBadOverride) {
  Outcome missing = RunTailor("simulate --config /nonexistent/x.textproto");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("cannot read config"), std::string::npos) << missing.output;
  Outcome no_config = RunTailor("simulate");
  EXPECT_EQ(no_config.exit_code, 2);
  EXPECT_NE(no_config.output.find("--config is required"), std::string::npos);
  const std::string path = WriteConfig("rounds: 1\ndata { num_clients: 2 }\n");
  Outcome bad_set = RunTailor("simulate --config " + path + " --set rounds");
  EXPECT_EQ(bad_set.exit_code, 2);
  EXPECT_NE(bad_set.output.find("field.path=value"), std::string::npos) << bad_set.output;
}

TEST(TailorCli, RepeatedSetFlagsAddUp) {
  // Abseil alone would keep only the last --set; the bad value must be seen whichever comes first.
  const std::string path = WriteConfig("rounds: 1\ndata { num_clients: 2 }\n");
  for (const std::string order :
       {"--set train.batch_size=-4 --set rounds=2", "--set rounds=2 --set=train.batch_size=-4"}) {
    Outcome o = RunTailor("simulate --config " + path + " " + order);
    EXPECT_EQ(o.exit_code, 2) << order;
    EXPECT_NE(o.output.find("train.batch_size: must be >= 1, got -4"), std::string::npos)
        << order << ": " << o.output;
  }
}

TEST(TailorCli, NetworkCommandsRefuseBadCredentialFiles) {
  const std::string path = WriteConfig("rounds: 1\ndata { num_clients: 2 }\n");
  const std::string dir = testing::MakeTempDir("cli-net");
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/bad-tokens", "0 a\nnot-a-number b\n"));
  Outcome bad =
      RunTailor("coordinator --config " + path + " --client_tokens " + dir + "/bad-tokens");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("bad-tokens:2: expected 'CLIENT_ID TOKEN'"), std::string::npos)
      << bad.output;
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/one-token", "0 a\n"));
  Outcome missing =
      RunTailor("coordinator --config " + path + " --client_tokens " + dir + "/one-token");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("no token for client 1"), std::string::npos) << missing.output;
  Outcome no_file = RunTailor("client --config " + path + " --client_id 0 --state_dir " + dir +
                              " --token_file " + dir + "/absent");
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_NE(no_file.output.find("cannot read --token_file"), std::string::npos) << no_file.output;
  Outcome bad_id = RunTailor("client --config " + path + " --client_id 5 --state_dir " + dir);
  EXPECT_EQ(bad_id.exit_code, 2);
  EXPECT_NE(bad_id.output.find("--client_id must be in [0, 2)"), std::string::npos);
}

TEST(TailorCli, TinyRunPrintsProgressSummaryAndWritesMetrics) {
  const std::string dir = testing::MakeTempDir("cli-run");
  const std::string path = WriteConfig(
      "name: \"cli\" rounds: 2 data { num_clients: 3 max_samples: 900 }\n"
      "algorithm { name: \"fedper\" } output_dir: \"" +
      dir + "/out\"\n");
  Outcome o = RunTailor("simulate --config " + path);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("[cli] round 2/2"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("pers.acc"), std::string::npos);
  EXPECT_NE(o.output.find("fedper"), std::string::npos);
  auto metrics = Env::Default()->ReadFile(dir + "/out/metrics.jsonl");
  ASSERT_OK(metrics);
  EXPECT_EQ(std::count(metrics->begin(), metrics->end(), '\n'), 2);
  EXPECT_TRUE(Env::Default()->FileExists(dir + "/out/config.resolved.textproto"));
}

TEST(TailorCli, PrivacyGivesEpsilonOrTheNoiseForATarget) {
  Outcome eps = RunTailor("privacy --q=0.01 --z=1.0 --steps=1000 --delta=1e-6");
  ASSERT_EQ(eps.exit_code, 0) << eps.output;
  EXPECT_NE(eps.output.find("epsilon: 2.436"), std::string::npos) << eps.output;
  Outcome z = RunTailor("privacy --q=0.01 --steps=1000 --delta=1e-6 --epsilon=2.4367");
  ASSERT_EQ(z.exit_code, 0) << z.output;
  EXPECT_NE(z.output.find("z: 1.000"), std::string::npos) << z.output;
  Outcome both = RunTailor("privacy --q=0.01 --steps=10 --z=1 --epsilon=2");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.output.find("exactly one of --z"), std::string::npos) << both.output;
  Outcome bad = RunTailor("privacy --q=2 --steps=10 --z=1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("sampling rate q must be in (0, 1]"), std::string::npos) << bad.output;
  // SecAgg+'s neighbours and threshold (privacy/secagg_graph.h), and a cohort too small for it.
  Outcome plus = RunTailor("privacy --secagg_clients=1000 --secagg_dropout=0.1");
  ASSERT_EQ(plus.exit_code, 0) << plus.output;
  EXPECT_NE(plus.output.find("neighbours k = 50, threshold t = 29"), std::string::npos)
      << plus.output;
  Outcome tiny = RunTailor("privacy --secagg_clients=2");
  EXPECT_EQ(tiny.exit_code, 2);
  EXPECT_NE(tiny.output.find(">= 3 clients"), std::string::npos) << tiny.output;
}

TEST(TailorCli, ThePrintedNoiseMultiplierMeetsTheTarget) {
  // z is printed rounded up: copying it into --z gives epsilon <= the target.
  Outcome z = RunTailor("privacy --q=0.1 --steps=100 --delta=1e-5 --epsilon=3");
  ASSERT_EQ(z.exit_code, 0) << z.output;
  const size_t at = z.output.find("z: ");
  ASSERT_NE(at, std::string::npos) << z.output;
  const std::string printed = z.output.substr(at + 3, z.output.find('\n', at) - at - 3);
  Outcome eps = RunTailor("privacy --q=0.1 --steps=100 --delta=1e-5 --json --z=" + printed);
  ASSERT_EQ(eps.exit_code, 0) << eps.output;
  const size_t e = eps.output.find("\"epsilon\":");
  ASSERT_NE(e, std::string::npos) << eps.output;
  EXPECT_LE(std::stod(eps.output.substr(e + 10)), 3.0) << eps.output;
}

TEST(TailorCli, PrivacyReportsPldBesideRdp) {
  Outcome both = RunTailor("privacy --q=0.01 --z=1 --steps=100 --accountant=both");
  ASSERT_EQ(both.exit_code, 0) << both.output;
  EXPECT_NE(both.output.find("epsilon (RDP): 1.214"), std::string::npos) << both.output;
  EXPECT_NE(both.output.find("epsilon (PLD): 0.71"), std::string::npos) << both.output;
  Outcome bad = RunTailor("privacy --q=0.01 --z=1 --steps=100 --accountant=moments");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--accountant must be rdp, pld or both"), std::string::npos)
      << bad.output;
}

// A language model end to end through the binary: simulate pretrains the missing base, trains
// and personalizes; generate samples from the global model and from one client's model, the
// same text for the same seed.
TEST(TailorCli, LanguageModelPretrainsTrainsAndGenerates) {
  const std::string dir = testing::MakeTempDir("lmcli");
  const std::string path = WriteConfig(
      "name: \"lm\" seed: 3 rounds: 2 data { dataset: \"fortunes\" num_clients: 5 "
      "text { max_texts_per_client: 60 } } "
      "model { architecture: \"byte_transformer_tiny\" initial_model: \"" + dir +
      "/base.tlps\" } pretrain { steps: 20 eval_every_steps: 10 } "
      "train { learning_rate: 0.1 batch_size: 8 } algorithm { name: \"fedper\" } "
      "eval { new_clients: 1 cross_evaluation: true } "
      "simulation { workers: 1 personal_state_dir: \"" + dir +
      "/personal\" } output_dir: \"" + dir + "/run\"");
  Outcome run = RunTailor("simulate --config " + path);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("pretrain step 20/20"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("pers.bpb"), std::string::npos) << run.output;
  // Four training clients' models on four test sets.
  absl::StatusOr<std::string> cross = Env::Default()->ReadFile(dir + "/run/cross_eval.json");
  ASSERT_OK(cross);
  EXPECT_NE(cross->find("\"clients\":[0,1,2,3]"), std::string::npos) << *cross;
  const std::string generate = "generate --config " + path +
                               " --client_id 1 --prompt Hello --samples 2 --max_bytes 30";
  Outcome a = RunTailor(generate);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("== global model (" + dir + "/run/final_shared.tlps)"),
            std::string::npos)
      << a.output;
  EXPECT_NE(a.output.find("== client 1 ("), std::string::npos) << a.output;
  EXPECT_NE(a.output.find("personalized by fedper"), std::string::npos) << a.output;
  EXPECT_EQ(RunTailor(generate).output, a.output);
  Outcome bad = RunTailor("generate --config " + path + " --client_id 9");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--client_id must be in [0, 5)"), std::string::npos) << bad.output;
  Outcome images = RunTailor("generate --config " + WriteConfig("rounds: 1 data { num_clients: 2 }"));
  EXPECT_NE(images.exit_code, 0);
  EXPECT_NE(images.output.find("not a language model"), std::string::npos) << images.output;
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// Pairwise preferences end to end through the binary: simulated users on the fortunes, a
// reward model with PAL's personal mixture, pairwise accuracy in the summary and metrics.
TEST(TailorCli, PreferenceRunReportsPairwiseAccuracy) {
  const std::string dir = testing::MakeTempDir("prefcli");
  const std::string path = WriteConfig(
      "name: \"pref\" seed: 2 rounds: 2 data { dataset: \"preference_fortunes\" num_clients: 6 "
      "preference { test_pairs: 30 max_train_pairs: 12 } } "
      "model { architecture: \"byte_reward_tiny\" reward { head: \"pal\" prototypes: 2 } } "
      "train { learning_rate: 0.1 batch_size: 8 } algorithm { name: \"fedper\" } "
      "eval { new_clients: 1 } simulation { personal_state_dir: \"" + dir + "/personal\" } "
      "output_dir: \"" + dir + "/run\"");
  Outcome run = RunTailor("simulate --config " + path);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("pers.pair acc"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("pref: controversial test samples ("), std::string::npos)
      << run.output;
  absl::StatusOr<std::string> metrics = Env::Default()->ReadFile(dir + "/run/metrics.jsonl");
  ASSERT_OK(metrics);
  EXPECT_NE(metrics->find("\"metric\":\"pair_accuracy\""), std::string::npos) << *metrics;
  EXPECT_NE(metrics->find("\"personalized_pair_accuracy\":"), std::string::npos) << *metrics;
  // Five training users of 30 test pairs each.
  EXPECT_NE(metrics->find("\"test_samples\":150"), std::string::npos) << *metrics;
  absl::StatusOr<std::string> data = Env::Default()->ReadFile(dir + "/run/data.txt");
  ASSERT_OK(data);
  EXPECT_NE(data->find("best possible test accuracy 0.9"), std::string::npos) << *data;

  // Best-of-N for every training user: a (untrained) byte language model samples, the global
  // and each user's reward model pick, the users' true utilities judge; the same again for the
  // same seeds.
  const std::string lm = WriteConfig(
      "name: \"lm\" rounds: 1 data { dataset: \"fortunes\" num_clients: 2 } "
      "model { architecture: \"byte_transformer_tiny\" }");
  const std::string best_of = "generate --config " + lm + " --reward_config " + path +
                              " --all_users --best_of 4 --groups 2 --max_bytes 40 "
                              "--selection_jsonl " + dir + "/selection.jsonl";
  Outcome picked = RunTailor(best_of);
  ASSERT_EQ(picked.exit_code, 0) << picked.output;
  EXPECT_NE(picked.output.find("best of 4, 2 picks for each of 5 users"), std::string::npos)
      << picked.output;
  EXPECT_NE(picked.output.find("the user's reward model"), std::string::npos) << picked.output;
  absl::StatusOr<std::string> lines = Env::Default()->ReadFile(dir + "/selection.jsonl");
  ASSERT_OK(lines);
  std::vector<std::string> users = absl::StrSplit(*lines, '\n', absl::SkipEmpty());
  ASSERT_EQ(users.size(), 5u) << *lines;
  const std::regex utilities(
      "\"personal\":([-0-9.]+),\"global\":([-0-9.]+),\"random\":([-0-9.]+),\"best\":([-0-9.]+)");
  for (const std::string& user : users) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(user, m, utilities)) << user;
    // The oracle's pick is at least as good as any rule's and as the mean candidate.
    for (int rule = 1; rule <= 3; ++rule) EXPECT_GE(std::stod(m[4]), std::stod(m[rule])) << user;
  }
  EXPECT_EQ(RunTailor(best_of).output, picked.output);
  // The oracle ceiling: picking by the true utilities themselves, each user's own pick is the
  // best of its candidates, so it is never below the population's pick.
  Outcome oracle = RunTailor(best_of + " --oracle_selection");
  ASSERT_EQ(oracle.exit_code, 0) << oracle.output;
  lines = Env::Default()->ReadFile(dir + "/selection.jsonl");
  ASSERT_OK(lines);
  users = absl::StrSplit(*lines, '\n', absl::SkipEmpty());
  ASSERT_EQ(users.size(), 5u) << *lines;
  for (const std::string& user : users) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(user, m, utilities)) << user;
    EXPECT_EQ(std::stod(m[1]), std::stod(m[4])) << "the user's own pick is its best\n" << user;
    EXPECT_GE(std::stod(m[1]), std::stod(m[2])) << user;
  }
  EXPECT_EQ(RunTailor(best_of + " --oracle_selection --guidance 1").exit_code, 2);
  // The global pick from another run of the same users: a FedAvg reward model's picks are the
  // same whether it is the run judged or the baseline of the PAL run; a run of other users is
  // refused, naming why.
  const std::string config = *Env::Default()->ReadFile(path);
  const std::string fedavg = WriteConfig(absl::StrReplaceAll(
      config, {{"reward { head: \"pal\" prototypes: 2 } ", ""},
               {"name: \"fedper\"", "name: \"fedavg\""},
               {dir + "/personal", dir + "/fedavg_personal"},
               {dir + "/run", dir + "/fedavg"}}));
  Outcome fedavg_run = RunTailor("simulate --quiet --config " + fedavg);
  ASSERT_EQ(fedavg_run.exit_code, 0) << fedavg_run.output;
  const std::string global_utility_of = "\"global\":([-0-9.]+)";
  auto global_utilities = [&](const std::string& jsonl) {
    std::vector<std::string> out;
    const std::regex global(global_utility_of);
    for (std::sregex_iterator it(jsonl.begin(), jsonl.end(), global), end; it != end; ++it) {
      out.push_back((*it)[1]);
    }
    return out;
  };
  ASSERT_EQ(RunTailor("generate --config " + lm + " --reward_config " + fedavg +
                      " --all_users --best_of 4 --groups 2 --max_bytes 40 --selection_jsonl " +
                      dir + "/fedavg.jsonl").exit_code, 0);
  Outcome against_fedavg = RunTailor(best_of + " --global_reward_config " + fedavg);
  ASSERT_EQ(against_fedavg.exit_code, 0) << against_fedavg.output;
  EXPECT_NE(against_fedavg.output.find("(global model: " + fedavg + ")"), std::string::npos)
      << against_fedavg.output;
  const std::vector<std::string> fedavg_picks =
      global_utilities(*Env::Default()->ReadFile(dir + "/fedavg.jsonl"));
  ASSERT_EQ(fedavg_picks.size(), 5u);
  EXPECT_EQ(global_utilities(*Env::Default()->ReadFile(dir + "/selection.jsonl")), fedavg_picks);
  const std::string other_users = WriteConfig(
      absl::StrReplaceAll(config, {{"seed: 2", "seed: 3"}}));
  Outcome refused = RunTailor(best_of + " --global_reward_config " + other_users);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("simulates other users than --reward_config"), std::string::npos)
      << refused.output;
  // The oracle picks by true utilities: a baseline reward model has nothing to do there.
  Outcome oracle_with_baseline =
      RunTailor(best_of + " --oracle_selection --global_reward_config " + fedavg);
  EXPECT_EQ(oracle_with_baseline.exit_code, 2) << oracle_with_baseline.output;
  EXPECT_NE(oracle_with_baseline.output.find("without --guidance or --global_reward_config"),
            std::string::npos)
      << oracle_with_baseline.output;
  // On-policy pairs: the language model's own samples written as JSON Lines become the texts
  // the simulated users judge (data.preference.candidates_path); a damaged file is refused
  // naming the option and the line.
  Outcome samples = RunTailor("generate --config " + lm + " --samples 120 --max_bytes 24 "
                              "--samples_jsonl " + dir + "/candidates.jsonl");
  ASSERT_EQ(samples.exit_code, 0) << samples.output;
  EXPECT_NE(samples.output.find("wrote 120 samples to " + dir + "/candidates.jsonl"),
            std::string::npos) << samples.output;
  // Samples of one client's personalized model are not what the option writes.
  Outcome one_client = RunTailor("generate --config " + lm + " --client_id 0 --samples 2 "
                                 "--samples_jsonl " + dir + "/one_client.jsonl");
  EXPECT_EQ(one_client.exit_code, 2) << one_client.output;
  EXPECT_NE(one_client.output.find("leave out --client_id"), std::string::npos)
      << one_client.output;
  EXPECT_FALSE(Env::Default()->FileExists(dir + "/one_client.jsonl"));
  absl::StatusOr<std::string> written = Env::Default()->ReadFile(dir + "/candidates.jsonl");
  ASSERT_OK(written);
  EXPECT_EQ(std::count(written->begin(), written->end(), '\n'), 120);
  const std::string on_policy =
      " --set data.preference.candidates_path=" + dir + "/candidates.jsonl,rounds=1,output_dir=" +
      dir + "/on_policy,simulation.personal_state_dir=" + dir + "/on_policy_personal";
  Outcome judged_samples = RunTailor("simulate --quiet --config " + path + on_policy);
  ASSERT_EQ(judged_samples.exit_code, 0) << judged_samples.output;
  absl::StatusOr<std::string> on_policy_metrics =
      Env::Default()->ReadFile(dir + "/on_policy/metrics.jsonl");
  ASSERT_OK(on_policy_metrics);
  EXPECT_NE(on_policy_metrics->find("\"test_samples\":150"), std::string::npos)
      << *on_policy_metrics;
  size_t cut = 0;  // just after the 60th line's end: line 61 is cut short
  for (int line = 0; line < 60; ++line) cut = written->find('\n', cut) + 1;
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/candidates.jsonl",
                                                written->substr(0, cut + 5)));
  Outcome damaged = RunTailor("simulate --quiet --config " + path + on_policy + "2");
  EXPECT_NE(damaged.exit_code, 0);
  EXPECT_NE(damaged.output.find("data.preference.candidates_path"), std::string::npos)
      << damaged.output;
  EXPECT_NE(damaged.output.find("/candidates.jsonl:61"), std::string::npos) << damaged.output;
  // Reward-guided decoding instead of picking, the same table.
  Outcome guided = RunTailor("generate --config " + lm + " --reward_config " + path +
                             " --all_users --guidance 1 --guide_top_k 4 --best_of 2 --groups 1"
                             " --max_bytes 10");
  ASSERT_EQ(guided.exit_code, 0) << guided.output;
  EXPECT_NE(guided.output.find("reward-guided decoding (weight 1, 4 next bytes"),
            std::string::npos)
      << guided.output;
  EXPECT_NE(guided.output.find("guided by the user's model"), std::string::npos) << guided.output;
  EXPECT_NE(guided.output.find("compute: "), std::string::npos) << guided.output;
  // One user's picks, printed with their utilities.
  Outcome one = RunTailor("generate --config " + lm + " --reward_config " + path +
                          " --client_id 2 --best_of 3 --groups 1 --max_bytes 20");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("== best of 3 for client 2 ("), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("personal [utility "), std::string::npos) << one.output;
  // A language model is no reward model, and a user is one or all.
  Outcome wrong = RunTailor("generate --config " + lm + " --reward_config " + lm + " --all_users");
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.output.find("is not a reward model"), std::string::npos) << wrong.output;
  Outcome both = RunTailor("generate --config " + lm + " --reward_config " + path +
                           " --all_users --client_id 1");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.output.find("either --all_users or one --client_id"), std::string::npos)
      << both.output;
}

// DPO with a personal adapter per user (byte_dpo, oppu) through the binary: it trains on the
// simulated users' pairs, reports pairwise accuracy of its implicit reward, and each user's own
// tuned model then generates text its user judges against the base's.
TEST(TailorCli, PersonalDpoTrainsAndEachUsersModelIsJudgedByItsTaste) {
  const std::string dir = testing::MakeTempDir("dpocli");
  const std::string path = WriteConfig(
      "name: \"dpo\" seed: 2 rounds: 1 data { dataset: \"preference_fortunes\" num_clients: 5 "
      "preference { test_pairs: 20 max_train_pairs: 12 } } "
      "model { architecture: \"byte_dpo_tiny\" transformer { context: 64 } reward { beta: 0.5 } } "
      "train { learning_rate: 0.1 batch_size: 8 } algorithm { name: \"oppu\" } "
      "simulation { personal_state_dir: \"" + dir + "/personal\" } "
      "output_dir: \"" + dir + "/run\"");
  Outcome run = RunTailor("simulate --config " + path);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("pers.pair acc"), std::string::npos) << run.output;
  Outcome judged = RunTailor("generate --config " + dir + "/run/config.resolved.textproto" +
                             " --all_users --best_of 3 --groups 2 --max_bytes 20 "
                             "--selection_jsonl " + dir + "/tuned.jsonl");
  ASSERT_EQ(judged.exit_code, 0) << judged.output;
  EXPECT_NE(judged.output.find("2 samples of each of 5 users' own models (oppu)"),
            std::string::npos)
      << judged.output;
  absl::StatusOr<std::string> lines = Env::Default()->ReadFile(dir + "/tuned.jsonl");
  ASSERT_OK(lines);
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(*lines, '\n', absl::SkipEmpty())).size(), 5u);
  // Best of 2 of each user's tuned model's samples by a reward run of the same users: twice
  // the samples and a reward pass each, so more compute per text than the plain samples.
  const std::string reward = WriteConfig(
      "name: \"rm\" seed: 2 rounds: 1 data { dataset: \"preference_fortunes\" num_clients: 5 "
      "preference { test_pairs: 20 max_train_pairs: 12 } } "
      "model { architecture: \"byte_reward_tiny\" transformer { context: 64 } } "
      "train { learning_rate: 0.1 batch_size: 8 } output_dir: \"" + dir + "/rm\"");
  ASSERT_EQ(RunTailor("simulate --quiet --config " + reward).exit_code, 0);
  Outcome picked = RunTailor("generate --config " + dir + "/run/config.resolved.textproto" +
                             " --all_users --best_of 3 --groups 2 --max_bytes 20 --pick_with " +
                             dir + "/rm/config.resolved.textproto --pick_from 2 "
                             "--selection_jsonl " + dir + "/picked.jsonl");
  ASSERT_EQ(picked.exit_code, 0) << picked.output;
  EXPECT_NE(picked.output.find("2 picks (best of 2 by --pick_with's reward models) of each of 5"),
            std::string::npos)
      << picked.output;
  absl::StatusOr<std::string> picked_lines = Env::Default()->ReadFile(dir + "/picked.jsonl");
  ASSERT_OK(picked_lines);
  EXPECT_GT(MeanField(*picked_lines, "positions_per_text"), 2 * MeanField(*lines, "positions_per_text"));
  // Picking needs a reward run of the same users, and a count to pick from.
  Outcome lonely = RunTailor("generate --config " + dir + "/run/config.resolved.textproto" +
                             " --all_users --pick_from 2");
  EXPECT_EQ(lonely.exit_code, 2);
  EXPECT_NE(lonely.output.find("--pick_with to pick with"), std::string::npos) << lonely.output;
  Outcome others = RunTailor("generate --config " + dir + "/run/config.resolved.textproto" +
                             " --all_users --pick_with " + reward + " --set seed=3");
  EXPECT_EQ(others.exit_code, 2);
  EXPECT_NE(others.output.find("--pick_with"), std::string::npos) << others.output;
  EXPECT_NE(others.output.find("simulates other users than --config"), std::string::npos)
      << others.output;
  // A run whose personal parts were not kept cannot be judged by them.
  Outcome unkept = RunTailor("generate --config " + path +
                             " --set simulation.personal_state_dir= --all_users");
  EXPECT_EQ(unkept.exit_code, 2);
  EXPECT_NE(unkept.output.find("set simulation.personal_state_dir"), std::string::npos)
      << unkept.output;
}

// Personalized Soups and MOD through the binary: one DPO adapter per archetype (the
// archetypes' labellers as clients), mixed for each user of another config by its weights.
TEST(TailorCli, ArchetypeExpertsAreMixedForEachUser) {
  const std::string dir = testing::MakeTempDir("expertscli");
  const std::string experts = WriteConfig(
      "name: \"experts\" seed: 2 rounds: 1 data { dataset: \"preference_fortunes\" "
      "num_clients: 12 preference { archetype_users: true test_pairs: 10 max_train_pairs: 10 } } "
      "model { architecture: \"byte_dpo_tiny\" transformer { context: 64 } } "
      "train { learning_rate: 0.01 batch_size: 8 } algorithm { name: \"oppu\" } "
      "simulation { personal_state_dir: \"" + dir + "/personal\" } "
      "output_dir: \"" + dir + "/run\"");
  Outcome run = RunTailor("simulate --config " + experts);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("12 clients"), std::string::npos) << run.output;
  const std::string users = WriteConfig(
      "name: \"users\" seed: 2 rounds: 1 data { dataset: \"preference_fortunes\" num_clients: 5 "
      "preference { test_pairs: 20 max_train_pairs: 12 } } "
      "model { architecture: \"byte_reward_tiny\" transformer { context: 64 } }");
  const std::string resolved = dir + "/run/config.resolved.textproto";
  for (const char* mix : {"soup", "mod"}) {
    SCOPED_TRACE(mix);
    const std::string jsonl = absl::StrCat(dir, "/", mix, ".jsonl");
    Outcome mixed = RunTailor(absl::StrCat("generate --config ", resolved, " --users_config ",
                                           users, " --all_users --mix ", mix,
                                           " --best_of 3 --groups 2 --max_bytes 20 "
                                           "--selection_jsonl ", jsonl));
    ASSERT_EQ(mixed.exit_code, 0) << mixed.output;
    EXPECT_NE(mixed.output.find("from 12 archetype experts"), std::string::npos) << mixed.output;
    absl::StatusOr<std::string> lines = Env::Default()->ReadFile(jsonl);
    ASSERT_OK(lines);
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(*lines, '\n', absl::SkipEmpty())).size(),
              5u);
  }
  // MOD's best of 2 by a reward run of the users: the experts' positions for each sample, and
  // a reward pass each. The experts' run simulates other users than --users_config.
  const std::string users_run = dir + "/users/config.resolved.textproto";
  ASSERT_EQ(RunTailor("simulate --quiet --config " + users + " --set output_dir=" + dir + "/users")
                .exit_code,
            0);
  Outcome picked = RunTailor(absl::StrCat(
      "generate --config ", resolved, " --users_config ", users_run, " --all_users --mix mod",
      " --best_of 3 --groups 2 --max_bytes 20 --pick_with ", users_run, " --pick_from 2",
      " --selection_jsonl ", dir, "/mod_picked.jsonl"));
  ASSERT_EQ(picked.exit_code, 0) << picked.output;
  EXPECT_NE(picked.output.find("2 picks (best of 2 by --pick_with's reward models) for each of 5"),
            std::string::npos)
      << picked.output;
  absl::StatusOr<std::string> soup = Env::Default()->ReadFile(dir + "/soup.jsonl");
  absl::StatusOr<std::string> plain_mod = Env::Default()->ReadFile(dir + "/mod.jsonl");
  absl::StatusOr<std::string> picked_mod = Env::Default()->ReadFile(dir + "/mod_picked.jsonl");
  ASSERT_OK(soup);
  ASSERT_OK(plain_mod);
  ASSERT_OK(picked_mod);
  // MOD runs several experts a byte, the soup one merged model.
  EXPECT_GT(MeanField(*plain_mod, "positions_per_text"), MeanField(*soup, "positions_per_text"));
  EXPECT_GT(MeanField(*picked_mod, "positions_per_text"), 2 * MeanField(*plain_mod, "positions_per_text"));
  Outcome wrong_users = RunTailor("generate --config " + resolved + " --users_config " + users +
                                  " --all_users --mix mod --pick_with " + resolved);
  EXPECT_EQ(wrong_users.exit_code, 2);
  EXPECT_NE(wrong_users.output.find("simulates other users than --users_config"),
            std::string::npos)
      << wrong_users.output;
  // Experts must be the archetypes' (not the users' run), and the mix one of the two.
  Outcome not_experts = RunTailor("generate --config " + users + " --users_config " + users +
                                  " --all_users");
  EXPECT_EQ(not_experts.exit_code, 2);
  EXPECT_NE(not_experts.output.find("archetype_users"), std::string::npos) << not_experts.output;
  Outcome bad_mix = RunTailor("generate --config " + resolved + " --users_config " + users +
                              " --all_users --mix average");
  EXPECT_EQ(bad_mix.exit_code, 2);
  EXPECT_NE(bad_mix.output.find("--mix must be soup or mod"), std::string::npos)
      << bad_mix.output;
}

}  // namespace
}  // namespace tailor
