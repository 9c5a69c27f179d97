// The coordinator's durable state on a real SQLite file.
#include "server/checkpoint_store.h"

#include <dirent.h>
#include <sqlite3.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/serialization.h"
#include "tests/test_util.h"

namespace tailor {
namespace {

using testing::RandomSet;

std::string OnlyModelFile(const std::string& dir) {
  DIR* d = ::opendir((dir + "/models").c_str());
  std::string found;
  while (dirent* e = ::readdir(d)) {
    if (std::string(e->d_name).size() > 5) found = dir + "/models/" + e->d_name;
  }
  ::closedir(d);
  return found;
}

std::vector<std::string> ModelFiles(const std::string& dir) {
  std::vector<std::string> names = *Env::Default()->ListDir(dir + "/models");
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CheckpointStore, KeepsTheNewestRoundsModelsAndResumesFromThem) {
  const std::string dir = testing::MakeTempDir("retention");
  CheckpointStoreOptions options;
  options.keep_models = 2;
  {
    auto store = CheckpointStore::Open(dir, "exp", Env::Default(), options);
    ASSERT_OK(store);
    for (int64_t round = 1; round <= 6; ++round) {
      // A server optimizer state beside each model: both are pruned together.
      ASSERT_OK((*store)->SaveRound(round, RandomSet({{"w", {4}}}, round),
                                    RandomSet({{"m", {4}}}, 100 + round), "{}"));
      EXPECT_EQ(ModelFiles(dir).size(), 2u * std::min<int64_t>(round, 2)) << round;
    }
    // A round whose model equals a kept round's (an unchanged, skipped round) shares its file.
    ASSERT_OK((*store)->SaveRound(7, RandomSet({{"w", {4}}}, 6), RandomSet({{"m", {4}}}, 106), "{}"));
    EXPECT_EQ(ModelFiles(dir).size(), 2u);
  }
  // A crash's leftover and a larger retention before: pruned when the store opens.
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/models/leftover.tlps", "x"));
  auto reopened = CheckpointStore::Open(dir, "exp", Env::Default(), options);
  ASSERT_OK(reopened);
  EXPECT_EQ(ModelFiles(dir).size(), 2u);
  auto latest = (*reopened)->LoadLatest();
  ASSERT_OK(latest);
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->round, 7);
  EXPECT_TRUE((*latest)->global_shared == RandomSet({{"w", {4}}}, 6));
  EXPECT_EQ((*(*reopened)->MetricsLines()).size(), 7u) << "metrics of pruned rounds stay";
  // 0 keeps everything.
  const std::string all = testing::MakeTempDir("keepall");
  auto store = CheckpointStore::Open(all, "exp", Env::Default());
  ASSERT_OK(store);
  for (int64_t round = 1; round <= 4; ++round) {
    ASSERT_OK((*store)->SaveRound(round, RandomSet({{"w", {4}}}, round), ParameterSet(), "{}"));
  }
  EXPECT_EQ(ModelFiles(all).size(), 4u);
}

// Found by tests/fuzz/checkpoint_fuzzer: a damaged database can hold what the schema forbids.
TEST(CheckpointStore, ADamagedDatabaseIsDataLossNotACrashOrAPathOutside) {
  for (const char* sha : {"NULL", "'../../../../etc/hostname'"}) {
    const std::string dir = testing::MakeTempDir("damaged");
    ASSERT_OK(Env::Default()->CreateDirs(dir + "/models"));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/coordinator.db").c_str(), &db), SQLITE_OK);
    const std::string sql = absl::StrCat(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TABLE rounds (round INTEGER PRIMARY KEY, model_sha256 TEXT, metrics TEXT,"
        " server_state_sha256 TEXT, evaluation_pending INTEGER DEFAULT 0);"
        "INSERT INTO meta VALUES ('experiment', 'exp');"
        "INSERT INTO rounds (round, model_sha256, metrics) VALUES (1, ", sha, ", NULL);");
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto store = CheckpointStore::Open(dir, "exp", Env::Default());
    ASSERT_OK(store);
    SCOPED_TRACE(sha);
    EXPECT_STATUS((*store)->LoadLatest(), absl::StatusCode::kDataLoss, "coordinator.db");
    EXPECT_STATUS((*store)->MetricsLines(), absl::StatusCode::kDataLoss, "metrics");
  }
}

TEST(CheckpointStore, FreshThenRoundsSurviveReopening) {
  const std::string dir = testing::MakeTempDir("ckpt");
  {
    auto store = CheckpointStore::Open(dir, "exp", Env::Default());
    ASSERT_OK(store);
    auto latest = (*store)->LoadLatest();
    ASSERT_OK(latest);
    EXPECT_FALSE(latest->has_value());
    ASSERT_OK((*store)->SaveRound(1, RandomSet({{"w", {4}}}, 1), ParameterSet(), "{\"round\":1}"));
    ASSERT_OK((*store)->SaveRound(2, RandomSet({{"w", {4}}}, 2), ParameterSet(), "{\"round\":2}"));
    EXPECT_STATUS((*store)->SaveRound(2, RandomSet({{"w", {4}}}, 3), ParameterSet(), "{}"),
                  absl::StatusCode::kInternal, "record round 2");
  }
  auto reopened = CheckpointStore::Open(dir, "exp", Env::Default());
  ASSERT_OK(reopened);
  auto latest = (*reopened)->LoadLatest();
  ASSERT_OK(latest);
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->round, 2);
  EXPECT_TRUE((*latest)->global_shared == RandomSet({{"w", {4}}}, 2));
  EXPECT_EQ(*(*reopened)->CountRounds(), 2);
  EXPECT_EQ(*(*reopened)->MetricsLines(),
            (std::vector<std::string>{"{\"round\":1}", "{\"round\":2}"}));
}

TEST(CheckpointStore, ADeletedOrEmptiedDatabaseBesideModelFilesIsRefusedUnlessStartingOver) {
  for (const bool emptied : {false, true}) {
    const std::string dir = testing::MakeTempDir("lostdb");
    {
      auto store = CheckpointStore::Open(dir, "exp", Env::Default());
      ASSERT_OK(store);
      ASSERT_OK((*store)->SaveRound(1, RandomSet({{"w", {4}}}, 1), ParameterSet(), "{}"));
    }
    ASSERT_OK(Env::Default()->DeleteFile(dir + "/coordinator.db"));
    (void)Env::Default()->DeleteFile(dir + "/coordinator.db-wal");
    (void)Env::Default()->DeleteFile(dir + "/coordinator.db-shm");
    if (emptied) ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/coordinator.db", ""));
    EXPECT_STATUS(CheckpointStore::Open(dir, "exp", Env::Default()),
                  absl::StatusCode::kFailedPrecondition, "records no rounds, but");
    CheckpointStoreOptions over;
    over.start_over = true;
    auto fresh = CheckpointStore::Open(dir, "exp", Env::Default(), over);
    ASSERT_OK(fresh);
    EXPECT_FALSE((*(*fresh)->LoadLatest()).has_value());
  }
  // Metrics alone (the models directory cleaned) are refused too.
  const std::string dir = testing::MakeTempDir("lostdb");
  ASSERT_OK(Env::Default()->WriteFileAtomically(dir + "/metrics.jsonl", "{\"round\":1}\n"));
  EXPECT_STATUS(CheckpointStore::Open(dir, "exp", Env::Default()),
                absl::StatusCode::kFailedPrecondition, "metrics.jsonl");
  // A fresh run that crashed before committing round 1 (an orphan model file, a bound store)
  // resumes as a fresh run.
  const std::string crashed = testing::MakeTempDir("orphan");
  ASSERT_OK(CheckpointStore::Open(crashed, "exp", Env::Default()));
  ASSERT_OK(Env::Default()->WriteFileAtomically(crashed + "/models/orphan.tlps", "x"));
  ASSERT_OK(Env::Default()->WriteFileAtomically(crashed + "/models/abc.tlps.tmp.77", "torn"));
  ASSERT_OK(CheckpointStore::Open(crashed, "exp", Env::Default()));
  EXPECT_FALSE(Env::Default()->FileExists(crashed + "/models/abc.tlps.tmp.77"))
      << "a killed coordinator's temporary model file is removed when the store opens";
}

TEST(CheckpointStore, TheAttemptARoundIsOnSurvivesReopening) {
  const std::string dir = testing::MakeTempDir("attempt");
  {
    auto store = CheckpointStore::Open(dir, "exp", Env::Default());
    ASSERT_OK(store);
    EXPECT_FALSE((*(*store)->LastAttempt()).has_value());
    CheckpointStore::Attempt a;
    a.round = 7;
    a.attempt = 3;
    a.excluded = {2, 11};
    ASSERT_OK((*store)->RecordAttempt(a));
  }
  auto store = CheckpointStore::Open(dir, "exp", Env::Default());
  ASSERT_OK(store);
  auto a = (*store)->LastAttempt();
  ASSERT_OK(a);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->round, 7);
  EXPECT_EQ((*a)->attempt, 3);
  EXPECT_EQ((*a)->excluded, (std::set<int64_t>{2, 11}));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/coordinator.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '7 x' WHERE key = 'attempt'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_STATUS((*store)->LastAttempt(), absl::StatusCode::kDataLoss, "malformed attempt");
}

