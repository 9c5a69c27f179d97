// JSON Lines of users' records, shared by the text and preference loaders: one object per
// non-blank line, each with a "user" (a string or an integer) and some string fields.
#ifndef TAILOR_DATA_USER_JSONL_H_
#define TAILOR_DATA_USER_JSONL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env.h"

namespace tailor {

struct UserJsonlRecord {
  // "PATH:LINE: ", the prefix of any error about this record.
  std::string where;
  std::string user;
  // The requested fields' values, in the order asked.
  std::vector<std::string> values;
};

// The file's records in order. INVALID_ARGUMENT naming the line for one that is not UTF-8, not
// a JSON object, or lacks "user" or one of `fields` as a string.
absl::StatusOr<std::vector<UserJsonlRecord>> ReadUserJsonl(const std::string& path, Env* env,
                                                           const std::vector<std::string>& fields);

}  // namespace tailor

#endif  // TAILOR_DATA_USER_JSONL_H_
