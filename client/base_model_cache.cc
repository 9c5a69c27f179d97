#include "client/base_model_cache.h"

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/serialization.h"
#include "core/status_macros.h"

namespace tailor {

absl::Status CheckBaseModelMatches(const ParameterSet& own, const ParameterSet& base) {
  for (const auto& e : own.entries()) {
    const Tensor* t = base.Find(e.name);
    if (t == nullptr || t->dtype() != e.tensor.dtype() || t->shape() != e.tensor.shape()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the coordinator's base model has '", e.name, "' as ",
          t == nullptr ? std::string("nothing") : t->Describe(), ", this client's model as ",
          e.tensor.Describe()));
    }
  }
  if (base.size() != own.size()) {
    return absl::FailedPreconditionError(absl::StrCat("the coordinator's base model has ",
                                                      base.size(), " parameters, this client's "
                                                      "model ", own.size()));
  }
  return absl::OkStatus();
}

std::string BaseModelCache::PathOf(const std::string& sha) const {
  return absl::StrCat(dir_, "/", sha, ".tlps");
}

absl::StatusOr<std::optional<ParameterSet>> BaseModelCache::Find(const std::string& sha) {
  const std::string path = PathOf(sha);
  // An address is hex: anything else could name a file outside the directory.
  if (sha.empty() || sha.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", sha, "' is not a model address"));
  }
  if (!env_->FileExists(path)) return std::nullopt;
  TAILOR_ASSIGN_OR_RETURN(std::string bytes, env_->ReadFile(path));
  absl::StatusOr<ParameterSet> set = DeserializeParameterSet(bytes);
  absl::Status damage = set.status();
  if (damage.ok() && ContentAddressOf(bytes) != sha) {
    damage = absl::DataLossError("it holds another model");
  }
  if (!damage.ok()) {
    LogEvent(LogLevel::kWarn, "base_model_cache_damaged",
             {{"path", path}, {"msg", std::string(damage.message())}});
    TAILOR_RETURN_IF_ERROR(env_->DeleteFile(path));
    return std::nullopt;
  }
  return std::optional<ParameterSet>(*std::move(set));
}

absl::StatusOr<std::string> BaseModelCache::Store(const ParameterSet& set) {
  SerializedParameterSet serialized(set);
  TAILOR_RETURN_IF_ERROR(env_->CreateDirs(dir_));
  TAILOR_RETURN_IF_ERROR(
      env_->WritePiecesAtomically(PathOf(serialized.content_address()), serialized.pieces()));
  return serialized.content_address();
}

}  // namespace tailor
