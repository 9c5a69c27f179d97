// The `tailor` command: one binary, one subcommand per job.
//   tailor simulate --config FILE[,FILE...] [--set field.path=value ...]
// Flags are parsed here and copied into Options; libraries never read flags.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_join.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/config_loader.h"
#include "core/malloc_tuning.h"
#include "sim/html_report.h"
#include "sim/simulation.h"
#include "sim/summary_table.h"
#include "sim/svg_plot.h"
#include "tools/commands.h"

ABSL_FLAG(std::vector<std::string>, config, {},
          "Experiment config file(s) (text-format tailor.config.ExperimentConfig). Several, "
          "comma-separated, run one after the other and share one summary table.");
ABSL_FLAG(std::vector<std::string>, set, {},
          "Override config fields: --set=rounds=5,train.learning_rate=0.01 or --set rounds=5 "
          "--set train.learning_rate=0.01 (repeats add up; applies to every config).");
ABSL_FLAG(bool, quiet, false, "No live progress line.");

namespace tailor {

absl::StatusOr<std::vector<config::ExperimentConfig>> LoadConfigsFromFlags(const char* command) {
  const std::vector<std::string> configs = absl::GetFlag(FLAGS_config);
  if (configs.empty()) {
    std::fprintf(stderr, "tailor %s: --config is required\n", command);
    return absl::InvalidArgumentError("--config is required");
  }
  std::vector<ConfigOverride> overrides;
  for (const std::string& flag : absl::GetFlag(FLAGS_set)) {
    auto o = ParseOverride(flag);
    if (!o.ok()) {
      std::fprintf(stderr, "tailor %s: %s\n", command, std::string(o.status().message()).c_str());
      return o.status();
    }
    overrides.push_back(*o);
  }
  // Load every config first: a broken third config should fail before an hour of training.
  std::vector<config::ExperimentConfig> loaded;
  for (const std::string& path : configs) {
    auto c = LoadExperimentConfig(path, Env::Default(), overrides);
    if (!c.ok()) {
      std::fprintf(stderr, "tailor %s: %s\n", command, std::string(c.status().message()).c_str());
      return c.status();
    }
    loaded.push_back(*std::move(c));
  }
  return loaded;
}

}  // namespace tailor

namespace {

constexpr char kUsage[] =
    "tailor: federated, personalized fine-tuning.\n\n"
    "Usage:\n"
    "  tailor simulate --config FILE[,FILE...] [--set field=value,...] [--quiet]\n"
    "      Runs virtual clients on this machine; writes metrics.jsonl per run into its\n"
    "      output_dir and prints a summary table.\n"
    "  tailor pretrain --config FILE [--set field=value,...]\n"
    "      Trains a language model's base on the training clients' train text (never val,\n"
    "      test or held-out clients); experiments start from it with model.initial_model.\n"
    "  tailor generate --config FILE [--model FILE] [--client_id N] [--prompt TEXT]\n"
    "      Samples text from a language model version and from one client's personalized\n"
    "      model (--samples, --max_bytes, --temperature, --top_k, --top_p, --sample_seed).\n"
    "  tailor generate --config LM --reward_config R (--client_id N | --all_users)\n"
    "                  [--best_of 16] [--groups 8] [--selection_jsonl FILE]\n"
    "      Best-of-N: the language model samples N candidates, the reward run's global model\n"
    "      and the user's own each pick one; simulated users judge the picks by their true\n"
    "      utility (with --all_users, a summary over every training user).\n"
    "  tailor generate --config RUN --all_users [--best_of 16] [--groups 8]\n"
    "      Each simulated user's own tuned language model (e.g. byte_dpo with a personal\n"
    "      adapter) samples; its true utility is compared with the global model's and the\n"
    "      base's samples.\n"
    "  tailor coordinator --config FILE --listen HOST:PORT --client_tokens FILE\n"
    "      Serves the experiment to client daemons over gRPC and runs its rounds.\n"
    "  tailor client --config FILE --coordinator HOST:PORT --client_id N --token_file FILE\n"
    "                --state_dir DIR\n"
    "      A client daemon: trains on its own share of the data, keeps its personal\n"
    "      parameters in DIR, uploads only shared updates.\n"
    "  tailor status --coordinator HOST:PORT --operator_token_file OUTPUT_DIR/operator.token\n"
    "      A running coordinator's experiment, rounds, clients and model version.\n"
    "  tailor privacy --q RATE --steps N (--z NOISE | --epsilon TARGET) [--delta D]\n"
    "      The epsilon spent (RDP accountant, Poisson-subsampled Gaussian), or the noise\n"
    "      multiplier needed for a target epsilon.\n"
    "  tailor report RUN_DIR [RUN_DIR...] [--out FILE] [--title TEXT]\n"
    "      One self-contained HTML page (inline SVG, no network) over runs' output\n"
    "      directories (or every run directory inside a directory): accuracy against\n"
    "      round, new clients, per-client distribution, the summary table.\n"
    "  tailor help\n";

}  // namespace

