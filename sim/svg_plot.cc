#include "sim/svg_plot.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailor {
namespace {

constexpr double kWidth = 720, kHeight = 420;
constexpr double kLeft = 60, kRight = 180, kTop = 40, kBottom = 50;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

}  // namespace

std::string AccuracyPlotSvg(const std::vector<SimulationResult>& runs, const std::string& title) {
  int64_t max_round = 1;
  double lo = 1.0, hi = 0.0;
  for (const auto& r : runs) {
    for (const auto& rec : r.rounds) {
      if (!rec.eval) continue;
      max_round = std::max(max_round, rec.round);
      lo = std::min(lo, rec.eval->micro_accuracy);
      hi = std::max(hi, rec.eval->micro_accuracy);
    }
  }
  if (lo > hi) lo = 0, hi = 1;
  // Round the y range out to 5-point steps so small differences stay visible.
  lo = std::max(0.0, std::floor(lo * 20 - 1e-9) / 20);
  hi = std::min(1.0, std::ceil(hi * 20 + 1e-9) / 20);
  if (hi <= lo) hi = std::min(1.0, lo + 0.05);
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto x = [&](double round) { return kLeft + pw * (max_round == 1 ? 0.5 : (round - 1) / (max_round - 1)); };
  auto y = [&](double acc) { return kTop + ph * (1 - (acc - lo) / (hi - lo)); };

  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%g\" y=\"22\" font-size=\"15\">%s</text>\n",
      kWidth, kHeight, kLeft, Escape(title));
  // Axes, grid and ticks.
  for (int i = 0; i <= 5; ++i) {
    const double acc = lo + (hi - lo) * i / 5, yy = y(acc);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%.1f%%</text>\n",
                          kLeft, yy, kLeft + pw, yy, kLeft - 6, yy + 4, 100 * acc);
  }
  const int64_t step = std::max<int64_t>(1, max_round / 10);
  for (int64_t r = 1; r <= max_round; r += step) {
    absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%d</text>\n",
                          x(r), kTop + ph + 18, r);
  }
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                        "stroke=\"#444\"/>\n<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">round"
                        "</text>\n<text x=\"16\" y=\"%g\" transform=\"rotate(-90 16 %g)\" "
                        "text-anchor=\"middle\">personalized accuracy</text>\n",
                        kLeft, kTop, pw, ph, kLeft + pw / 2, kHeight - 10, kTop + ph / 2,
                        kTop + ph / 2);
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    std::string points;
    for (const auto& rec : runs[i].rounds) {
      if (rec.eval) absl::StrAppendFormat(&points, "%.1f,%.1f ", x(rec.round), y(rec.eval->micro_accuracy));
    }
    absl::StrAppendFormat(&svg,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                          "points=\"%s\"/>\n<rect x=\"%g\" y=\"%g\" width=\"14\" height=\"3\" "
                          "fill=\"%s\"/><text x=\"%g\" y=\"%g\">%s</text>\n",
                          color, points, kLeft + pw + 12, kTop + 8 + 18 * i, color,
                          kLeft + pw + 32, kTop + 13 + 18 * i, Escape(runs[i].name));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace tailor
