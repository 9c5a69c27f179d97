// PersonalizationPolicy: which parameters are personal (never leave the client) and which are
// shared (aggregated), decided by glob patterns over parameter names.
//
// The split is enforced where bytes leave a client: EncodeSharedUpdate (core/wire_update.h)
// refuses any tensor this policy calls personal, so a bug elsewhere cannot leak one.
#ifndef TAILOR_CORE_PERSONALIZATION_POLICY_H_
#define TAILOR_CORE_PERSONALIZATION_POLICY_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/parameter_set.h"

namespace tailor {

// Glob match over a whole name: '*' matches any run of characters (including '.'), '?' one
// character; everything else literally.
bool GlobMatch(absl::string_view pattern, absl::string_view name);

class PersonalizationPolicy {
 public:
  // Nothing personal (plain FedAvg).
  PersonalizationPolicy() = default;
  explicit PersonalizationPolicy(std::vector<std::string> personal_patterns)
      : patterns_(std::move(personal_patterns)) {}
  // Every parameter personal (local-only training).
  static PersonalizationPolicy AllPersonal() { return PersonalizationPolicy({"*"}); }

  bool IsPersonal(absl::string_view name) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

  // Copies of the shared / personal subsets, in the order of `full`.
  ParameterSet Shared(const ParameterSet& full) const;
  ParameterSet Personal(const ParameterSet& full) const;
  // Both parts at once, moving the tensors out of `full` rather than copying them.
  struct Parts {
    ParameterSet shared;
    ParameterSet personal;
  };
  Parts Split(ParameterSet full) const;

 private:
  std::vector<std::string> patterns_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_PERSONALIZATION_POLICY_H_
