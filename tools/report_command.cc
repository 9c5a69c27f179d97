// tailor report RUN_DIR [RUN_DIR...] [--out FILE] [--title TEXT]: one self-contained HTML page
// over finished (or interrupted) runs, read back from their output directories.
#include <cstdio>
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

int ReportCommand(const std::vector<std::string>& run_dirs) {
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
