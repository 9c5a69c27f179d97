// PersonalStore: where a client keeps its device state (personal parameters and what the
// algorithm, the codec and DP-SGD keep) between rounds, keyed by experiment and client.
//
// The state advances with the coordinator's committed rounds, not with local training: a round
// the coordinator runs again (it crashed before committing it, or the client crashed before
// uploading) must start from the same state the first run started from, or the re-run trains a
// client's head twice and the model depends on when something crashed. So every save names the
// round it followed, and the store keeps two versions per client:
//   newest:   the state after the last round this client trained (committed or not yet);
//   previous: the newest state of an earlier round, the base of a re-run of the newest's round.
// A task for round r reads the state "as of" r − 1 (training) or r (evaluation). The coordinator
// only hands out round r after committing r − 1, so the newest state qualifies exactly when its
// round was committed. The in-memory store serves simulations; the on-disk store (atomic files
// through Env) serves daemons and large simulated populations.
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
  // Rounds in the store: a state saved before rounds were recorded counts as round 0.
  static constexpr int64_t kNewest = INT64_MAX;

  virtual ~PersonalStore() = default;
  // The state saved after the newest round <= `as_of_round` (kNewest: the newest of all);
  // std::nullopt when the client has none yet. FAILED_PRECONDITION when every stored state is
  // from a later round (the coordinator's state was rolled back under the client).
  virtual absl::StatusOr<std::optional<ParameterSet>> Load(int64_t client_id,
                                                          int64_t as_of_round) = 0;
  // Saves the state after training `round` (>= 1). The newest state of a round before `round`
  // is kept as the previous version; a state of `round` or later is replaced.
  virtual absl::Status Save(int64_t client_id, int64_t round, const ParameterSet& state) = 0;

 protected:
  struct Version {
    int64_t round = 0;
    ParameterSet state;
  };
  // Load's answer once the newest version is known to be later than `as_of_round`: the previous
  // version if it qualifies, FAILED_PRECONDITION if it is later too, none (start fresh) without
  // one.
  static absl::StatusOr<std::optional<ParameterSet>> FromPrevious(std::optional<Version> previous,
                                                                  int64_t client_id,
                                                                  int64_t as_of_round);
};

// Thread-safe map in memory.
class InMemoryPersonalStore : public PersonalStore {
 public:
  absl::StatusOr<std::optional<ParameterSet>> Load(int64_t client_id,
                                                  int64_t as_of_round) override;
  absl::Status Save(int64_t client_id, int64_t round, const ParameterSet& state) override;

 private:
  struct Versions {
    std::optional<Version> newest, previous;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, Versions> states_ ABSL_GUARDED_BY(mu_);
};

// Two checksummed files per client under `dir` (client-<id>.tlps, the newest, and
// client-<id>.previous.tlps), each written atomically and stamped with its round: a crash at
// any point leaves a readable newest or previous version. A corrupted file is reported
// (DATA_LOSS), never silently replaced.
class DirectoryPersonalStore : public PersonalStore {
 public:
  DirectoryPersonalStore(std::string dir, Env* env) : dir_(std::move(dir)), env_(env) {}
  absl::StatusOr<std::optional<ParameterSet>> Load(int64_t client_id,
                                                  int64_t as_of_round) override;
  absl::Status Save(int64_t client_id, int64_t round, const ParameterSet& state) override;
  // Whether the client has a state file (without reading it).
  bool Contains(int64_t client_id) const;
  // Deletes the temporary files of atomic writes that a killed process left behind (the state
  // files themselves are never half-written). Call once at start, before anything saves.
  absl::Status RemoveTemporaryFiles();

 private:
  std::string NewestPath(int64_t client_id) const;
  std::string PreviousPath(int64_t client_id) const;
  // The version in `path`, nullopt when there is no such file.
  absl::StatusOr<std::optional<Version>> Read(const std::string& path) const;
  absl::Status Write(const std::string& path, int64_t round, const ParameterSet& state) const;

  std::string dir_;
  Env* env_;
};

}  // namespace tailor

#endif  // TAILOR_CLIENT_PERSONAL_STORE_H_
