// The end-of-run summary: one row per simulation, comparing personalized and global accuracy.
#ifndef TAILOR_SIM_SUMMARY_TABLE_H_
#define TAILOR_SIM_SUMMARY_TABLE_H_

#include <string>
#include <vector>

#include "sim/simulation.h"

namespace tailor {

// A plain-text table (fixed-width columns) with a short legend below it.
std::string FormatSummaryTable(const std::vector<SimulationResult>& results);

}  // namespace tailor

#endif  // TAILOR_SIM_SUMMARY_TABLE_H_
