#include "sim/html_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sim/cross_evaluation.h"
#include "sim/summary_table.h"
#include "sim/svg_plot.h"

namespace tailor {
namespace {


// Accuracy as a percentage (the column says %), other metrics as they are; - when absent.
std::string Value(const EvalSummary& e, double v) {
  if (v < 0) return "-";
  return e.metric().percent ? absl::StrFormat("%.2f", 100 * v) : absl::StrFormat("%.3f", v);
}

// Each run's evaluated rounds as rows: personalized, global (where it is another model), the
// spread and new clients.
std::string RoundTable(const SimulationResult& run) {
  std::string unit = " %";
  for (const RoundRecord& r : run.rounds) {
    if (r.eval && !r.eval->metric().percent) unit = absl::StrCat(" (", r.eval->metric().name, ")");
  }
  std::string html = absl::StrCat(
      "<h3>", EscapeMarkup(run.name), " (", EscapeMarkup(run.algorithm),
      ")</h3>\n<table><tr><th>round</th><th>personalized", unit, "</th><th>macro", unit,
      "</th><th>global model", unit, "</th><th>std</th><th>worst 10% </th><th>new clients",
      unit, "</th><th>&epsilon;</th></tr>\n");
  for (const RoundRecord& r : run.rounds) {
    if (!r.eval) continue;
    const EvalSummary& e = *r.eval;
    absl::StrAppend(&html, "<tr><td>", r.round, "</td><td>", Value(e, e.micro),
                    "</td><td>", Value(e, e.macro), "</td><td>",
                    Value(e, e.global_micro), "</td><td>", Value(e, e.spread),
                    "</td><td>", Value(e, e.worst10), "</td><td>",
                    r.new_client_eval ? Value(*r.new_client_eval, r.new_client_eval->micro) : "-",
                    "</td><td>",
                    r.privacy ? absl::StrFormat("%.3f", r.privacy->epsilon) : "-",
                    "</td></tr>\n");
  }
  return html + "</table>\n";
}

}  // namespace

std::string RenderHtmlReport(const std::vector<SimulationResult>& runs, const std::string& title) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>",
      EscapeMarkup(title),
      "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
      "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;"
      "padding:3px 8px;text-align:right}th{background:#f3f3f3}pre{background:#f7f7f7;"
      "padding:1em;overflow-x:auto}</style></head><body>\n<h1>",
      EscapeMarkup(title), "</h1>\n<p>Runs: ");
  for (size_t i = 0; i < runs.size(); ++i) {
    absl::StrAppend(&html, i == 0 ? "" : ", ", "<b>", EscapeMarkup(runs[i].name), "</b> (",
                    EscapeMarkup(runs[i].output_dir), ")");
  }
  bool bits = false;
  for (const auto& r : runs) {
    for (const auto& rec : r.rounds) bits = bits || (rec.eval && !rec.eval->metric().percent);
  }
  const std::string metric = bits ? "bits per byte" : "accuracy";
  html += absl::StrCat(".</p>\n<h2>", bits ? "Bits per byte" : "Accuracy",
                       " against round</h2>\n");
  html += AccuracyPlotSvg(runs, metric + " on each client's local test set (micro)");
  bool any_new_clients = false;
  for (const auto& r : runs) {
    for (const auto& rec : r.rounds) any_new_clients = any_new_clients || rec.new_client_eval;
  }
  if (any_new_clients) {
    html += "<h2>New clients</h2>\n<p>Clients held out of training, each personalized from the "
            "global model of that round with its algorithm's local training.</p>\n";
    html += LinePlotSvg(runs, "new clients: " + metric + " after personalizing", metric,
                        [](const RoundRecord& r) -> std::optional<double> {
                          if (!r.new_client_eval) return std::nullopt;
                          return r.new_client_eval->micro;
                        });
  }
  html += absl::StrCat("<h2>Per-client ", metric, "</h2>\n");
  html += ClientAccuracyPlotSvg(runs, "distribution over clients (box: quartiles, bar: median)");
  for (const auto& r : runs) {
    if (!r.cross_evaluation) continue;
    html += absl::StrCat("<h2>Cross-evaluation: ", EscapeMarkup(r.name), "</h2>\n<p>Each "
                         "training client's own model (rows) on each training client's test set "
                         "(columns), after the last round.</p>\n");
    html += CrossEvaluationSvg(*r.cross_evaluation, r.name + ": " + metric);
  }
  html += absl::StrCat("<h2>Summary</h2>\n<pre>", EscapeMarkup(FormatSummaryTable(runs)),
                       "</pre>\n<h2>Evaluated rounds</h2>\n");
  for (const auto& r : runs) html += RoundTable(r);
  html += "</body></html>\n";
  return html;
}

}  // namespace tailor
