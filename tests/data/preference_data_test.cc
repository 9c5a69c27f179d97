// Preference data: the scorers of simulated users' tastes, the simulated users and their labels,
// and bring-your-own JSONL pairs.
#include <cmath>
#include <set>

#include "core/random.h"
#include "data/preference_dataset.h"
#include "data/preference_scorers.h"
#include "data/simulated_users.h"
#include "data/text_dataset.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

TEST(PreferenceScorers, ScoreWhatTheyNameDeterministically) {
  const std::string quote = "Be yourself; everyone else is taken.\n\t\t-- Oscar Wilde";
  const Scores s = ScoreText(quote);
  EXPECT_DOUBLE_EQ(s[kScoreLength], std::log1p(quote.size()));
  EXPECT_EQ(s[kScoreLines], 2);
  EXPECT_EQ(s[kScoreAttribution], 1);
  EXPECT_EQ(s[kScoreDialogue], 0);
  EXPECT_EQ(ScoreText(quote), s);  // a function of the bytes alone
  EXPECT_EQ(ScoreText("Q: Why?\nA: Because.")[kScoreDialogue], 1);
  EXPECT_EQ(ScoreText("It is 10:30 now.")[kScoreDialogue], 0);
  EXPECT_GT(ScoreText("I love my friends, what a wonderful day")[kScoreSentiment], 0);
  EXPECT_LT(ScoreText("War and death and pain.")[kScoreSentiment], 0);
  EXPECT_LT(ScoreText("Смерть и боль")[kScoreSentiment], 0);  // stems in other languages
  EXPECT_DOUBLE_EQ(ScoreText("ABC def")[kScoreUppercase], 0.5);
  EXPECT_DOUBLE_EQ(ScoreText("Привет")[kScoreUppercase], 1.0 / 6);  // Cyrillic letters
  EXPECT_DOUBLE_EQ(ScoreText("Go!")[kScoreExclamation], 100.0 / 3);
  EXPECT_GT(ScoreText("a, b; c!")[kScorePunctuation], ScoreText("a b c")[kScorePunctuation]);
  // Any bytes at all, a generated text's included.
  const Scores garbage = ScoreText(std::string("\xff\xfe\x00\xc3", 4));
  for (double v : garbage) EXPECT_TRUE(std::isfinite(v));
}

TEST(PreferenceScorers, ArchetypesComeInConflictingPairs) {
  const std::vector<Archetype>& all = Archetypes();
  ASSERT_EQ(all.size() % 2, 0u);
  for (size_t i = 0; i < all.size(); i += 2) {
    for (int k = 0; k < kNumScorers; ++k) EXPECT_EQ(all[i].weights[k], -all[i + 1].weights[k]);
  }
  EXPECT_EQ(ArchetypeIndex("raconteur"), ArchetypeIndex("brief") + 1);
  EXPECT_EQ(ArchetypeIndex("nobody"), -1);
}

// Files of generated fortunes that differ in every scored attribute.
TextCorpus SyntheticFortunes(int files, int per_file) {
  const char* words[] = {"love", "war", "cat", "code", "sun", "death", "friend", "rain", "joy"};
  Rng rng(7);
  TextCorpus corpus;
  for (int f = 0; f < files; ++f) {
    TextUser u;
    u.name = absl::StrCat("file", f);
    for (int i = 0; i < per_file; ++i) {
      std::string t = rng.Uniform() < 0.2 ? "Q: " : "";
      const int n = 2 + static_cast<int>(rng.UniformInt(40));
      for (int w = 0; w < n; ++w) {
        absl::StrAppend(&t, w ? " " : "", words[rng.UniformInt(9)], w % 9 == 8 ? "\n" : "");
      }
      if (rng.Uniform() < 0.3) t += "!";
      if (rng.Uniform() < 0.3) t += ",;.";
      if (rng.Uniform() < 0.3) absl::StrAppend(&t, "\n\t\t-- Author ", i);
      absl::StrAppend(&t, " #", f, "-", i);  // every text distinct
      u.texts.push_back(t);
    }
    corpus.users.push_back(std::move(u));
  }
  return corpus;
}

