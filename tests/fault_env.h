// An Env that breaks writes on purpose (after LevelDB's fault-injection tests): the next writes
// to paths containing a given substring fail as a full disk, a failed fsync, a read-only file
// system or a write cut short, or "succeed" with torn contents, as a disk that lies would.
#ifndef TAILOR_TESTS_FAULT_ENV_H_
#define TAILOR_TESTS_FAULT_ENV_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/env.h"

namespace tailor::testing {

class FaultInjectingEnv : public EnvWrapper {
 public:
  enum class Fault {
    kNone,
    // ENOSPC while writing the temporary file: nothing replaced, an error returned.
    kNoSpace,
    // The data is written but fsync reports EIO: nothing replaced, an error returned.
    kFsyncFails,
    // EROFS: the directory cannot be written at all.
    kReadOnly,
    // The process dies after half of the temporary file is written: a partial temp file is
    // left behind, the target untouched, an error returned.
    kShortWrite,
    // The disk lies: the target ends up holding the first half of the data, and the write
    // reports success.
    kTornWrite,
  };

  explicit FaultInjectingEnv(Env* target) : EnvWrapper(target) {}

  // The next `count` writes (WritePiecesAtomically, AppendToFile) to paths containing `where`
  // fail with `fault`.
  void Inject(Fault fault, std::string where, int count = 1) {
    absl::MutexLock lock(&mu_);
    fault_ = fault;
    where_ = std::move(where);
    remaining_ = count;
  }
  void Clear() { Inject(Fault::kNone, "", 0); }
  int injected() {
    absl::MutexLock lock(&mu_);
    return injected_;
  }

  absl::Status WritePiecesAtomically(const std::string& path,
                                     absl::Span<const absl::string_view> pieces) override {
    const Fault fault = Take(path);
    if (fault == Fault::kNone) return target()->WritePiecesAtomically(path, pieces);
    std::string data;
    for (absl::string_view p : pieces) absl::StrAppend(&data, p);
    const absl::string_view half = absl::string_view(data).substr(0, data.size() / 2);
    switch (fault) {
      case Fault::kNoSpace:
        return absl::ResourceExhaustedError(
            absl::StrCat("write '", path, ".tmp': No space left on device"));
      case Fault::kFsyncFails:
        return absl::DataLossError(absl::StrCat("fsync '", path, ".tmp': Input/output error"));
      case Fault::kReadOnly:
        return absl::PermissionDeniedError(
            absl::StrCat("open '", path, ".tmp': Read-only file system"));
      case Fault::kShortWrite:
        (void)target()->WriteFileAtomically(path + ".tmp.crashed", half);
        return absl::UnavailableError(
            absl::StrCat("write '", path, ".tmp': the process died mid-write"));
      case Fault::kTornWrite:
        return target()->WriteFileAtomically(path, half);
      case Fault::kNone:
        break;
    }
    return absl::OkStatus();
  }

  absl::Status AppendToFile(const std::string& path, absl::string_view data) override {
    if (Take(path) != Fault::kNone) {
      return absl::ResourceExhaustedError(
          absl::StrCat("append '", path, "': No space left on device"));
    }
    return target()->AppendToFile(path, data);
  }

 private:
  Fault Take(const std::string& path) {
    absl::MutexLock lock(&mu_);
    if (fault_ == Fault::kNone || remaining_ <= 0 || path.find(where_) == std::string::npos) {
      return Fault::kNone;
    }
    --remaining_;
    ++injected_;
    return fault_;
  }

  absl::Mutex mu_;
  Fault fault_ ABSL_GUARDED_BY(mu_) = Fault::kNone;
  std::string where_ ABSL_GUARDED_BY(mu_);
  int remaining_ ABSL_GUARDED_BY(mu_) = 0;
  int injected_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tailor::testing

#endif  // TAILOR_TESTS_FAULT_ENV_H_