TEST(CheckpointStore, RefusesAnotherExperimentsState) {
  const std::string dir = testing::MakeTempDir("ckpt");
  ASSERT_OK(CheckpointStore::Open(dir, "exp", Env::Default()));
  EXPECT_STATUS(CheckpointStore::Open(dir, "other", Env::Default()),
                absl::StatusCode::kFailedPrecondition, "experiment 'exp'");
}

TEST(CheckpointStore, MissingOrCorruptedModelIsDataLossNotAFreshStart) {
  const std::string dir = testing::MakeTempDir("ckpt");
  auto store = CheckpointStore::Open(dir, "exp", Env::Default());
  ASSERT_OK(store);
  ASSERT_OK((*store)->SaveRound(1, RandomSet({{"w", {4}}}, 1), ParameterSet(), "{}"));
  const std::string model = OnlyModelFile(dir);
  std::string bytes = *Env::Default()->ReadFile(model);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_OK(Env::Default()->WriteFileAtomically(model, bytes));
  EXPECT_STATUS((*store)->LoadLatest(), absl::StatusCode::kDataLoss, "does not match its digest");
  ASSERT_OK(Env::Default()->DeleteFile(model));
  EXPECT_STATUS((*store)->LoadLatest(), absl::StatusCode::kDataLoss, "cannot be read");
}

