// Loads an experiment config (text-format ExperimentConfig), applies defaults and command-line
// overrides, and validates every field. Errors name the file, line, column and field:
//   configs/x.textproto:12:3: train.learning_rate: must be > 0, got -1
#ifndef TAILOR_CORE_CONFIG_LOADER_H_
#define TAILOR_CORE_CONFIG_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/env.h"
#include "models/model_spec.h"
#include "tailor/config.pb.h"

namespace tailor {

struct AlgorithmOptions;  // client/algorithm.h



struct ConfigOverride {
  // Dotted field path, e.g. "train.learning_rate".
  std::string path;
  // The value in text-format syntax, e.g. "0.01", "fedper", "true".
  std::string value;
};

// Parses "path=value" as given on a command line. INVALID_ARGUMENT without '='.
absl::StatusOr<ConfigOverride> ParseOverride(const std::string& flag);

// True when the config turns client-level differential privacy on (privacy.clip_norm,
// noise_multiplier or target_epsilon set).
bool PrivacyEnabled(const config::ExperimentConfig& config);

// secure_aggregation.simulated_dropout's boundaries by name: 0 before_advertise,
// 1 after_advertise, 2 after_share, 3 after_input; -1 for any other.
int SecAggBoundaryIndex(absl::string_view boundary);

// `source_name` is used in error messages (normally the file path).
absl::StatusOr<config::ExperimentConfig> ParseExperimentConfig(
    const std::string& text, const std::string& source_name,
    const std::vector<ConfigOverride>& overrides = {});

// The model registry's options for a config's model section (models/model_spec.h).
ModelOptions ModelOptionsOf(const config::ModelConfig& model);
// The algorithm registry's options for a config's algorithm section (client/algorithm.h).
AlgorithmOptions AlgorithmOptionsOf(const config::AlgorithmConfig& algorithm);

absl::StatusOr<config::ExperimentConfig> LoadExperimentConfig(
    const std::string& path, Env* env, const std::vector<ConfigOverride>& overrides = {});

}  // namespace tailor

#endif  // TAILOR_CORE_CONFIG_LOADER_H_
