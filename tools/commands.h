// The `tailor` subcommands. Each parses its flags (defined beside it) into Options and returns
// the process exit code: 0 success, 1 run failure, 2 bad invocation or config.
#ifndef TAILOR_TOOLS_COMMANDS_H_
#define TAILOR_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tailor/config.pb.h"

namespace tailor {

int SimulateCommand();
int PretrainCommand();
int GenerateCommand();
int CoordinatorCommand();
int ClientCommand();
int StatusCommand();
int PrivacyCommand();
// `positional`: the run directories after the subcommand.
int ReportCommand(const std::vector<std::string>& positional);

class LocalTrainer;
struct SelectionOptions;
// `tailor generate --reward_config`: best-of-N picks with the loaded language model
// (tools/best_of_n_command.cc).
int BestOfNCommand(LocalTrainer& language_model, const SelectionOptions& options);
// `tailor generate --config RUN --all_users`: each simulated user's own tuned language model
// judged by the user's true utility (tools/tuned_generation_command.cc).
int JudgeTunedModelsCommand(const config::ExperimentConfig& config,
                            const SelectionOptions& options);

// `tailor generate --config EXPERTS --users_config USERS --all_users`: Personalized Soups and
// MOD decoding of archetype experts for each simulated user (tools/expert_mixture_command.cc).
int JudgeExpertMixturesCommand(const config::ExperimentConfig& experts_run,
                               const SelectionOptions& options);

// Loads each --config with the --set overrides applied; prints the error and returns it.
absl::StatusOr<std::vector<config::ExperimentConfig>> LoadConfigsFromFlags(const char* command);

}  // namespace tailor

#endif  // TAILOR_TOOLS_COMMANDS_H_
