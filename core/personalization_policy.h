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

// Every parameter has one of three roles, which the algorithm assigns:
//   shared    aggregated: the coordinator distributes it every round, clients upload deltas;
//   personal  never leaves the client (a head, a LoRA adapter, a user embedding);
//   frozen    a fixed base (a LoRA algorithm's pretrained weights): the same on every device,
//             never trained, never uploaded, and never re-sent round after round.
// A name matching a frozen pattern is frozen; otherwise one matching a personal pattern is
// personal; every other name is shared.
class PersonalizationPolicy {
 public:
  enum class Role { kShared, kPersonal, kFrozen };

  // Nothing personal or frozen (plain FedAvg).
  PersonalizationPolicy() = default;
  explicit PersonalizationPolicy(std::vector<std::string> personal_patterns,
                                 std::vector<std::string> frozen_patterns = {})
      : patterns_(std::move(personal_patterns)), frozen_(std::move(frozen_patterns)) {}
  // Every parameter personal (local-only training).
  static PersonalizationPolicy AllPersonal() { return PersonalizationPolicy({"*"}); }

  Role RoleOf(absl::string_view name) const;
  bool IsPersonal(absl::string_view name) const { return RoleOf(name) == Role::kPersonal; }
  bool IsFrozen(absl::string_view name) const { return RoleOf(name) == Role::kFrozen; }
  bool IsShared(absl::string_view name) const { return RoleOf(name) == Role::kShared; }
  // The personal patterns.
  const std::vector<std::string>& patterns() const { return patterns_; }
  const std::vector<std::string>& frozen_patterns() const { return frozen_; }

  // Copies of the shared / personal / frozen subsets, in the order of `full`.
  ParameterSet Shared(const ParameterSet& full) const;
  ParameterSet Personal(const ParameterSet& full) const;
  ParameterSet Frozen(const ParameterSet& full) const;
  // The shared and personal parts at once, moving the tensors out of `full` rather than
  // copying them; frozen tensors are dropped (every device already holds them).
  struct Parts {
    ParameterSet shared;
    ParameterSet personal;
  };
  Parts Split(ParameterSet full) const;

 private:
  std::vector<std::string> patterns_;
  std::vector<std::string> frozen_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_PERSONALIZATION_POLICY_H_
