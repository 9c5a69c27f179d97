#include "server/checkpoint_store.h"

#include <sqlite3.h>


#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/serialization.h"
#include "core/sha256.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db)));
}

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// A text column, or DATA_LOSS naming `what` when a damaged database holds NULL there (the schema
// says NOT NULL, but a damaged file says what it says).
absl::StatusOr<std::string> TextColumn(sqlite3_stmt* q, int column, absl::string_view what) {
  const unsigned char* text = sqlite3_column_text(q, column);
  if (text == nullptr) {
    return absl::DataLossError(absl::StrCat("coordinator.db holds no value for ", what));
  }
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(q, column)));
}

// A model file's name as a row records it: 64 lowercase hex digits, nothing that could name a
// path outside models/.
absl::StatusOr<std::string> DigestColumn(sqlite3_stmt* q, int column, absl::string_view what,
                                         int64_t round) {
  TAILOR_ASSIGN_OR_RETURN(std::string sha, TextColumn(q, column, what));
  const bool hex = sha.size() == 64 && sha.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex) {
    return absl::DataLossError(absl::StrCat("coordinator.db names a malformed ", what,
                                            " digest for round ", round));
  }
  return sha;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(
    const std::string& dir, const std::string& experiment, Env* env,
    CheckpointStoreOptions options) {
  TAILOR_RETURN_IF_ERROR(env->CreateDirs(dir + "/models"));
  sqlite3* db = nullptr;
  const std::string path = dir + "/coordinator.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    absl::Status s = SqliteError(db, "open " + path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<CheckpointStore> store(new CheckpointStore(dir, env, db, options.keep_models));
  // A coordinator killed mid-write leaves its temporary model file behind; nothing names it.
  TAILOR_RETURN_IF_ERROR(RemoveAtomicWriteLeftovers(env, dir + "/models"));
  sqlite3_busy_timeout(db, 5000);
  TAILOR_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  TAILOR_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  TAILOR_RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, model_sha256 TEXT NOT NULL,"
      " metrics TEXT NOT NULL);"));
  // Stores created before the server optimizers lack the state column: add it (NULL = none).
  {
    Statement columns(db, "SELECT COUNT(*) FROM pragma_table_info('rounds')"
                          " WHERE name = 'server_state_sha256'");
    if (sqlite3_step(columns.get()) != SQLITE_ROW) return SqliteError(db, "read schema");
    if (sqlite3_column_int64(columns.get(), 0) == 0) {
      TAILOR_RETURN_IF_ERROR(store->Exec("ALTER TABLE rounds ADD COLUMN server_state_sha256 TEXT"));
    }
  }
  {
    Statement columns(db, "SELECT COUNT(*) FROM pragma_table_info('rounds')"
                          " WHERE name = 'evaluation_pending'");
    if (sqlite3_step(columns.get()) != SQLITE_ROW) return SqliteError(db, "read schema");
    if (sqlite3_column_int64(columns.get(), 0) == 0) {
      TAILOR_RETURN_IF_ERROR(store->Exec(
          "ALTER TABLE rounds ADD COLUMN evaluation_pending INTEGER NOT NULL DEFAULT 0"));
    }
  }
  // A store never bound to its experiment is new. Model files or metrics beside a new store
  // mean its database was deleted or emptied: starting at round 0 would discard the run.
  {
    Statement bound(db, "SELECT COUNT(*) FROM meta WHERE key = 'experiment'");
    if (sqlite3_step(bound.get()) != SQLITE_ROW) return SqliteError(db, "read meta");
    if (sqlite3_column_int64(bound.get(), 0) == 0 && !options.start_over) {
      TAILOR_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir + "/models"));
      std::vector<std::string> models;
      for (const std::string& name : names) {
        if (absl::EndsWith(name, ".tlps")) models.push_back(name);
      }
      absl::StatusOr<std::string> metrics = env->ReadFile(dir + "/metrics.jsonl");
      const bool has_metrics = metrics.ok() && !metrics->empty();
      if (!models.empty() || has_metrics) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " records no rounds, but ", dir, " holds ",
            models.empty() ? "" : absl::StrCat(models.size(), " model file(s)"),
            !models.empty() && has_metrics ? " and " : "", has_metrics ? "metrics.jsonl" : "",
            " from an earlier run: the database was deleted or emptied. Restore it to resume, "
            "or start over on purpose (--start_over: the old files are ignored, and deleted with the new "
            "run's own old models once it commits a round)"));
      }
    }
  }
  // Bind the directory to its experiment on first use; refuse another experiment's state.
  {
    Statement insert(db, "INSERT OR IGNORE INTO meta (key, value) VALUES ('experiment', ?)");
    sqlite3_bind_text(insert.get(), 1, experiment.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) return SqliteError(db, "write meta");
  }
  Statement get(db, "SELECT value FROM meta WHERE key = 'experiment'");
  if (sqlite3_step(get.get()) != SQLITE_ROW) return SqliteError(db, "read meta");
  TAILOR_ASSIGN_OR_RETURN(const std::string stored,
                          TextColumn(get.get(), 0, "the experiment's name"));
  if (stored != experiment) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " holds the state of experiment '", stored, "', not '", experiment,
        "'; use another output_dir"));
  }
  // Files outside the retention: a crash between a commit and its prune, or a smaller
  // keep_models than the last run's. Only once a round is committed (a fresh store deletes
  // nothing).
  TAILOR_ASSIGN_OR_RETURN(const int64_t rounds, store->CountRounds());
  if (rounds > 0) TAILOR_RETURN_IF_ERROR(store->PruneModels().status());
  return store;
}

