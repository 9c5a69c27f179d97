#include "sim/svg_plot.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailor {
namespace {

constexpr double kWidth = 720, kHeight = 420;
constexpr double kLeft = 72, kRight = 180, kTop = 40, kBottom = 50;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

const char* ColorOf(size_t run) { return kColors[run % (sizeof(kColors) / sizeof(kColors[0]))]; }


// [lo, hi] widened to whole 5-point steps so small differences stay visible.
std::pair<double, double> PercentRange(double lo, double hi) {
  if (lo > hi) return {0, 1};
  lo = std::max(0.0, std::floor(lo * 20 - 1e-9) / 20);
  hi = std::min(1.0, std::ceil(hi * 20 + 1e-9) / 20);
  if (hi <= lo) hi = std::min(1.0, lo + 0.05);
  if (hi <= lo) lo = hi - 0.05;
  return {lo, hi};
}

std::string Header(double height, const std::string& title) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%g\" y=\"22\" font-size=\"15\">%s</text>\n",
      kWidth, height, kLeft, EscapeMarkup(title));
}

}  // namespace

std::string EscapeMarkup(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string LinePlotSvg(const std::vector<SimulationResult>& runs, const std::string& title,
                        const std::string& y_label, const RoundMetric& metric,
                        const RoundMetric& dashed) {
  int64_t max_round = 1;
  double lo = 1.0, hi = 0.0;
  for (const auto& r : runs) {
    for (const auto& rec : r.rounds) {
      for (const RoundMetric* m : {&metric, &dashed}) {
        if (!*m) continue;
        if (std::optional<double> v = (*m)(rec)) {
          max_round = std::max(max_round, rec.round);
          lo = std::min(lo, *v);
          hi = std::max(hi, *v);
        }
      }
    }
  }
  std::tie(lo, hi) = PercentRange(lo, hi);
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto x = [&](double round) {
    return kLeft + pw * (max_round == 1 ? 0.5 : (round - 1) / (max_round - 1));
  };
  auto y = [&](double acc) { return kTop + ph * (1 - (acc - lo) / (hi - lo)); };

  std::string svg = Header(kHeight, title);
  // Ticks every 1, 2, 5, 10 or 20 points: at most about 10 lines.
  double tick = 0.01;
  for (double t : {0.02, 0.05, 0.1, 0.2}) {
    if ((hi - lo) / tick > 10) tick = t;
  }
  for (double acc = lo; acc <= hi + 1e-9; acc += tick) {
    const double yy = y(acc);
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
                        "text-anchor=\"middle\">%s</text>\n",
                        kLeft, kTop, pw, ph, kLeft + pw / 2, kHeight - 10, kTop + ph / 2,
                        kTop + ph / 2, EscapeMarkup(y_label));
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = ColorOf(i);
    for (const RoundMetric* m : {&metric, &dashed}) {
      if (!*m) continue;
      std::string points;
      for (const auto& rec : runs[i].rounds) {
        if (std::optional<double> v = (*m)(rec)) {
          absl::StrAppendFormat(&points, "%.1f,%.1f ", x(rec.round), y(*v));
        }
      }
      if (points.empty()) continue;
      absl::StrAppendFormat(&svg,
                            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s "
                            "points=\"%s\"/>\n",
                            color, m == &dashed ? " stroke-dasharray=\"6 4\"" : "", points);
      // A marker per evaluation, so a run evaluated once still shows.
      if (m == &metric) {
        for (const auto& rec : runs[i].rounds) {
          if (std::optional<double> v = (*m)(rec)) {
            absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
                                  x(rec.round), y(*v), color);
          }
        }
        svg += "\n";
      }
    }
    absl::StrAppendFormat(&svg,
                          "<rect x=\"%g\" y=\"%g\" width=\"14\" height=\"3\" fill=\"%s\"/>"
                          "<text x=\"%g\" y=\"%g\">%s</text>\n",
                          kLeft + pw + 12, kTop + 8 + 18 * i, color, kLeft + pw + 32,
                          kTop + 13 + 18 * i, EscapeMarkup(runs[i].name));
  }
  if (dashed) {
    const double ly = kTop + 8 + 18 * static_cast<double>(runs.size()) + 10;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#444\" "
                          "stroke-width=\"2\"/><text x=\"%g\" y=\"%g\">personalized</text>\n"
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#444\" "
                          "stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"%g\" y=\"%g\">"
                          "global model</text>\n",
                          kLeft + pw + 12, ly, kLeft + pw + 26, ly, kLeft + pw + 32, ly + 4,
                          kLeft + pw + 12, ly + 18, kLeft + pw + 26, ly + 18, kLeft + pw + 32,
                          ly + 22);
  }
  svg += "</svg>\n";
  return svg;
}

