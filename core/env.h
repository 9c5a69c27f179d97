// Env: the process's view of files and time, injected through Options so tests can crash a
// write, fail a read or move time without sleeping (after LevelDB's Env). Randomness is
// injected as explicit seeds (core/random.h), never read from a global.
#ifndef TAILOR_CORE_ENV_H_
#define TAILOR_CORE_ENV_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/time/time.h"

namespace tailor {

class Env {
 public:
  virtual ~Env() = default;

  // The real file system and clock. Never null; lives for the process.
  static Env* Default();

  // NOT_FOUND when the file does not exist.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // Writes to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs the
  // directory: after a crash the file holds either the old or the new contents, never a mix.
  absl::Status WriteFileAtomically(const std::string& path, absl::string_view data) {
    return WritePiecesAtomically(path, {data});
  }
  // The same for contents given as consecutive pieces (a model serialized as views of its
  // tensors is written without first being copied into one buffer).
  virtual absl::Status WritePiecesAtomically(const std::string& path,
                                             absl::Span<const absl::string_view> pieces) = 0;
  // Appends and flushes (for JSONL metrics).
  virtual absl::Status AppendToFile(const std::string& path, absl::string_view data) = 0;
  // mkdir -p.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual absl::Status DeleteFile(const std::string& path) = 0;
  // The names of the entries of directory `path` (not "." or ".."), sorted; NOT_FOUND when it
  // does not exist.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  // Whether `path` is a directory (following symbolic links).
  virtual bool IsDirectory(const std::string& path) = 0;
  // `path` with symbolic links, "." and ".." resolved (realpath); NOT_FOUND when it does not
  // exist. Corpora whose files link to each other count each file once by it.
  virtual absl::StatusOr<std::string> CanonicalPath(const std::string& path) = 0;

  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration d) = 0;
};

// Deletes the temporary files that WritePiecesAtomically leaves in `dir` when its process is
// killed mid-write ("NAME.tmp.PID"). Only for a directory no live process is writing to. A
// missing directory is fine.
absl::Status RemoveAtomicWriteLeftovers(Env* env, const std::string& dir);

// Forwards every call to a target; tests derive from it and override what they break.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  absl::StatusOr<std::string> ReadFile(const std::string& p) override {
    return target_->ReadFile(p);
  }
  absl::Status WritePiecesAtomically(const std::string& p,
                                     absl::Span<const absl::string_view> d) override {
    return target_->WritePiecesAtomically(p, d);
  }
  absl::Status AppendToFile(const std::string& p, absl::string_view d) override {
    return target_->AppendToFile(p, d);
  }
  absl::Status CreateDirs(const std::string& p) override { return target_->CreateDirs(p); }
  bool FileExists(const std::string& p) override { return target_->FileExists(p); }
  absl::Status DeleteFile(const std::string& p) override { return target_->DeleteFile(p); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& p) override {
    return target_->ListDir(p);
  }
  bool IsDirectory(const std::string& p) override { return target_->IsDirectory(p); }
  absl::StatusOr<std::string> CanonicalPath(const std::string& p) override {
    return target_->CanonicalPath(p);
  }
  absl::Time Now() override { return target_->Now(); }
  void SleepFor(absl::Duration d) override { target_->SleepFor(d); }

 protected:
  Env* target() const { return target_; }

 private:
  Env* target_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_ENV_H_
