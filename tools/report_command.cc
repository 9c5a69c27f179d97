// tailor report RUN_DIR [RUN_DIR...] [--out FILE] [--title TEXT]: one self-contained HTML page
// over finished (or interrupted) runs, read back from their output directories. A directory
// holding run directories (runs/, a bench script's OUT) stands for all of them.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "sim/html_report.h"
#include "sim/run_log.h"
#include "tools/commands.h"

ABSL_FLAG(std::string, out, "",
          "report: the HTML file to write (default: RUN_DIR/report.html for one run, "
          "report.html beside the first run's directory for several).");
ABSL_FLAG(std::string, title, "", "report: the page title (default: the run names).");

namespace tailor {
namespace {

std::string DefaultOutput(const std::vector<std::string>& dirs) {
  std::string first = dirs.front();
  while (first.size() > 1 && first.back() == '/') first.pop_back();
  if (dirs.size() == 1) return first + "/report.html";
  const size_t slash = first.rfind('/');
  return (slash == std::string::npos ? std::string(".") : first.substr(0, slash)) +
         "/report.html";
}

}  // namespace

int ReportCommand(const std::vector<std::string>& arguments) {
  // A directory without metrics.jsonl stands for the run directories directly inside it (the
  // OUT of a bench script, runs/).
  std::vector<std::string> run_dirs;
  for (const std::string& dir : arguments) {
    if (Env::Default()->FileExists(dir + "/metrics.jsonl")) {
      run_dirs.push_back(dir);
      continue;
    }
    std::vector<std::string> children;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      if (Env::Default()->FileExists(entry.path().string() + "/metrics.jsonl")) {
        children.push_back(entry.path().string());
      }
    }
    std::sort(children.begin(), children.end());
    const size_t found = children.size();
    run_dirs.insert(run_dirs.end(), children.begin(), children.end());
    if (found == 0) run_dirs.push_back(dir);  // reported as "holds no metrics.jsonl"
  }
  if (run_dirs.empty()) {
    std::fprintf(stderr, "tailor report: give one or more run directories (output_dir of a run)\n");
    return 2;
  }
  std::vector<SimulationResult> runs;
  std::vector<std::string> names;
  for (const std::string& dir : run_dirs) {
    absl::StatusOr<SimulationResult> run = ReadRunDirectory(dir, Env::Default());
    if (!run.ok()) {
      std::fprintf(stderr, "tailor report: %s\n", std::string(run.status().message()).c_str());
      return 1;
    }
    if (!run->stop_reason.empty()) {
      std::fprintf(stderr, "tailor report: note: %s\n", run->stop_reason.c_str());
    }
    names.push_back(run->name);
    runs.push_back(*std::move(run));
  }
  std::string title = absl::GetFlag(FLAGS_title);
  if (title.empty()) title = "Tailor report: " + absl::StrJoin(names, ", ");
  const std::string out =
      absl::GetFlag(FLAGS_out).empty() ? DefaultOutput(run_dirs) : absl::GetFlag(FLAGS_out);
  absl::Status written = Env::Default()->WriteFileAtomically(out, RenderHtmlReport(runs, title));
  if (!written.ok()) {
    std::fprintf(stderr, "tailor report: %s\n", written.ToString().c_str());
    return 1;
  }
  std::printf("report: %s (%zu run%s)\n", out.c_str(), runs.size(), runs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace tailor
