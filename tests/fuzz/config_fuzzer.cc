// The config loader and --set overrides: any text is a config or a clear error, never a crash.
// Input: override lines ("path=value"), a line "%%", then the config text (no "%%": all text).
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/config_loader.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tailor;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<ConfigOverride> overrides;
  std::string text = input;
  const size_t split = input.find("\n%%\n");
  if (split != std::string::npos) {
    text = input.substr(split + 4);
    for (absl::string_view line : absl::StrSplit(input.substr(0, split), '\n')) {
      absl::StatusOr<ConfigOverride> o = ParseOverride(std::string(line));
      if (!o.ok()) {
        FUZZ_CHECK(!o.status().message().empty());
        return 0;
      }
      overrides.push_back(*std::move(o));
    }
  }
  absl::StatusOr<config::ExperimentConfig> c =
      ParseExperimentConfig(text, "fuzz.textproto", overrides);
  if (!c.ok()) {
    FUZZ_CHECK(!c.status().message().empty());
    return 0;
  }
  // A config that loads is valid: loading its own text again gives the same config.
  absl::StatusOr<config::ExperimentConfig> again = ParseExperimentConfig(c->DebugString(), "again");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->SerializeAsString() == c->SerializeAsString());
  // The run's name is one plain path component (it names a directory under the runs).
  for (char ch : c->name()) {
    FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-');
  }
  FUZZ_CHECK(c->name().empty() || c->name()[0] != '.');
  return 0;
}