int tailor::SimulateCommand() {
  auto loaded_or = LoadConfigsFromFlags("simulate");
  if (!loaded_or.ok()) return 2;
  const std::vector<config::ExperimentConfig>& loaded = *loaded_or;
  std::vector<tailor::SimulationResult> results;
  for (const auto& c : loaded) {
    tailor::SimulationOptions options;
    options.progress = absl::GetFlag(FLAGS_quiet) ? nullptr : stderr;
    std::fprintf(stderr, "[%s] %s, %d clients, %d rounds -> %s\n", c.name().c_str(),
                 c.algorithm().name().c_str(), c.data().num_clients(), c.rounds(),
                 c.output_dir().c_str());
    auto result = tailor::RunSimulation(c, options);
    if (!result.ok()) {
      std::fprintf(stderr, "tailor simulate: run '%s' failed: %s\n", c.name().c_str(),
                   result.status().ToString().c_str());
      return 1;
    }
    results.push_back(*std::move(result));
  }
  std::printf("\n%s", tailor::FormatSummaryTable(results).c_str());
  for (const auto& r : results) {
    std::printf("metrics: %s/metrics.jsonl  plot: %s/accuracy.svg  report: %s/report.html\n",
                r.output_dir.c_str(), r.output_dir.c_str(), r.output_dir.c_str());
  }
  if (results.size() > 1) {
    // A comparison plot beside the first run's directory.
    std::string dir = results.front().output_dir;
    const size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : dir.substr(0, slash);
    const std::string path = dir + "/comparison.svg";
    std::string title;
    for (const auto& r : results) title += (title.empty() ? "" : " vs ") + r.name;
    absl::Status written = tailor::Env::Default()->WriteFileAtomically(
        path, tailor::AccuracyPlotSvg(results, title));
    const std::string report = dir + "/comparison.html";
    if (written.ok()) {
      written = tailor::Env::Default()->WriteFileAtomically(
          report, tailor::RenderHtmlReport(results, title));
    }
    if (written.ok()) {
      std::printf("comparison plot: %s  report: %s\n", path.c_str(), report.c_str());
    } else {
      std::fprintf(stderr, "tailor simulate: %s\n", written.ToString().c_str());
    }
  }
  return 0;
}

namespace tailor {
namespace {

// Abseil keeps only the last occurrence of a flag, so `--set a=1 --set b=2` would silently drop
// a=1. Every --set is folded into one before parsing so that repeats add up, as users expect.
std::vector<std::string> MergeRepeatedSetFlags(int argc, char** argv) {
  std::vector<std::string> out;
  std::vector<std::string> sets;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--set" || a == "-set") && i + 1 < argc) {
      sets.push_back(argv[++i]);
    } else if (a.rfind("--set=", 0) == 0 || a.rfind("-set=", 0) == 0) {
      sets.push_back(a.substr(a.find('=') + 1));
    } else {
      out.push_back(a);
    }
  }
  if (!sets.empty()) out.push_back("--set=" + absl::StrJoin(sets, ","));
  return out;
}

}  // namespace
}  // namespace tailor

int main(int argc, char** argv) {
  tailor::TuneMallocForTraining();
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> merged = tailor::MergeRepeatedSetFlags(argc, argv);
  std::vector<char*> merged_argv;
  for (std::string& a : merged) merged_argv.push_back(a.data());
  std::vector<char*> args =
      absl::ParseCommandLine(static_cast<int>(merged_argv.size()), merged_argv.data());
  if (args.size() < 2 || std::string(args[1]) == "help") {
    std::fputs(kUsage, args.size() < 2 ? stderr : stdout);
    return args.size() < 2 ? 2 : 0;
  }
  const std::string command = args[1];
  if (command == "simulate") return tailor::SimulateCommand();
  if (command == "pretrain") return tailor::PretrainCommand();
  if (command == "generate") return tailor::GenerateCommand();
  if (command == "coordinator") return tailor::CoordinatorCommand();
  if (command == "client") return tailor::ClientCommand();
  if (command == "status") return tailor::StatusCommand();
  if (command == "privacy") return tailor::PrivacyCommand();
  if (command == "report") return tailor::ReportCommand({args.begin() + 2, args.end()});
  std::fprintf(stderr, "tailor: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
