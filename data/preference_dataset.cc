#include "data/preference_dataset.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "data/user_jsonl.h"
#include "data/user_split.h"

namespace tailor {

absl::StatusOr<std::vector<PreferenceUser>> LoadPreferenceJsonl(const std::string& path,
                                                                Env* env) {
  TAILOR_ASSIGN_OR_RETURN(std::vector<UserJsonlRecord> records,
                          ReadUserJsonl(path, env, {"prompt", "chosen", "rejected"}));
  std::map<std::string, PreferenceUser> by_user;
  for (UserJsonlRecord& r : records) {
    PreferenceUser::Pair pair{std::move(r.values[0]), std::move(r.values[1]),
                              std::move(r.values[2])};
    if (pair.chosen.empty() || pair.rejected.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(r.where, "an empty candidate"));
    }
    if (pair.chosen == pair.rejected) {
      return absl::InvalidArgumentError(
          absl::StrCat(r.where, "\"chosen\" and \"rejected\" are the same text"));
    }
    PreferenceUser& u = by_user[r.user];
    u.name = r.user;
    u.pairs.push_back(std::move(pair));
  }
  std::vector<PreferenceUser> users;
  for (auto& [name, u] : by_user) users.push_back(std::move(u));
  if (users.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no pairs"));
  return users;
}

absl::StatusOr<PreferenceFederation> FederatePreferences(
    const std::vector<PreferenceUser>& users, const PreferenceFederationOptions& options) {
  if (options.min_pairs_per_user < 3) {
    return absl::InvalidArgumentError("min_pairs_per_user must be >= 3 (train, val, test)");
  }
  std::vector<const PreferenceUser*> sorted;
  for (const PreferenceUser& u : users) sorted.push_back(&u);
  std::sort(sorted.begin(), sorted.end(), [](const PreferenceUser* a, const PreferenceUser* b) {
    return a->name < b->name;
  });
  PreferenceFederation out;
  std::vector<const PreferenceUser*> kept;
  for (const PreferenceUser* u : sorted) {
    if (static_cast<int>(u->pairs.size()) < options.min_pairs_per_user) {
      out.dropped.push_back(absl::StrCat(u->name, ": ", u->pairs.size(), " pairs, fewer than ",
                                         options.min_pairs_per_user));
      continue;
    }
    kept.push_back(u);
  }
  TAILOR_ASSIGN_OR_RETURN(
      std::vector<size_t> chosen,
      ChooseClientUsers(kept.size(), options.num_clients, options.held_out, options.seed,
                        absl::StrCat("have ", options.min_pairs_per_user, " or more pairs")));
  auto pool = std::make_shared<PreferenceDataset>();
  std::unordered_map<std::string, uint32_t> interned;
  auto intern = [&](const std::string& text) {
    auto [it, fresh] = interned.emplace(text, static_cast<uint32_t>(pool->texts.size()));
    if (fresh) pool->texts.push_back(text);
    return it->second;
  };
  for (size_t i : chosen) {
    const PreferenceUser& u = *kept[i];
    std::vector<uint32_t> idx;
    for (const PreferenceUser::Pair& p : u.pairs) {
      idx.push_back(static_cast<uint32_t>(pool->pairs.size()));
      pool->pairs.push_back({intern(p.prompt), intern(p.chosen), intern(p.rejected)});
    }
    out.clients.push_back(SplitUserItems(std::move(idx), u.name, options.val_fraction,
                                         options.test_fraction, options.seed));
    out.names.push_back(u.name);
  }
  out.pool = std::move(pool);
  return out;
}

}  // namespace tailor