std::string AccuracyPlotSvg(const std::vector<SimulationResult>& runs, const std::string& title) {
  return LinePlotSvg(
      runs, title, "accuracy",
      [](const RoundRecord& r) -> std::optional<double> {
        if (!r.eval) return std::nullopt;
        return r.eval->micro;
      },
      [](const RoundRecord& r) -> std::optional<double> {
        if (!r.eval || r.eval->global_micro < 0 ||
            r.eval->global_micro == r.eval->micro) {
          return std::nullopt;
        }
        return r.eval->global_micro;
      });
}

std::string ClientAccuracyPlotSvg(const std::vector<SimulationResult>& runs,
                                  const std::string& title) {
  constexpr double kRow = 34;
  const double height = kTop + kBottom + kRow * static_cast<double>(std::max<size_t>(1, runs.size()));
  const double pw = kWidth - kLeft - kRight;
  auto x = [&](double acc) { return kLeft + pw * acc; };
  std::string svg = Header(height, title);
  const double bottom = height - kBottom;
  for (int i = 0; i <= 10; ++i) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%d%%</text>\n",
                          x(i / 10.0), kTop, x(i / 10.0), bottom, x(i / 10.0), bottom + 18,
                          10 * i);
  }
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                        "stroke=\"#444\"/>\n<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">"
                        "accuracy of each client's model on its local test set (last evaluation)"
                        "</text>\n",
                        kLeft, kTop, pw, bottom - kTop, kLeft + pw / 2, height - 10);
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = ColorOf(i);
    const double cy = kTop + kRow * (static_cast<double>(i) + 0.5);
    std::vector<double> accuracies;
    for (auto it = runs[i].rounds.rbegin(); it != runs[i].rounds.rend(); ++it) {
      if (!it->eval) continue;
      for (const auto& [id, acc] : it->eval->per_client) accuracies.push_back(acc);
      break;
    }
    std::sort(accuracies.begin(), accuracies.end());
    if (!accuracies.empty()) {
      auto quantile = [&](double q) {
        return accuracies[static_cast<size_t>(q * static_cast<double>(accuracies.size() - 1) + 0.5)];
      };
      absl::StrAppendFormat(&svg,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" "
                            "fill=\"%s\" fill-opacity=\"0.15\" stroke=\"%s\"/>"
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                            "stroke-width=\"3\"/>\n",
                            x(quantile(0.25)), cy - 8, x(quantile(0.75)) - x(quantile(0.25)), color,
                            color, x(quantile(0.5)), cy - 10, x(quantile(0.5)), cy + 10, color);
      // Thousands of clients: every dot is drawn, with jitter from its rank so they spread.
      for (size_t k = 0; k < accuracies.size(); ++k) {
        const double jitter = (static_cast<double>((k * 7919) % 13) - 6) * 1.1;
        absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>",
                              x(accuracies[k]), cy + jitter, color);
      }
      svg += "\n";
    }
    absl::StrAppendFormat(&svg, "<text x=\"%g\" y=\"%.1f\">%s (%d clients)</text>\n",
                          kLeft + pw + 12, cy + 4, EscapeMarkup(runs[i].name), accuracies.size());
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace tailor
