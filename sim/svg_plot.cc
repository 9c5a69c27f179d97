#include "sim/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

// A value axis: the range, the tick step, and how a tick is labelled.
struct Axis {
  double lo = 0, hi = 1, tick = 0.1;
  bool percent = true;
  std::string Label(double v) const {
    return percent ? absl::StrFormat("%.1f%%", 100 * v) : absl::StrFormat("%.2f", v);
  }
};

// Percentages as before (whole 5-point steps, ticks every 1, 2, 5, 10 or 20 points); other
// metrics (bits per byte) between round ticks of 0.01 to 5 units, at most about 10 of them.
Axis MakeAxis(double lo, double hi, bool percent) {
  Axis a;
  a.percent = percent;
  if (percent) {
    std::tie(a.lo, a.hi) = PercentRange(lo, hi);
    a.tick = 0.01;
    for (double t : {0.02, 0.05, 0.1, 0.2}) {
      if ((a.hi - a.lo) / a.tick > 10) a.tick = t;
    }
    return a;
  }
  if (lo > hi) lo = 0, hi = 1;
  a.tick = 0.01;
  for (double t : {0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0}) {
    if ((hi - lo) / a.tick > 10) a.tick = t;
  }
  a.lo = std::floor(lo / a.tick - 1e-9) * a.tick;
  a.hi = std::ceil(hi / a.tick + 1e-9) * a.tick;
  if (a.hi <= a.lo) a.hi = a.lo + a.tick;
  return a;
}

// The metric the runs are evaluated in (the first evaluated run's; accuracy when none is).
const TaskMetric& PlotMetric(const std::vector<SimulationResult>& runs) {
  for (const auto& r : runs) {
    for (const auto& rec : r.rounds) {
      if (rec.eval) return rec.eval->metric();
    }
  }
  return MetricOf(TaskKind::kImageClassification);
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
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
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
  const Axis axis = MakeAxis(lo, hi, PlotMetric(runs).percent);
  lo = axis.lo;
  hi = axis.hi;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto x = [&](double round) {
    return kLeft + pw * (max_round == 1 ? 0.5 : (round - 1) / (max_round - 1));
  };
  auto y = [&](double acc) { return kTop + ph * (1 - (acc - lo) / (hi - lo)); };

  std::string svg = Header(kHeight, title);
  for (double v = lo; v <= hi + 1e-9; v += axis.tick) {
    const double yy = y(v);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                          kLeft, yy, kLeft + pw, yy, kLeft - 6, yy + 4, axis.Label(v));
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
      runs, title, PlotMetric(runs).percent ? "accuracy" : PlotMetric(runs).name,
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
  // Accuracy on a fixed 0-100% axis; another metric between its extremes over the runs.
  const TaskMetric& metric = PlotMetric(runs);
  Axis axis;
  if (!metric.percent) {
    double lo = 1e300, hi = -1e300;
    for (const auto& r : runs) {
      for (auto it = r.rounds.rbegin(); it != r.rounds.rend(); ++it) {
        if (!it->eval) continue;
        for (const auto& [id, v] : it->eval->per_client) {
          if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        }
        break;
      }
    }
    axis = MakeAxis(lo, hi, false);
  }
  auto x = [&](double v) { return kLeft + pw * (v - axis.lo) / (axis.hi - axis.lo); };
  std::string svg = Header(height, title);
  const double bottom = height - kBottom;
  for (double v = axis.lo; v <= axis.hi + 1e-9; v += axis.tick) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n",
                          x(v), kTop, x(v), bottom, x(v), bottom + 18,
                          metric.percent ? absl::StrFormat("%d%%", static_cast<int>(std::lround(100 * v)))
                                         : axis.Label(v));
  }
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                        "stroke=\"#444\"/>\n<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">"
                        "%s of each client's model on its local test set (last evaluation)"
                        "</text>\n",
                        kLeft, kTop, pw, bottom - kTop, kLeft + pw / 2, height - 10,
                        metric.percent ? "accuracy" : "bits per byte");
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
