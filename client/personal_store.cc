#include "client/personal_store.h"

#include "absl/strings/str_cat.h"
#include "core/serialization.h"
#include "core/status_macros.h"

namespace tailor {

absl::StatusOr<std::optional<ParameterSet>> InMemoryPersonalStore::Load(int64_t client_id) {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(client_id);
  if (it == states_.end()) return std::optional<ParameterSet>();
  return std::optional<ParameterSet>(it->second);
}

absl::Status InMemoryPersonalStore::Save(int64_t client_id, const ParameterSet& personal) {
  absl::MutexLock lock(&mu_);
  states_[client_id] = personal;
  return absl::OkStatus();
}

std::string DirectoryPersonalStore::PathFor(int64_t client_id) const {
  return absl::StrCat(dir_, "/client-", client_id, ".tlps");
}

bool DirectoryPersonalStore::Contains(int64_t client_id) const {
  return env_->FileExists(PathFor(client_id));
}

absl::StatusOr<std::optional<ParameterSet>> DirectoryPersonalStore::Load(int64_t client_id) {
  const std::string path = PathFor(client_id);
  absl::StatusOr<std::string> bytes = env_->ReadFile(path);
  if (absl::IsNotFound(bytes.status())) return std::optional<ParameterSet>();
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<ParameterSet> set = DeserializeParameterSet(*bytes);
  if (!set.ok()) return Annotate(set.status(), absl::StrCat("personal state ", path));
  return std::optional<ParameterSet>(*std::move(set));
}

absl::Status DirectoryPersonalStore::Save(int64_t client_id, const ParameterSet& personal) {
  TAILOR_RETURN_IF_ERROR(env_->CreateDirs(dir_));
  return env_->WriteFileAtomically(PathFor(client_id), SerializeParameterSet(personal));
}

}  // namespace tailor
