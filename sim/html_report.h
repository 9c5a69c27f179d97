// `tailor report`: one self-contained HTML page over one or more runs — accuracy against round,
// new clients' accuracy, the per-client accuracy distribution, the summary table and each
// run's accuracy every E rounds. Inline SVG and CSS only: no scripts, no network fetches.
#ifndef TAILOR_SIM_HTML_REPORT_H_
#define TAILOR_SIM_HTML_REPORT_H_

#include <string>
#include <vector>

#include "sim/simulation.h"

namespace tailor {

std::string RenderHtmlReport(const std::vector<SimulationResult>& runs, const std::string& title);

}  // namespace tailor

#endif  // TAILOR_SIM_HTML_REPORT_H_
