// Self-contained SVG line plots of accuracy against round (no scripts, no network fetches):
// open the file in any browser.
#ifndef TAILOR_SIM_SVG_PLOT_H_
#define TAILOR_SIM_SVG_PLOT_H_

#include <string>
#include <vector>

#include "sim/simulation.h"

namespace tailor {

// One polyline per run: personalized accuracy (micro) at each evaluated round.
std::string AccuracyPlotSvg(const std::vector<SimulationResult>& runs, const std::string& title);

}  // namespace tailor

#endif  // TAILOR_SIM_SVG_PLOT_H_
