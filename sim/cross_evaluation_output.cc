#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "sim/cross_evaluation.h"
#include "sim/svg_plot.h"

// What presents a cross-evaluation (JSON, the heat map): torch-free, in tailor_sim_output;
// computing one is cross_evaluation.cc, in tailor_sim.
namespace tailor {

std::string CrossEvaluationToJson(const CrossEvaluation& x) {
  nlohmann::json j;
  j["metric"] = MetricOf(x.task).name;
  j["clients"] = x.clients;
  j["names"] = x.names;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : x.metric) {
    nlohmann::json r = nlohmann::json::array();
    for (double v : row) r.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json());
    rows.push_back(r);
  }
  j["matrix"] = rows;
  return j.dump() + "\n";
}

absl::StatusOr<CrossEvaluation> CrossEvaluationFromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("cross_eval.json is not a JSON object");
  }
  for (const char* field : {"metric", "clients", "names", "matrix"}) {
    if (!j.contains(field)) {
      return absl::InvalidArgumentError(absl::StrCat("cross_eval.json has no \"", field, "\""));
    }
  }
  CrossEvaluation x;
  if (!j["metric"].is_string()) return absl::InvalidArgumentError("cross_eval.json: bad metric");
  TAILOR_ASSIGN_OR_RETURN(x.task, TaskWithMetric(j["metric"].get<std::string>()));
  const size_t n = j["clients"].is_array() ? j["clients"].size() : 0;
  if (!j["names"].is_array() || j["names"].size() != n || !j["matrix"].is_array() ||
      j["matrix"].size() != n) {
    return absl::InvalidArgumentError("cross_eval.json: clients, names and matrix differ in size");
  }
  for (size_t i = 0; i < n; ++i) {
    if (!j["clients"][i].is_number_integer() || !j["names"][i].is_string() ||
        !j["matrix"][i].is_array() || j["matrix"][i].size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("cross_eval.json: row ", i, " is malformed"));
    }
    x.clients.push_back(j["clients"][i].get<int64_t>());
    x.names.push_back(j["names"][i].get<std::string>());
    std::vector<double> row;
    for (const auto& v : j["matrix"][i]) row.push_back(v.is_number() ? v.get<double>() : std::nan(""));
    x.metric.push_back(std::move(row));
  }
  return x;
}

std::string CrossEvaluationSvg(const CrossEvaluation& x, const std::string& title) {
  const TaskMetric& metric = MetricOf(x.task);
  const size_t n = x.metric.size();
  constexpr double kCell = 22, kLabel = 150, kTop = 150;
  const double width = kLabel + kCell * static_cast<double>(n) + 170;
  const double height = kTop + kCell * static_cast<double>(n) + 40;
  // Shaded per column (test set): test sets differ in difficulty far more than models do (bits
  // per byte of Cyrillic against Latin text), so each column runs from its best model (dark)
  // to its worst (light), and the diagonal shows whether a client's own model is its best.
  std::vector<double> col_lo(n, INFINITY), col_hi(n, -INFINITY);
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& row : x.metric) {
    for (size_t j = 0; j < row.size() && j < n; ++j) {
      if (!std::isfinite(row[j])) continue;
      col_lo[j] = std::min(col_lo[j], row[j]), col_hi[j] = std::max(col_hi[j], row[j]);
      lo = std::min(lo, row[j]), hi = std::max(hi, row[j]);
    }
  }
  // 0 for the column's best value, 1 for its worst.
  auto badness = [&](double v, size_t j) {
    if (!(col_hi[j] > col_lo[j])) return 0.0;
    const double t = (v - col_lo[j]) / (col_hi[j] - col_lo[j]);
    return metric.higher_is_better ? 1 - t : t;
  };
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"10\" y=\"18\" font-size=\"14\">%s</text>\n"
      "<text x=\"10\" y=\"36\">rows: whose model; columns: whose test set; %s, each column "
      "from its best model (darkest) to its worst</text>\n",
      width, height, EscapeMarkup(title), metric.name);
  for (size_t j = 0; j < n; ++j) {
    const double cx = kLabel + kCell * (static_cast<double>(j) + 0.5);
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.1f\" y=\"%g\" transform=\"rotate(-60 %.1f %g)\">%s</text>\n",
                          cx, kTop - 6, cx, kTop - 6, EscapeMarkup(x.names[j]));
  }
  for (size_t i = 0; i < n; ++i) {
    const double y = kTop + kCell * static_cast<double>(i);
    absl::StrAppendFormat(&svg, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                          kLabel - 6, y + kCell * 0.7, EscapeMarkup(x.names[i]));
    for (size_t j = 0; j < n; ++j) {
      const double v = x.metric[i][j];
      const int shade =
          std::isfinite(v) ? static_cast<int>(std::lround(30 + 200 * badness(v, j))) : 255;
      absl::StrAppendFormat(
          &svg,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%g\" height=\"%g\" fill=\"rgb(%d,%d,255)\" "
          "stroke=\"%s\"><title>%s on %s: %s</title></rect>\n",
          kLabel + kCell * static_cast<double>(j), y, kCell, kCell, shade, shade,
          i == j ? "#000" : "#fff", EscapeMarkup(x.names[i]), EscapeMarkup(x.names[j]),
          metric.Format(v));
    }
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"%g\" y=\"%g\">best %s, worst %s (outlined: a client's own "
                        "model on its own test set)</text>\n</svg>\n",
                        kLabel, height - 12, metric.Format(metric.higher_is_better ? hi : lo),
                        metric.Format(metric.higher_is_better ? lo : hi));
  return svg;
}

}  // namespace tailor
