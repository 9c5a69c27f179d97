#include "data/user_split.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/sha256.h"

namespace tailor {

absl::StatusOr<std::vector<size_t>> ChooseClientUsers(size_t users, int num_clients,
                                                      int held_out, uint64_t seed,
                                                      const std::string& eligible) {
  std::vector<size_t> chosen(users);
  for (size_t i = 0; i < users; ++i) chosen[i] = i;
  if (num_clients > 0) {
    if (users < static_cast<size_t>(num_clients)) {
      return absl::FailedPreconditionError(absl::StrCat(
          num_clients, " clients asked for, but only ", users, " users ", eligible));
    }
    // A seeded draw of num_clients users, then back in input order.
    Rng rng(DeriveSeed(seed, {0x7573657273ULL /*"users"*/}));
    rng.Shuffle(&chosen);
    chosen.resize(static_cast<size_t>(num_clients));
    std::sort(chosen.begin(), chosen.end());
  }
  if (held_out < 0 || held_out >= static_cast<int>(chosen.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("held_out must be in [0, ", chosen.size(), "), got ", held_out));
  }
  if (held_out == 0) return chosen;
  std::vector<size_t> order(chosen.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(DeriveSeed(seed, {0x756e7365656eULL /*"unseen"*/}));
  rng.Shuffle(&order);
  std::vector<bool> unseen(chosen.size(), false);
  for (int i = 0; i < held_out; ++i) unseen[order[i]] = true;
  std::vector<size_t> reordered;
  for (bool last : {false, true}) {
    for (size_t i = 0; i < chosen.size(); ++i) {
      if (unseen[i] == last) reordered.push_back(chosen[i]);
    }
  }
  return reordered;
}

ClientSplit SplitUserItems(std::vector<uint32_t> items, const std::string& user,
                           double val_fraction, double test_fraction, uint64_t seed,
                           size_t max_items) {
  const Sha256Digest digest = Sha256(user);
  uint64_t tag = 0;
  for (int i = 0; i < 8; ++i) tag = (tag << 8) | digest[i];
  Rng rng(DeriveSeed(seed, {0x73706c6974ULL /*"split"*/, tag}));
  rng.Shuffle(&items);
  if (max_items > 0 && items.size() > max_items) items.resize(max_items);
  const size_t n = items.size();
  const size_t test = static_cast<size_t>(std::ceil(test_fraction * n));
  const size_t val = static_cast<size_t>(std::ceil(val_fraction * n));
  ClientSplit split;
  split.test.assign(items.begin(), items.begin() + test);
  split.val.assign(items.begin() + test, items.begin() + test + val);
  split.train.assign(items.begin() + test + val, items.end());
  return split;
}

}  // namespace tailor
