#include "core/wire_update.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/serialization.h"
#include "core/status_macros.h"
#include "core/update_codec.h"

namespace tailor {

absl::StatusOr<std::string> EncodeSharedUpdate(const ParameterSet& update,
                                               const PersonalizationPolicy& policy) {
  for (const auto& e : update.entries()) {
    // A compressed tensor travels as "<name>#<part>": the policy judges the parameter's name.
    const auto role = policy.RoleOf(e.name.substr(0, e.name.find('#')));
    if (role == PersonalizationPolicy::Role::kPersonal) {
      return absl::FailedPreconditionError(absl::StrCat("refusing to upload personal tensor '",
                                                        e.name,
                                                        "': personal parameters never leave "
                                                        "the client"));
    }
    if (role == PersonalizationPolicy::Role::kFrozen) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to upload frozen tensor '", e.name,
          "': the frozen base is the same on every device and is never uploaded"));
    }
  }
  return SerializeParameterSet(update);
}

absl::StatusOr<ParameterSet> DecodeSharedUpdate(absl::string_view bytes,
                                                const ParameterSet& shared_schema,
                                                std::vector<double>* max_abs) {
  return CheckSharedUpdate(DeserializeParameterSet(bytes), shared_schema, max_abs);
}

absl::StatusOr<ParameterSet> CheckSharedUpdate(absl::StatusOr<ParameterSet> decoded,
                                               const ParameterSet& shared_schema,
                                               std::vector<double>* max_abs) {
  if (!decoded.ok()) return decoded.status();
  // Compressed tensors (core/update_codec.h) become dense ones of the schema, or are refused.
  TAILOR_ASSIGN_OR_RETURN(decoded, ExpandUpdate(*std::move(decoded), shared_schema));
  TAILOR_RETURN_IF_ERROR(shared_schema.CheckSameSchema(*decoded, "update"));
  std::vector<double> largest(decoded->size());
  for (size_t t = 0; t < decoded->size(); ++t) {
    largest[t] = decoded->entry(t).tensor.MaxAbs();
    if (!std::isfinite(largest[t])) {
      // Locate the bad value for the message.
      TAILOR_RETURN_IF_ERROR(Annotate(decoded->CheckFinite(), "update"));
    }
  }
  if (max_abs != nullptr) *max_abs = std::move(largest);
  return decoded;
}

}  // namespace tailor
