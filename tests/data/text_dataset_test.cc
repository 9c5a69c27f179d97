// Users' text corpora: fortune files, directories, JSONL; duplicates removed across users,
// small users dropped, splits disjoint.
#include "data/text_dataset.h"

#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

std::string Fortunes(const std::string& tag, int n, int first = 0) {
  std::string out;
  for (int i = first; i < first + n; ++i) absl::StrAppend(&out, tag, " fortune ", i, "\n  line two  \n%\n");
  return out;
}

void Write(const std::string& path, const std::string& bytes) {
  ASSERT_OK(Env::Default()->WriteFileAtomically(path, bytes));
}

TEST(SplitFortunes, TextsBetweenPercentLinesTrimmed) {
  EXPECT_EQ(SplitFortunes("a\n%\n\n  b  \nc \n%\n%\n\nd"),
            (std::vector<std::string>{"a", "  b\nc", "d"}));
  EXPECT_TRUE(SplitFortunes("%\n%\n").empty());
}

TEST(LoadFortunes, OneUserPerFileSkippingOffensiveIndexesTwinsLinksAndNonUtf8) {
  const std::string root = testing::MakeTempDir("fortunes");
  Env* env = Env::Default();
  ASSERT_OK(env->CreateDirs(root + "/de"));
  ASSERT_OK(env->CreateDirs(root + "/off"));
  ASSERT_OK(env->CreateDirs(root + "/pl"));
  Write(root + "/science", Fortunes("sci", 3));
  Write(root + "/science.dat", "\x01\x02index");
  Write(root + "/de/witze", Fortunes("witz", 2));
  Write(root + "/off/rude", Fortunes("rude", 5));
  Write(root + "/pl/dowcipy", "\xb1\xea latin-2\n%\n");           // the legacy encoding...
  Write(root + "/pl/dowcipy.u8", "\xc4\x85\xc4\x99 utf-8\n%\n");  // ...and its UTF-8 twin
  Write(root + "/pl/broken", "\xff\xfe not text\n%\n");
  ASSERT_EQ(::symlink((root + "/de/witze").c_str(), (root + "/witze").c_str()), 0);
  absl::StatusOr<TextCorpus> corpus = LoadFortunes(root, env);
  ASSERT_OK(corpus);
  std::vector<std::string> names;
  for (const TextUser& u : corpus->users) names.push_back(u.name);
  EXPECT_EQ(names, (std::vector<std::string>{"de/witze", "pl/dowcipy", "science"}));
  EXPECT_EQ(corpus->users[0].texts.size(), 2u);  // read once, though linked from the top
  EXPECT_EQ(corpus->users[1].texts[0], "\xc4\x85\xc4\x99 utf-8");
  const std::string skipped = absl::StrJoin(corpus->skipped, "; ");
  EXPECT_NE(skipped.find("off/: offensive section"), std::string::npos) << skipped;
  EXPECT_NE(skipped.find("pl/broken: not UTF-8"), std::string::npos) << skipped;
  EXPECT_STATUS(LoadFortunes(root + "/nonesuch", env), absl::StatusCode::kNotFound,
                "apt-get install fortunes");
}