CheckpointStore::~CheckpointStore() { sqlite3_close(db_); }

absl::Status CheckpointStore::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s = absl::InternalError(absl::StrCat("sqlite: ", err ? err : "error", " in ", sql));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Checkpoint>> CheckpointStore::LoadLatest() {
  Statement q(db_, "SELECT round, model_sha256, server_state_sha256, evaluation_pending, metrics"
                   " FROM rounds ORDER BY round DESC LIMIT 1");
  const int rc = sqlite3_step(q.get());
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return SqliteError(db_, "read rounds");
  Checkpoint cp;
  cp.round = sqlite3_column_int64(q.get(), 0);
  TAILOR_ASSIGN_OR_RETURN(const std::string sha, DigestColumn(q.get(), 1, "model", cp.round));
  TAILOR_ASSIGN_OR_RETURN(cp.global_shared, ReadContentAddressed(sha, "model", cp.round));
  if (sqlite3_column_type(q.get(), 2) != SQLITE_NULL) {
    TAILOR_ASSIGN_OR_RETURN(const std::string state_sha,
                            DigestColumn(q.get(), 2, "server optimizer state", cp.round));
    TAILOR_ASSIGN_OR_RETURN(cp.server_state,
                            ReadContentAddressed(state_sha, "server optimizer state", cp.round));
  }
  if (sqlite3_column_int64(q.get(), 3) != 0) {
    TAILOR_ASSIGN_OR_RETURN(cp.pending_evaluation_metrics,
                            TextColumn(q.get(), 4, "a round's metrics"));
  }
  return std::optional<Checkpoint>(std::move(cp));
}

absl::StatusOr<ParameterSet> CheckpointStore::ReadContentAddressed(const std::string& sha,
                                                                   const std::string& what,
                                                                   int64_t round) {
  const std::string path = absl::StrCat(dir_, "/models/", sha, ".tlps");
  absl::StatusOr<std::string> bytes = env_->ReadFile(path);
  if (!bytes.ok()) {
    return absl::DataLossError(absl::StrCat("round ", round, " names ", what, " ", path,
                                            ", which cannot be read: ", bytes.status().message()));
  }
  // Decoding verifies the trailing digest, which is the content address the file is named by.
  absl::StatusOr<ParameterSet> set = DeserializeParameterSet(*bytes);
  if (!set.ok() || ContentAddressOf(*bytes) != sha) {
    return absl::DataLossError(absl::StrCat(
        "round ", round, "'s ", what, " file ", path, " does not match its digest",
        set.ok() ? "" : absl::StrCat(": ", set.status().message())));
  }
  return set;
}

absl::StatusOr<std::string> CheckpointStore::WriteContentAddressed(const ParameterSet& set) {
  // Written from views of the tensors: no serialized copy in memory.
  const SerializedParameterSet serialized(set);
  const std::string& sha = serialized.content_address();
  TAILOR_RETURN_IF_ERROR(env_->WritePiecesAtomically(absl::StrCat(dir_, "/models/", sha, ".tlps"),
                                                     serialized.pieces()));
  return sha;
}

