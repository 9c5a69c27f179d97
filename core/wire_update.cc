#include "core/wire_update.h"

#include "absl/strings/str_cat.h"
#include "core/serialization.h"
#include "core/status_macros.h"

namespace tailor {

absl::StatusOr<std::string> EncodeSharedUpdate(const ParameterSet& update,
                                               const PersonalizationPolicy& policy) {
  for (const auto& e : update.entries()) {
    if (policy.IsPersonal(e.name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to upload personal tensor '", e.name, "': personal parameters never leave "
          "the client"));
    }
  }
  return SerializeParameterSet(update);
}

absl::StatusOr<ParameterSet> DecodeSharedUpdate(absl::string_view bytes,
                                                const ParameterSet& shared_schema) {
  return CheckSharedUpdate(DeserializeParameterSet(bytes), shared_schema);
}

absl::StatusOr<ParameterSet> CheckSharedUpdate(absl::StatusOr<ParameterSet> decoded,
                                               const ParameterSet& shared_schema) {
  if (!decoded.ok()) return decoded.status();
  TAILOR_RETURN_IF_ERROR(shared_schema.CheckSameSchema(*decoded, "update"));
  TAILOR_RETURN_IF_ERROR(Annotate(decoded->CheckFinite(), "update"));
  return decoded;
}

}  // namespace tailor