// A write that fails (disk full) leaves no committed round behind.
class FailingWrites : public EnvWrapper {
 public:
  FailingWrites() : EnvWrapper(Env::Default()) {}
  absl::Status WritePiecesAtomically(const std::string& p,
                                     absl::Span<const absl::string_view> d) override {
    return absl::ResourceExhaustedError("disk full");
  }
};

TEST(CheckpointStore, FailedModelWriteCommitsNothing) {
  const std::string dir = testing::MakeTempDir("ckpt");
  FailingWrites env;
  auto store = CheckpointStore::Open(dir, "exp", &env);
  ASSERT_OK(store);
  EXPECT_STATUS((*store)->SaveRound(1, RandomSet({{"w", {4}}}, 1), ParameterSet(), "{}"),
                absl::StatusCode::kResourceExhausted, "disk full");
  EXPECT_EQ(*(*store)->CountRounds(), 0);
}

TEST(CheckpointStore, ServerOptimizerStateIsStoredWithItsRoundAndVerified) {
  const std::string dir = testing::MakeTempDir("ckpt");
  const ParameterSet state = RandomSet({{"m/w", {4}}, {"v/w", {4}}}, 7);
  {
    auto store = CheckpointStore::Open(dir, "exp", Env::Default());
    ASSERT_OK(store);
    ASSERT_OK((*store)->SaveRound(1, RandomSet({{"w", {4}}}, 1), state, "{}"));
  }
  auto store = CheckpointStore::Open(dir, "exp", Env::Default());
  ASSERT_OK(store);
  auto latest = (*store)->LoadLatest();
  ASSERT_OK(latest);
  EXPECT_TRUE((*latest)->server_state == state);
  // Corrupting the state file is DATA_LOSS naming it, never a silent reset of the optimizer.
  const std::string path =
      dir + "/models/" + SerializedParameterSet(state).content_address() + ".tlps";
  std::string bytes = *Env::Default()->ReadFile(path);
  bytes[bytes.size() / 3] ^= 4;
  ASSERT_OK(Env::Default()->WriteFileAtomically(path, bytes));
  EXPECT_STATUS((*store)->LoadLatest(), absl::StatusCode::kDataLoss, "server optimizer state");
}

TEST(CheckpointStore, AStoreWrittenBeforeServerOptimizersOpensAndResumes) {
  const std::string dir = testing::MakeTempDir("ckpt");
  ASSERT_OK(Env::Default()->CreateDirs(dir + "/models"));
  const ParameterSet model = RandomSet({{"w", {4}}}, 3);
  const SerializedParameterSet serialized(model);
  ASSERT_OK(Env::Default()->WritePiecesAtomically(
      dir + "/models/" + serialized.content_address() + ".tlps", serialized.pieces()));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/coordinator.db").c_str(), &db), SQLITE_OK);
  const std::string old_schema =
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE rounds (round INTEGER PRIMARY KEY, model_sha256 TEXT NOT NULL,"
      " metrics TEXT NOT NULL);"
      "INSERT INTO meta VALUES ('experiment', 'exp');"
      "INSERT INTO rounds VALUES (4, '" +
      serialized.content_address() + "', '{}');";
  ASSERT_EQ(sqlite3_exec(db, old_schema.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = CheckpointStore::Open(dir, "exp", Env::Default());
  ASSERT_OK(store);
  auto latest = (*store)->LoadLatest();
  ASSERT_OK(latest);
  EXPECT_EQ((*latest)->round, 4);
  EXPECT_TRUE((*latest)->global_shared == model);
  EXPECT_TRUE((*latest)->server_state.empty());
  ASSERT_OK((*store)->SaveRound(5, model, RandomSet({{"m/w", {4}}}, 5), "{}"));
}

}  // namespace
}  // namespace tailor
