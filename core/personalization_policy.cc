#include "core/personalization_policy.h"

namespace tailor {

bool GlobMatch(absl::string_view pattern, absl::string_view name) {
  // Iterative matcher with single-star backtracking: linear in practice, no recursion.
  size_t p = 0, n = 0, star = absl::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

PersonalizationPolicy::Role PersonalizationPolicy::RoleOf(absl::string_view name) const {
  for (const auto& pattern : frozen_) {
    if (GlobMatch(pattern, name)) return Role::kFrozen;
  }
  for (const auto& pattern : patterns_) {
    if (GlobMatch(pattern, name)) return Role::kPersonal;
  }
  return Role::kShared;
}

namespace {
ParameterSet Select(const ParameterSet& full, const PersonalizationPolicy& policy,
                    PersonalizationPolicy::Role role) {
  ParameterSet out;
  for (const auto& e : full.entries()) {
    if (policy.RoleOf(e.name) == role) {
      // Names are unique in `full`, so Add cannot fail.
      (void)out.Add(e.name, e.tensor);
    }
  }
  return out;
}
}  // namespace

ParameterSet PersonalizationPolicy::Shared(const ParameterSet& full) const {
  return Select(full, *this, Role::kShared);
}

ParameterSet PersonalizationPolicy::Personal(const ParameterSet& full) const {
  return Select(full, *this, Role::kPersonal);
}

ParameterSet PersonalizationPolicy::Frozen(const ParameterSet& full) const {
  return Select(full, *this, Role::kFrozen);
}

PersonalizationPolicy::Parts PersonalizationPolicy::Split(ParameterSet full) const {
  Parts parts;
  for (size_t i = 0; i < full.size(); ++i) {
    NamedTensor& e = full.entry(i);
    const Role role = RoleOf(e.name);
    if (role == Role::kFrozen) continue;
    ParameterSet& side = role == Role::kPersonal ? parts.personal : parts.shared;
    (void)side.Add(std::move(e.name), std::move(e.tensor));  // names are unique in `full`
  }
  return parts;
}

}  // namespace tailor
