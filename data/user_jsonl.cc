#include "data/user_jsonl.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "core/utf8.h"

namespace tailor {

absl::StatusOr<std::vector<UserJsonlRecord>> ReadUserJsonl(const std::string& path, Env* env,
                                                           const std::vector<std::string>& fields) {
  TAILOR_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
  std::vector<UserJsonlRecord> records;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(bytes, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    UserJsonlRecord r;
    r.where = absl::StrCat(path, ":", line_number, ": ");
    if (!IsValidUtf8(line)) return absl::InvalidArgumentError(absl::StrCat(r.where, "not UTF-8"));
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(r.where, "not a JSON object"));
    }
    auto user = j.find("user");
    if (user == j.end() || !(user->is_string() || user->is_number_integer())) {
      return absl::InvalidArgumentError(absl::StrCat(r.where, "needs a string field \"user\""));
    }
    r.user = user->is_string() ? user->get<std::string>() : std::to_string(user->get<int64_t>());
    for (const std::string& field : fields) {
      auto it = j.find(field);
      if (it == j.end() || !it->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(r.where, "needs a string field \"", field, "\""));
      }
      r.values.push_back(it->get<std::string>());
    }
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace tailor