absl::Status CheckpointStore::SaveRound(int64_t round, const ParameterSet& global_shared,
                                        const ParameterSet& server_state,
                                        const std::string& metrics_json,
                                        bool evaluation_pending) {
  // The files first: a committed row must never name a file that is not fully on disk.
  TAILOR_ASSIGN_OR_RETURN(const std::string sha, WriteContentAddressed(global_shared));
  std::string state_sha;
  if (!server_state.empty()) {
    TAILOR_ASSIGN_OR_RETURN(state_sha, WriteContentAddressed(server_state));
  }
  Statement insert(db_, "INSERT INTO rounds (round, model_sha256, metrics, server_state_sha256,"
                        " evaluation_pending) VALUES (?, ?, ?, ?, ?)");
  sqlite3_bind_int64(insert.get(), 1, round);
  sqlite3_bind_text(insert.get(), 2, sha.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.get(), 3, metrics_json.c_str(), -1, SQLITE_TRANSIENT);
  if (state_sha.empty()) {
    sqlite3_bind_null(insert.get(), 4);
  } else {
    sqlite3_bind_text(insert.get(), 4, state_sha.c_str(), -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int(insert.get(), 5, evaluation_pending ? 1 : 0);
  if (sqlite3_step(insert.get()) != SQLITE_DONE) {
    return SqliteError(db_, absl::StrCat("record round ", round));
  }
  // The round is committed whatever happens now; files left by a failed prune go at the next.
  PruneModels().IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<int> CheckpointStore::PruneModels() {
  if (keep_models_ <= 0) return 0;
  std::set<std::string> kept;
  Statement q(db_, "SELECT model_sha256, server_state_sha256 FROM rounds"
                   " ORDER BY round DESC LIMIT ?");
  sqlite3_bind_int(q.get(), 1, keep_models_);
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    for (int column : {0, 1}) {
      if (sqlite3_column_type(q.get(), column) == SQLITE_NULL) continue;
      TAILOR_ASSIGN_OR_RETURN(std::string sha, TextColumn(q.get(), column, "a kept model"));
      kept.insert(std::move(sha));
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "list the kept models");
  TAILOR_ASSIGN_OR_RETURN(std::vector<std::string> files, env_->ListDir(dir_ + "/models"));
  int deleted = 0;
  for (const std::string& name : files) {
    if (!absl::EndsWith(name, ".tlps")) continue;
    if (kept.count(name.substr(0, name.size() - 5))) continue;
    TAILOR_RETURN_IF_ERROR(env_->DeleteFile(absl::StrCat(dir_, "/models/", name)));
    ++deleted;
  }
  return deleted;
}

absl::Status CheckpointStore::CompleteEvaluation(int64_t round, const std::string& metrics_json) {
  Statement update(db_, "UPDATE rounds SET metrics = ?, evaluation_pending = 0"
                        " WHERE round = ? AND evaluation_pending = 1");
  sqlite3_bind_text(update.get(), 1, metrics_json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(update.get(), 2, round);
  if (sqlite3_step(update.get()) != SQLITE_DONE) {
    return SqliteError(db_, absl::StrCat("record the evaluation of round ", round));
  }
  if (sqlite3_changes(db_) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", round, " is not committed with its evaluation pending"));
  }
  return absl::OkStatus();
}

absl::Status CheckpointStore::RecordAttempt(const Attempt& a) {
  Statement upsert(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('attempt', ?)");
  // "ROUND ATTEMPT [EXCLUDED,...]"
  const std::string value =
      absl::StrCat(a.round, " ", a.attempt, a.excluded.empty() ? "" : " ",
                   absl::StrJoin(a.excluded, ","));
  sqlite3_bind_text(upsert.get(), 1, value.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(upsert.get()) != SQLITE_DONE) {
    return SqliteError(db_, absl::StrCat("record attempt ", a.attempt, " of round ", a.round));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<CheckpointStore::Attempt>> CheckpointStore::LastAttempt() {
  Statement q(db_, "SELECT value FROM meta WHERE key = 'attempt'");
  const int rc = sqlite3_step(q.get());
  if (rc == SQLITE_DONE) return std::optional<Attempt>();
  if (rc != SQLITE_ROW) return SqliteError(db_, "read meta");
  TAILOR_ASSIGN_OR_RETURN(const std::string value, TextColumn(q.get(), 0, "the round's attempt"));
  const std::vector<std::string> parts = absl::StrSplit(value, ' ');
  Attempt a;
  bool ok = (parts.size() == 2 || parts.size() == 3) && absl::SimpleAtoi(parts[0], &a.round) &&
            absl::SimpleAtoi(parts[1], &a.attempt) && a.attempt >= 1;
  if (ok && parts.size() == 3) {
    for (absl::string_view id : absl::StrSplit(parts[2], ',')) {
      int64_t client = 0;
      ok = ok && absl::SimpleAtoi(id, &client) && client >= 0;
      a.excluded.insert(client);
    }
  }
  if (!ok) return absl::DataLossError(absl::StrCat("malformed attempt record '", value, "'"));
  return std::optional<Attempt>(std::move(a));
}

absl::StatusOr<int64_t> CheckpointStore::CountRounds() {
  Statement q(db_, "SELECT COUNT(*) FROM rounds");
  if (sqlite3_step(q.get()) != SQLITE_ROW) return SqliteError(db_, "count rounds");
  return sqlite3_column_int64(q.get(), 0);
}

absl::StatusOr<std::vector<std::string>> CheckpointStore::MetricsLines() {
  Statement q(db_, "SELECT metrics FROM rounds WHERE evaluation_pending = 0 ORDER BY round");
  std::vector<std::string> lines;
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    TAILOR_ASSIGN_OR_RETURN(std::string line, TextColumn(q.get(), 0, "a round's metrics"));
    lines.push_back(std::move(line));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "read metrics");
  return lines;
}

}  // namespace tailor