std::set<uint32_t> TextsOf(const PreferenceDataset& pool, const std::vector<uint32_t>& pairs) {
  std::set<uint32_t> texts;
  for (uint32_t p : pairs) texts.insert({pool.pairs[p].chosen, pool.pairs[p].rejected});
  return texts;
}

TEST(SimulatedUsers, AnOracleOfBriefAgreesWithAPurelyBriefUser) {
  SimulatedUserOptions o;
  o.axis = "brief";
  o.axis_weight = 1;  // all weight on the axis...
  o.minority_fraction = 0;  // ...and nobody on its opposite
  o.weight_noise = 0;
  o.consensus_weight = 0;
  o.deterministic_labels = true;
  auto sim = SimulatePreferences(SyntheticFortunes(4, 80), o);
  ASSERT_OK(sim);
  int agree = 0, total = 0;
  for (const ClientSplit& c : sim->clients) {
    for (uint32_t p : c.test) {
      const PreferencePair& pair = sim->pool->pairs[p];
      agree += sim->pool->texts[pair.chosen].size() < sim->pool->texts[pair.rejected].size();
      ++total;
    }
  }
  ASSERT_GT(total, 400);
  EXPECT_GE(static_cast<double>(agree) / total, 0.95);
  // Everyone agrees: nothing is controversial.
  for (bool c : sim->controversial) EXPECT_FALSE(c);
}

TEST(SimulatedUsers, ArchetypeUsersLabelOneArchetypeEachFromEveryFile) {
  SimulatedUserOptions o;
  o.archetype_users = true;
  o.max_train_pairs = 60;
  o.deterministic_labels = true;
  const TextCorpus corpus = SyntheticFortunes(4, 80);
  auto sim = SimulatePreferences(corpus, o);
  ASSERT_OK(sim);
  const std::vector<Archetype>& archetypes = Archetypes();
  ASSERT_EQ(sim->users.size(), archetypes.size());
  // A plain user's taste for comparison: the shared taste (cheerful, quoter, calm) on top.
  for (size_t a = 0; a < archetypes.size(); ++a) {
    const SimulatedUser& u = sim->users[a];
    EXPECT_EQ(u.name, "archetype:" + archetypes[a].name);
    EXPECT_EQ(u.archetype, static_cast<int>(a));
    for (size_t b = 0; b < archetypes.size(); ++b) {
      EXPECT_EQ(u.archetype_weights[b], a == b ? 1.0 : 0.0);
    }
    Scores want = archetypes[a].weights;
    for (const char* shared : {"cheerful", "quoter", "calm"}) {
      for (int s = 0; s < kNumScorers; ++s) {
        want[s] += o.consensus_weight / 3 * archetypes[ArchetypeIndex(shared)].weights[s];
      }
    }
    for (int s = 0; s < kNumScorers; ++s) EXPECT_DOUBLE_EQ(u.weights[s], want[s]) << u.name;
    // All of max_train_pairs, labelled by the archetype's utility alone.
    EXPECT_EQ(sim->clients[a].train.size(), 60u);
    for (uint32_t p : sim->clients[a].train) {
      const PreferencePair& pair = sim->pool->pairs[p];
      EXPECT_GT(TrueUtility(u, *sim->normalizer, sim->pool->texts[pair.chosen]),
                TrueUtility(u, *sim->normalizer, sim->pool->texts[pair.rejected]));
    }
  }
  // Pairs come from every file, not one: 4 files of 80 texts, 60 pairs a user.
  std::set<uint32_t> texts;
  for (const ClientSplit& c : sim->clients) {
    const std::set<uint32_t> mine = TextsOf(*sim->pool, c.train);
    texts.insert(mine.begin(), mine.end());
  }
  EXPECT_GT(texts.size(), 120u);
  // At most one client per archetype.
  o.num_users = static_cast<int>(archetypes.size()) + 1;
  absl::Status too_many = SimulatePreferences(corpus, o).status();
  EXPECT_EQ(too_many.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.message().find("archetype_users"), std::string::npos) << too_many;
}