TEST(LoadTextDirectory, OneUserPerFileAndClearErrorsForEmptyOrBinaryFiles) {
  const std::string dir = testing::MakeTempDir("textdir");
  Write(dir + "/alice.txt", "first paragraph\nstill first\n\nsecond\n");
  Write(dir + "/bob", "one\n%\ntwo\n%\n");
  absl::StatusOr<TextCorpus> corpus = LoadTextDirectory(dir, Env::Default());
  ASSERT_OK(corpus);
  ASSERT_EQ(corpus->users.size(), 2u);
  EXPECT_EQ(corpus->users[0].texts, (std::vector<std::string>{"first paragraph\nstill first", "second"}));
  EXPECT_EQ(corpus->users[1].texts, (std::vector<std::string>{"one", "two"}));
  Write(dir + "/carol", "\n \n");
  EXPECT_STATUS(LoadTextDirectory(dir, Env::Default()), absl::StatusCode::kInvalidArgument,
                "carol: empty");
  Write(dir + "/carol", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  EXPECT_STATUS(LoadTextDirectory(dir, Env::Default()), absl::StatusCode::kInvalidArgument,
                "carol: not UTF-8");
}

TEST(LoadTextJsonl, GroupsByUserAndNamesTheBadLine) {
  const std::string dir = testing::MakeTempDir("jsonl");
  Write(dir + "/t.jsonl", "{\"user\": \"u1\", \"text\": \"hello\"}\n\n"
                          "{\"user\": 7, \"text\": \"hi\"}\n{\"user\": \"u1\", \"text\": \"again\"}\n");
  absl::StatusOr<TextCorpus> corpus = LoadTextJsonl(dir + "/t.jsonl", Env::Default());
  ASSERT_OK(corpus);
  ASSERT_EQ(corpus->users.size(), 2u);
  EXPECT_EQ(corpus->users[0].name, "7");
  EXPECT_EQ(corpus->users[1].texts, (std::vector<std::string>{"hello", "again"}));
  Write(dir + "/bad.jsonl", "{\"user\": \"u1\", \"text\": \"ok\"}\n{\"user\": \"u1\"}\n");
  EXPECT_STATUS(LoadTextJsonl(dir + "/bad.jsonl", Env::Default()),
                absl::StatusCode::kInvalidArgument, "bad.jsonl:2: needs a string field \"text\"");
  Write(dir + "/bad.jsonl", "{\"user\": \"u1\", \"text\": \"ok\"\n");
  EXPECT_STATUS(LoadTextJsonl(dir + "/bad.jsonl", Env::Default()),
                absl::StatusCode::kInvalidArgument, "bad.jsonl:1: not a JSON object");
}

TextCorpus Corpus() {
  TextCorpus c;
  for (int u = 0; u < 6; ++u) {
    TextUser user{absl::StrCat("user", u), {}};
    for (int i = 0; i < 60; ++i) user.texts.push_back(absl::StrCat("u", u, " text ", i));
    // Every user also holds the same 10 shared texts (the corpora repeat fortunes).
    for (int i = 0; i < 10; ++i) user.texts.push_back(absl::StrCat("shared ", i, "   "));
    c.users.push_back(std::move(user));
  }
  c.users[5].texts.resize(45);  // too little text
  return c;
}

TEST(FederateTexts, DuplicatesRemovedSmallUsersDroppedSplitsDisjoint) {
  TextFederationOptions o;
  o.seed = 3;
  absl::StatusOr<TextFederation> f = FederateTexts(Corpus(), o);
  ASSERT_OK(f);
  EXPECT_EQ(f->names, (std::vector<std::string>{"user0", "user1", "user2", "user3", "user4"}));
  EXPECT_EQ(f->duplicates_removed, 40);  // users 1-4 lose the shared ones; user 5 is dropped
  ASSERT_EQ(f->dropped.size(), 1u);
  EXPECT_EQ(f->dropped[0], "user5: 45 texts after removing duplicates, fewer than 50");
  std::set<std::string> train_texts, held_out;
  for (size_t c = 0; c < f->clients.size(); ++c) {
    const ClientSplit& s = f->clients[c];
    const size_t n = s.train.size() + s.val.size() + s.test.size();
    EXPECT_EQ(n, c == 0 ? 70u : 60u);
    EXPECT_EQ(s.test.size(), c == 0 ? 7u : 6u);
    EXPECT_EQ(s.val.size(), c == 0 ? 7u : 6u);
    for (uint32_t i : s.train) train_texts.insert(f->pool->texts[i]);
    for (uint32_t i : s.val) held_out.insert(f->pool->texts[i]);
    for (uint32_t i : s.test) held_out.insert(f->pool->texts[i]);
  }
  for (const std::string& t : held_out) EXPECT_EQ(train_texts.count(t), 0u) << t;
  // Deterministic, and the seed matters.
  absl::StatusOr<TextFederation> again = FederateTexts(Corpus(), o);
  EXPECT_EQ(again->clients[2].test, f->clients[2].test);
  o.seed = 4;
  EXPECT_NE(FederateTexts(Corpus(), o)->clients[2].test, f->clients[2].test);
}

TEST(FederateTexts, DrawsNumClientsOrSaysHowManyQualify) {
  TextFederationOptions o;
  o.num_clients = 3;
  absl::StatusOr<TextFederation> f = FederateTexts(Corpus(), o);
  ASSERT_OK(f);
  EXPECT_EQ(f->clients.size(), 3u);
  EXPECT_TRUE(std::is_sorted(f->names.begin(), f->names.end()));
  o.num_clients = 6;
  EXPECT_STATUS(FederateTexts(Corpus(), o), absl::StatusCode::kFailedPrecondition,
                "only 5 users have 50 or more");
}

TEST(FederateTexts, HeldOutUsersAreDrawnBySeedAndComeLast) {
  TextFederationOptions o;
  o.held_out = 2;
  std::set<std::string> held_out_sets;
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    o.seed = seed;
    absl::StatusOr<TextFederation> f = FederateTexts(Corpus(), o);
    ASSERT_OK(f);
    ASSERT_EQ(f->names.size(), 5u);
    EXPECT_TRUE(std::is_sorted(f->names.begin(), f->names.begin() + 3));
    EXPECT_TRUE(std::is_sorted(f->names.begin() + 3, f->names.end()));
    held_out_sets.insert(f->names[3] + "," + f->names[4]);
  }
  EXPECT_GT(held_out_sets.size(), 1u);  // not simply the last names
  o.held_out = 5;
  EXPECT_STATUS(FederateTexts(Corpus(), o), absl::StatusCode::kInvalidArgument, "held_out");
}

// Debian's fortunes (deploy/install-deps.sh installs them): whatever the packages hold, no
// held-out fortune is any client's training text.
TEST(FederateTexts, DebianFortunesHaveNoHeldOutTextInAnyTrainingSplit) {
  absl::StatusOr<TextCorpus> corpus = LoadFortunes(kFortunesRoot, Env::Default());
  ASSERT_OK(corpus);
  absl::StatusOr<TextFederation> f = FederateTexts(*corpus, TextFederationOptions());
  ASSERT_OK(f);
  EXPECT_GE(f->clients.size(), 40u);
  EXPECT_GT(f->duplicates_removed, 0);
  std::set<std::string> train;
  for (const ClientSplit& s : f->clients) {
    for (uint32_t i : s.train) train.insert(f->pool->texts[i]);
  }
  for (const ClientSplit& s : f->clients) {
    for (uint32_t i : s.test) ASSERT_EQ(train.count(f->pool->texts[i]), 0u);
    for (uint32_t i : s.val) ASSERT_EQ(train.count(f->pool->texts[i]), 0u);
  }
  std::printf("fortunes: %zu users, %zu clients, %zu texts, %lld duplicates removed, %zu dropped, %zu skipped\n",
              corpus->users.size(), f->clients.size(), f->pool->texts.size(),
              static_cast<long long>(f->duplicates_removed), f->dropped.size(), corpus->skipped.size());
}

}  // namespace
}  // namespace tailor
