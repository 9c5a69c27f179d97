// Self-contained SVG plots (no scripts, no network fetches): accuracy against round and the
// per-client accuracy distribution. Open the files in any browser; `tailor report` embeds them.
#ifndef TAILOR_SIM_SVG_PLOT_H_
#define TAILOR_SIM_SVG_PLOT_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace tailor {

// `text` with <, >, & and " escaped, for SVG and HTML text and attributes.
std::string EscapeMarkup(const std::string& text);

// The value a line plot shows for a round; std::nullopt skips the round.
using RoundMetric = std::function<std::optional<double>(const RoundRecord&)>;

// One polyline per run of `metric` (a fraction, drawn as a percentage) against round; when
// `dashed` is given, a dashed line of it in the same colour beside each run's solid one.
std::string LinePlotSvg(const std::vector<SimulationResult>& runs, const std::string& title,
                        const std::string& y_label, const RoundMetric& metric,
                        const RoundMetric& dashed = nullptr);

// Personalized accuracy (micro) at each evaluated round, and dashed, the global model's where
// it is a different model (FedAvg + fine-tuning, Ditto, APFL, FedALA).
std::string AccuracyPlotSvg(const std::vector<SimulationResult>& runs, const std::string& title);

// The per-client accuracy distribution at each run's last evaluation: a row per run with a
// dot per client, the quartile box and the median.
std::string ClientAccuracyPlotSvg(const std::vector<SimulationResult>& runs,
                                  const std::string& title);

}  // namespace tailor

#endif  // TAILOR_SIM_SVG_PLOT_H_