TEST(SimulatedUsers, LabelsReachTheCeilingTheirBetaWasSetFor) {
  SimulatedUserOptions o;
  o.seed = 3;
  auto sim = SimulatePreferences(SyntheticFortunes(5, 80), o);
  ASSERT_OK(sim);
  EXPECT_NEAR(sim->ceiling, 0.9, 0.005);
  // The Bayes predictor (the user's true utility) on the drawn labels: about the ceiling.
  int right = 0, total = 0, controversial = 0, minority = 0;
  for (size_t u = 0; u < sim->users.size(); ++u) {
    minority += sim->users[u].minority;
    EXPECT_GE(sim->clients[u].train.size(), 10u);
    EXPECT_LE(sim->clients[u].train.size(), 50u);
    EXPECT_EQ(sim->clients[u].test.size(), 200u);
    for (uint32_t p : sim->clients[u].test) {
      const PreferencePair& pair = sim->pool->pairs[p];
      right += TrueUtility(sim->users[u], *sim->normalizer, sim->pool->texts[pair.chosen]) >
               TrueUtility(sim->users[u], *sim->normalizer, sim->pool->texts[pair.rejected]);
      ++total;
      controversial += sim->controversial[p];
    }
    // The controversial view is exactly the user's controversial test pairs.
    std::vector<uint32_t> want;
    for (uint32_t p : sim->clients[u].test) {
      if (sim->controversial[p]) want.push_back(p);
    }
    EXPECT_EQ(sim->clients[u].test_views.at("controversial"), want);
    // A test pair never reuses a text of the user's own train or val pairs.
    std::set<uint32_t> seen = TextsOf(*sim->pool, sim->clients[u].train);
    for (uint32_t t : TextsOf(*sim->pool, sim->clients[u].val)) seen.insert(t);
    for (uint32_t t : TextsOf(*sim->pool, sim->clients[u].test)) EXPECT_EQ(seen.count(t), 0u);
  }
  EXPECT_NEAR(static_cast<double>(right) / total, sim->ceiling, 0.03);
  // The majority/minority split makes some pairs controversial, not all.
  EXPECT_GT(minority, 0);
  EXPECT_GT(controversial, 0);
  EXPECT_LT(controversial, total);
}

TEST(SimulatedUsers, TheSameSeedGivesTheSameUsersAndPairs) {
  SimulatedUserOptions o;
  o.held_out = 2;
  auto a = SimulatePreferences(SyntheticFortunes(4, 60), o);
  auto b = SimulatePreferences(SyntheticFortunes(4, 60), o);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_EQ(a->pool->pairs.size(), b->pool->pairs.size());
  for (size_t i = 0; i < a->pool->pairs.size(); ++i) {
    EXPECT_EQ(a->pool->pairs[i].chosen, b->pool->pairs[i].chosen);
    EXPECT_EQ(a->pool->pairs[i].rejected, b->pool->pairs[i].rejected);
  }
  ASSERT_EQ(a->users.size(), b->users.size());
  for (size_t u = 0; u < a->users.size(); ++u) EXPECT_EQ(a->users[u].name, b->users[u].name);
  o.seed = 2;
  auto c = SimulatePreferences(SyntheticFortunes(4, 60), o);
  ASSERT_OK(c);
  bool differs = c->pool->pairs.size() != a->pool->pairs.size();
  for (size_t i = 0; !differs && i < a->pool->pairs.size(); ++i) {
    differs = a->pool->pairs[i].chosen != c->pool->pairs[i].chosen;
  }
  EXPECT_TRUE(differs);
}

TEST(SimulatedUsers, AModelSeesTextsAndChoicesOnly) {
  // The pool holds the corpus's own fortunes and the empty prompt, nothing derived from the
  // scorers; the tastes decide only which of two texts is listed as chosen.
  const TextCorpus corpus = SyntheticFortunes(3, 60);
  std::set<std::string> fortunes = {""};
  for (const TextUser& u : corpus.users) fortunes.insert(u.texts.begin(), u.texts.end());
  auto sim = SimulatePreferences(corpus, SimulatedUserOptions());
  ASSERT_OK(sim);
  for (const std::string& t : sim->pool->texts) EXPECT_EQ(fortunes.count(t), 1u) << t;
}

