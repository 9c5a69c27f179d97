// The checkpoint store opening damaged files: a coordinator.db and a model file as the input
// gives them. Whatever is on disk, opening and resuming give a state or a clear error
// (DATA_LOSS, FAILED_PRECONDITION, INTERNAL), never a crash, and a resumed model is the one its
// row names. Input: u16 length of the database, the database, then the model file.
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "core/env.h"
#include "core/serialization.h"
#include "server/checkpoint_store.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

std::string Dir() {
  static const std::string* dir = [] {
    const char* shm = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    auto* d = new std::string(absl::StrCat(shm, "/tailor-ckpt-fuzz-", ::getpid()));
    tailor::Env::Default()->CreateDirs(*d + "/models").IgnoreError();
    return d;
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  if (size < 2) return 0;
  Env* env = Env::Default();
  const std::string dir = Dir();
  const size_t db_bytes = std::min<size_t>(size - 2, data[0] | (data[1] << 8));
  const std::string db(reinterpret_cast<const char*>(data) + 2, db_bytes);
  const std::string model(reinterpret_cast<const char*>(data) + 2 + db_bytes, size - 2 - db_bytes);
  for (const char* f : {"/coordinator.db", "/coordinator.db-wal", "/coordinator.db-shm"}) {
    ::unlink((dir + f).c_str());
  }
  const std::vector<std::string> old_models =
      env->ListDir(dir + "/models").value_or(std::vector<std::string>{});
  for (const std::string& name : old_models) {
    ::unlink((dir + "/models/" + name).c_str());
  }
  FUZZ_CHECK(env->WriteFileAtomically(dir + "/coordinator.db", db).ok());
  // The model file is named by its own trailing digest, as the store names them.
  const std::string name = model.size() >= 32 ? ContentAddressOf(model) : "short";
  FUZZ_CHECK(env->WriteFileAtomically(dir + "/models/" + name + ".tlps", model).ok());
  CheckpointStoreOptions options;
  options.keep_models = 2;
  absl::StatusOr<std::unique_ptr<CheckpointStore>> store =
      CheckpointStore::Open(dir, "fuzz", env, options);
  if (!store.ok()) return 0;
  absl::StatusOr<std::optional<Checkpoint>> latest = (*store)->LoadLatest();
  if (latest.ok() && latest->has_value()) {
    // The only model file on disk is the input's: a resumed model is exactly those bytes.
    FUZZ_CHECK(SerializeParameterSet((*latest)->global_shared) == model);
  } else if (!latest.ok()) {
    FUZZ_CHECK(!latest.status().message().empty());
  }
  (*store)->MetricsLines().IgnoreError();
  (*store)->LastAttempt().IgnoreError();
  (*store)->CountRounds().IgnoreError();
  return 0;
}
