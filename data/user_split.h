// Choosing which users become clients and splitting each user's items (texts, preference
// pairs) into train / val / test: the same seeded rules for every kind of per-user data.
#ifndef TAILOR_DATA_USER_SPLIT_H_
#define TAILOR_DATA_USER_SPLIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/partition.h"

namespace tailor {

// The users (indices into `users`, which qualify) that become clients, in client order: a draw
// of `num_clients` by `seed` (all when 0) kept in input order, then `held_out` of them, drawn by
// `seed`, moved last. FAILED_PRECONDITION when fewer users than num_clients qualify (the message
// says they are `eligible`, e.g. "have 50 or more distinct texts"); INVALID_ARGUMENT for
// held_out outside [0, clients).
absl::StatusOr<std::vector<size_t>> ChooseClientUsers(size_t users, int num_clients,
                                                      int held_out, uint64_t seed,
                                                      const std::string& eligible);

// Shuffles a user's items by (seed, user name), keeps at most `max_items` (0: all), and cuts
// ceil(test_fraction·n) test, ceil(val_fraction·n) val, the rest train.
ClientSplit SplitUserItems(std::vector<uint32_t> items, const std::string& user,
                           double val_fraction, double test_fraction, uint64_t seed,
                           size_t max_items = 0);

}  // namespace tailor

#endif  // TAILOR_DATA_USER_SPLIT_H_
