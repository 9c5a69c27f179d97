// PersonalStore: where a client keeps its personal parameters between rounds, keyed by
// experiment and client. The in-memory store serves simulations; the on-disk store (atomic
// files through Env) serves daemons and large simulated populations.
#ifndef TAILOR_CLIENT_PERSONAL_STORE_H_
#define TAILOR_CLIENT_PERSONAL_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/env.h"
#include "core/parameter_set.h"

namespace tailor {

class PersonalStore {
 public:
  virtual ~PersonalStore() = default;
  // std::nullopt when the client has no stored state yet.
  virtual absl::StatusOr<std::optional<ParameterSet>> Load(int64_t client_id) = 0;
  virtual absl::Status Save(int64_t client_id, const ParameterSet& personal) = 0;
};

// Thread-safe map in memory.
class InMemoryPersonalStore : public PersonalStore {
 public:
  absl::StatusOr<std::optional<ParameterSet>> Load(int64_t client_id) override;
  absl::Status Save(int64_t client_id, const ParameterSet& personal) override;

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, ParameterSet> states_ ABSL_GUARDED_BY(mu_);
};

// One checksummed file per client under `dir`, written atomically: a crash mid-write leaves the
// previous state. A corrupted file is reported (DATA_LOSS), never silently replaced.
class DirectoryPersonalStore : public PersonalStore {
 public:
  DirectoryPersonalStore(std::string dir, Env* env) : dir_(std::move(dir)), env_(env) {}
  absl::StatusOr<std::optional<ParameterSet>> Load(int64_t client_id) override;
  absl::Status Save(int64_t client_id, const ParameterSet& personal) override;
  // Whether the client has a state file (without reading it).
  bool Contains(int64_t client_id) const;

 private:
  std::string PathFor(int64_t client_id) const;
  std::string dir_;
  Env* env_;
};

}  // namespace tailor

#endif  // TAILOR_CLIENT_PERSONAL_STORE_H_
