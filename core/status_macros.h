// Small helpers Abseil 20220623 does not ship: early-return on error Status/StatusOr.
#ifndef TAILOR_CORE_STATUS_MACROS_H_
#define TAILOR_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TAILOR_STATUS_CONCAT_INNER_(a, b) a##b
#define TAILOR_STATUS_CONCAT_(a, b) TAILOR_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define TAILOR_RETURN_IF_ERROR(expr)                \
  do {                                              \
    ::absl::Status tailor_status_ = (expr);         \
    if (!tailor_status_.ok()) return tailor_status_; \
  } while (0)

// TAILOR_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define TAILOR_ASSIGN_OR_RETURN(lhs, rexpr) \
  TAILOR_ASSIGN_OR_RETURN_IMPL_(TAILOR_STATUS_CONCAT_(tailor_statusor_, __LINE__), lhs, rexpr)

#define TAILOR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

namespace tailor {

// Prefixes a non-OK status message with context, keeping its code.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), std::string(context) + ": " + std::string(status.message()));
}

}  // namespace tailor

#endif  // TAILOR_CORE_STATUS_MACROS_H_
