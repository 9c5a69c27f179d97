#include "client/personal_store.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/serialization.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

// The round a stored version followed, kept inside the checksummed file.
constexpr char kRoundEntry[] = "store/round";

absl::Status CheckRound(int64_t round) {
  if (round < 1) {
    return absl::InvalidArgumentError(absl::StrCat("a state is saved after a round >= 1, not ",
                                                    round));
  }
  return absl::OkStatus();
}

absl::Status RolledBack(int64_t client_id, int64_t oldest, int64_t as_of_round) {
  return absl::FailedPreconditionError(absl::StrCat(
      "client ", client_id, "'s stored state is from round ", oldest,
      " but the coordinator asks for the state as of round ", as_of_round,
      "; the coordinator's state was rolled back (use a new state directory to start over)"));
}

}  // namespace

absl::StatusOr<std::optional<ParameterSet>> PersonalStore::FromPrevious(
    std::optional<Version> previous, int64_t client_id, int64_t as_of_round) {
  if (!previous) return std::optional<ParameterSet>();  // the first round, run again
  if (previous->round <= as_of_round) {
    return std::optional<ParameterSet>(std::move(previous->state));
  }
  return RolledBack(client_id, previous->round, as_of_round);
}

absl::StatusOr<std::optional<ParameterSet>> InMemoryPersonalStore::Load(int64_t client_id,
                                                                       int64_t as_of_round) {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(client_id);
  if (it == states_.end() || !it->second.newest) return std::optional<ParameterSet>();
  const Versions& v = it->second;
  if (v.newest->round <= as_of_round) return std::optional<ParameterSet>(v.newest->state);
  return FromPrevious(v.previous, client_id, as_of_round);
}

absl::Status InMemoryPersonalStore::Save(int64_t client_id, int64_t round,
                                         const ParameterSet& state) {
  TAILOR_RETURN_IF_ERROR(CheckRound(round));
  absl::MutexLock lock(&mu_);
  Versions& v = states_[client_id];
  if (v.newest && v.newest->round < round) v.previous = std::move(v.newest);
  v.newest = Version{round, state};
  return absl::OkStatus();
}

std::string DirectoryPersonalStore::NewestPath(int64_t client_id) const {
  return absl::StrCat(dir_, "/client-", client_id, ".tlps");
}

std::string DirectoryPersonalStore::PreviousPath(int64_t client_id) const {
  return absl::StrCat(dir_, "/client-", client_id, ".previous.tlps");
}

bool DirectoryPersonalStore::Contains(int64_t client_id) const {
  return env_->FileExists(NewestPath(client_id)) || env_->FileExists(PreviousPath(client_id));
}

absl::Status DirectoryPersonalStore::RemoveTemporaryFiles() {
  return RemoveAtomicWriteLeftovers(env_, dir_);
}

absl::StatusOr<std::optional<DirectoryPersonalStore::Version>> DirectoryPersonalStore::Read(
    const std::string& path) const {
  absl::StatusOr<std::string> bytes = env_->ReadFile(path);
  if (absl::IsNotFound(bytes.status())) return std::optional<Version>();
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<ParameterSet> set = DeserializeParameterSet(*bytes);
  if (!set.ok()) return Annotate(set.status(), absl::StrCat("personal state ", path));
  Version v;
  for (size_t i = 0; i < set->size(); ++i) {
    NamedTensor& e = set->entry(i);
    if (e.name == kRoundEntry) {
      if (e.tensor.dtype() != DType::kInt64 || e.tensor.numel() != 1) {
        return absl::DataLossError(absl::StrCat("personal state ", path, ": malformed ",
                                                kRoundEntry));
      }
      std::memcpy(&v.round, e.tensor.data(), sizeof(v.round));
    } else {
      TAILOR_RETURN_IF_ERROR(v.state.Add(std::move(e.name), std::move(e.tensor)));
    }
  }
  return std::optional<Version>(std::move(v));
}

absl::Status DirectoryPersonalStore::Write(const std::string& path, int64_t round,
                                           const ParameterSet& state) const {
  ParameterSet stamped = state;
  Tensor stamp(DType::kInt64, {1});
  std::memcpy(stamp.data(), &round, sizeof(round));
  TAILOR_RETURN_IF_ERROR(stamped.Add(kRoundEntry, std::move(stamp)));
  return env_->WriteFileAtomically(path, SerializeParameterSet(stamped));
}

absl::StatusOr<std::optional<ParameterSet>> DirectoryPersonalStore::Load(int64_t client_id,
                                                                        int64_t as_of_round) {
  TAILOR_ASSIGN_OR_RETURN(std::optional<Version> newest, Read(NewestPath(client_id)));
  if (newest && newest->round <= as_of_round) {
    return std::optional<ParameterSet>(std::move(newest->state));
  }
  // Read only when needed: a training task usually finds its state in the newest file.
  TAILOR_ASSIGN_OR_RETURN(std::optional<Version> previous, Read(PreviousPath(client_id)));
  return FromPrevious(std::move(previous), client_id, as_of_round);
}

absl::Status DirectoryPersonalStore::Save(int64_t client_id, int64_t round,
                                          const ParameterSet& state) {
  TAILOR_RETURN_IF_ERROR(CheckRound(round));
  TAILOR_RETURN_IF_ERROR(env_->CreateDirs(dir_));
  TAILOR_ASSIGN_OR_RETURN(std::optional<Version> newest, Read(NewestPath(client_id)));
  if (newest && newest->round < round) {
    // The newest becomes the base of this round. Written before the new newest replaces it: a
    // crash in between leaves the old newest in both places, which is still the right base.
    TAILOR_RETURN_IF_ERROR(Write(PreviousPath(client_id), newest->round, newest->state));
  }
  return Write(NewestPath(client_id), round, state);
}

}  // namespace tailor