// Candidate texts (e.g. a generator's samples) replace the fortunes in every user's pairs: the
// train and val pairs come from the first half, the test pairs from the second, and the labels
// follow the same tastes under the fortunes' z-scoring (a text's utility is the same with or
// without candidates).
TEST(SimulatedUsers, CandidateTextsReplaceTheFortunesInEveryPair) {
  const TextCorpus corpus = SyntheticFortunes(3, 60);
  SimulatedUserOptions o;
  o.deterministic_labels = true;
  auto plain = SimulatePreferences(corpus, o);
  ASSERT_OK(plain);
  std::vector<std::string> candidates;
  for (int i = 0; i < 160; ++i) {
    candidates.push_back(std::string(1 + i % 37, 'a' + i % 26) + (i % 3 == 0 ? "!" : ".") +
                         (i % 5 == 0 ? "\n\t\t-- Anon" : ""));
  }
  o.candidate_texts = candidates;
  auto sim = SimulatePreferences(corpus, o);
  ASSERT_OK(sim);
  const std::set<std::string> first(candidates.begin(), candidates.begin() + 80);
  const std::set<std::string> second(candidates.begin() + 80, candidates.end());
  ASSERT_EQ(sim->users.size(), plain->users.size());
  for (size_t u = 0; u < sim->clients.size(); ++u) {
    const ClientSplit& c = sim->clients[u];
    ASSERT_GT(c.train.size(), 0u);
    ASSERT_GT(c.test.size(), 0u);
    for (const auto* split : {&c.train, &c.val, &c.test}) {
      for (uint32_t p : *split) {
        const PreferencePair& pair = sim->pool->pairs[p];
        const std::set<std::string>& half = split == &c.test ? second : first;
        EXPECT_EQ(half.count(sim->pool->texts[pair.chosen]), 1u);
        EXPECT_EQ(half.count(sim->pool->texts[pair.rejected]), 1u);
        // Deterministic labels: the user's true utility decides.
        EXPECT_GT(TrueUtility(sim->users[u], *sim->normalizer, sim->pool->texts[pair.chosen]),
                  TrueUtility(sim->users[u], *sim->normalizer, sim->pool->texts[pair.rejected]));
      }
    }
    // The same users, and the same utility of any text as without candidates.
    EXPECT_EQ(sim->users[u].name, plain->users[u].name);
    for (const std::string& text : {candidates[0], corpus.users[0].texts[0]}) {
      EXPECT_EQ(TrueUtility(sim->users[u], *sim->normalizer, text),
                TrueUtility(plain->users[u], *plain->normalizer, text));
    }
  }
  // Too few candidates to draw from are refused, naming the option.
  o.candidate_texts.resize(kMinCandidateTexts - 1);
  EXPECT_STATUS(SimulatePreferences(corpus, o), absl::StatusCode::kInvalidArgument,
                "candidates_path");
}

TEST(SimulatedUsers, OptionsOutOfRangeAreNamed) {
  SimulatedUserOptions o;
  o.alpha = 0;
  EXPECT_STATUS(SimulatePreferences(SyntheticFortunes(2, 60), o),
                absl::StatusCode::kInvalidArgument, "alpha");
  o = SimulatedUserOptions();
  o.axis = "grumpy";
  EXPECT_STATUS(SimulatePreferences(SyntheticFortunes(2, 60), o),
                absl::StatusCode::kInvalidArgument, "axis");
  o = SimulatedUserOptions();
  o.target_ceiling = 1;
  EXPECT_STATUS(SimulatePreferences(SyntheticFortunes(2, 60), o),
                absl::StatusCode::kInvalidArgument, "target_ceiling");
}

TEST(PreferenceJsonl, LoadsUsersPairsAndSplitsThem) {
  const std::string dir = testing::MakeTempDir("pref_jsonl");
  std::string lines;
  for (int u = 0; u < 3; ++u) {
    for (int i = 0; i < (u == 2 ? 4 : 20); ++i) {
      absl::StrAppend(&lines, "{\"user\": \"u", u, "\", \"prompt\": \"Say hi\", \"chosen\": \"hi ",
                      i, "\", \"rejected\": \"go away ", i, "\"}\n");
    }
  }
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/p.jsonl", lines));
  auto users = LoadPreferenceJsonl(dir + "/p.jsonl", Env::Default());
  ASSERT_OK(users);
  ASSERT_EQ(users->size(), 3u);
  PreferenceFederationOptions o;
  auto f = FederatePreferences(*users, o);
  ASSERT_OK(f);
  ASSERT_EQ(f->names, (std::vector<std::string>{"u0", "u1"}));
  ASSERT_EQ(f->dropped.size(), 1u);
  EXPECT_NE(f->dropped[0].find("u2: 4 pairs"), std::string::npos);
  const ClientSplit& c = f->clients[0];
  EXPECT_EQ(c.test.size(), 4u);  // ceil(0.2 * 20)
  EXPECT_EQ(c.val.size(), 2u);
  EXPECT_EQ(c.train.size(), 14u);
  // Each distinct text once: the prompt, and the 20 + 20 candidates both users judged.
  EXPECT_EQ(f->pool->texts.size(), 1u + 20 + 20);
  const PreferencePair& p = f->pool->pairs[c.train[0]];
  EXPECT_EQ(f->pool->texts[p.prompt], "Say hi");
  EXPECT_EQ(f->pool->texts[p.chosen].substr(0, 3), "hi ");
}

TEST(PreferenceJsonl, BadLinesAreRefusedNamingTheLine) {
  const std::string dir = testing::MakeTempDir("pref_jsonl_bad");
  const std::string good = "{\"user\": 1, \"prompt\": \"\", \"chosen\": \"a\", \"rejected\": \"b\"}\n";
  struct Case {
    std::string line, expect;
  } cases[] = {
      {"{\"user\": 1, \"prompt\": \"\", \"chosen\": \"a\"}", "\"rejected\""},
      {"[1, 2]", "not a JSON object"},
      {"{\"user\": 1, \"prompt\": \"\", \"chosen\": \"a\", \"rejected\": \"a\"}", "the same text"},
      {"{\"user\": 1, \"prompt\": \"\", \"chosen\": \"\", \"rejected\": \"a\"}", "empty candidate"},
      {"{\"user\": 1, \"prompt\": \"\xff\", \"chosen\": \"b\", \"rejected\": \"a\"}", "not UTF-8"},
  };
  for (const Case& c : cases) {
    ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/p.jsonl", good + c.line + "\n"));
    auto users = LoadPreferenceJsonl(dir + "/p.jsonl", Env::Default());
    EXPECT_STATUS(users, absl::StatusCode::kInvalidArgument, c.expect);
    EXPECT_STATUS(users, absl::StatusCode::kInvalidArgument, "p.jsonl:2");
  }
}

}  // namespace
}  // namespace tailor

namespace tailor {
namespace {

// The built-in benchmark's users on Debian's fortunes, at the three concentrations the issue
// measures: every user has 10-50 train pairs and 200 test pairs of its own file's fortunes, the
// labels' ceiling is 0.9, and the majority/minority split leaves some pairs controversial.
TEST(SimulatedUsers, OnDebianFortunes) {
  absl::StatusOr<TextCorpus> corpus = LoadFortunes(kFortunesRoot, Env::Default());
  ASSERT_OK(corpus);
  for (double alpha : {0.05, 0.3, 1.0}) {
    SimulatedUserOptions o;
    o.alpha = alpha;
    auto sim = SimulatePreferences(*corpus, o);
    ASSERT_OK(sim);
    EXPECT_GE(sim->users.size(), 60u);
    EXPECT_NEAR(sim->ceiling, 0.9, 0.005);
    size_t controversial = 0;
    for (bool c : sim->controversial) controversial += c;
    const double share = static_cast<double>(controversial) / sim->controversial.size();
    EXPECT_GT(share, 0.05) << "alpha " << alpha;
    EXPECT_LT(share, 0.95) << "alpha " << alpha;
    for (const ClientSplit& c : sim->clients) {
      EXPECT_GE(c.train.size(), 10u);
      EXPECT_EQ(c.test.size(), 200u);
    }
    std::printf("alpha %.2f: %zu users, %zu pairs, beta %.3f, %.1f%% controversial\n", alpha,
                sim->users.size(), sim->pool->pairs.size(), sim->beta, 100 * share);
  }
}

}  // namespace
}  // namespace tailor
