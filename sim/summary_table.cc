#include "sim/summary_table.h"

#include <map>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sim/progress_printer.h"

namespace tailor {
namespace {

const EvalSummary* FinalEval(const SimulationResult& r) {
  for (auto it = r.rounds.rbegin(); it != r.rounds.rend(); ++it) {
    if (it->eval) return &*it->eval;
  }
  return nullptr;
}

const EvalSummary* FinalNewClientEval(const SimulationResult& r) {
  for (auto it = r.rounds.rbegin(); it != r.rounds.rend(); ++it) {
    if (it->new_client_eval) return &*it->new_client_eval;
  }
  return nullptr;
}

// The new clients' views: named test subsets as for training clients, then the few-shot curve
// (eval.new_client_shots) on one line, in order of the examples used.
void AppendNewClientViews(const std::string& run, const EvalSummary& fresh, std::string* out) {
  const TaskMetric& m = fresh.metric();
  std::map<int, double> curve;
  for (const auto& [name, v] : fresh.views) {
    int shots = 0;
    if (absl::StartsWith(name, "shots_") && absl::SimpleAtoi(name.substr(6), &shots)) {
      curve[shots] = v.micro;
      continue;
    }
    absl::StrAppendFormat(out, "%s: new clients' %s test samples (%d of %d): %s %s, global %s\n",
                          run, name, v.test_samples, fresh.test_samples, m.label,
                          m.Format(v.micro),
                          v.global_micro >= 0 ? m.Format(v.global_micro) : "n/a");
  }
  if (curve.empty()) return;
  absl::StrAppend(out, run, ": new clients' ", m.label, " after fitting on n examples:");
  const char* separator = " ";
  for (const auto& [shots, value] : curve) {
    absl::StrAppend(out, separator, "n=", shots, " ", m.Format(value));
    separator = ", ";
  }
  absl::StrAppend(out, " (all: ", m.Format(fresh.micro), "; the global model: ",
                  fresh.global_micro >= 0 ? m.Format(fresh.global_micro) : "n/a", ")\n");
}

// The best micro metric over evaluated rounds; NaN when none was evaluated.
double Best(const SimulationResult& r) {
  double best = std::nan("");
  for (const auto& rec : r.rounds) {
    if (rec.eval && (std::isnan(best) || rec.eval->metric().Better(rec.eval->micro, best))) {
      best = rec.eval->micro;
    }
  }
  return best;
}

// The metric the table is in: the first evaluated run's task (a table compares runs of one
// task; each cell is still formatted by its own run's metric).
const TaskMetric& TableMetric(const std::vector<SimulationResult>& results) {
  for (const auto& r : results) {
    if (const EvalSummary* e = FinalEval(r)) return e->metric();
  }
  return MetricOf(TaskKind::kImageClassification);
}

}  // namespace

namespace {

// Secure aggregation over the whole run: rounds whose sum was unmasked, clients recovered from,
// and the bytes per summed client against sending the update in the clear.
void AppendSecureAggregation(const SimulationResult& r, std::string* out) {
  int64_t rounds = 0, attempts = 0, summed = 0, recovered = 0, advertised = 0, protocol = 0,
          plain = 0;
  for (const RoundRecord& round : r.rounds) {
    attempts += round.attempts;
    if (!round.secure_aggregation || round.skipped) continue;
    const SecureAggregationRecord& s = *round.secure_aggregation;
    ++rounds;
    summed += s.masked_inputs;
    recovered += s.recovered_dropouts;
    advertised += s.advertised;
    protocol += s.protocol_bytes;
    plain += s.plain_upload_bytes;
  }
  if (rounds == 0) return;
  // Per client that advertised keys (each of them reported its update's size in the clear).
  const double per_client = static_cast<double>(protocol) / std::max<int64_t>(1, advertised);
  const double plain_per_client = static_cast<double>(plain) / std::max<int64_t>(1, advertised);
  absl::StrAppendFormat(
      out,
      "%s: secure aggregation: %d of %d rounds unmasked (%d attempts), %d inputs summed of %d "
      "advertised, %d dropouts' masks recovered; %.0f bytes per client (all phases, both "
      "ways) vs %.0f in the clear (%.2fx)\n",
      r.name, rounds, r.rounds.size(), attempts, summed, advertised, recovered, per_client,
      plain_per_client, plain_per_client > 0 ? per_client / plain_per_client : 0.0);
}

}  // namespace

std::string FormatSummaryTable(const std::vector<SimulationResult>& results) {
  const TaskMetric& m = TableMetric(results);
  std::string out = absl::StrFormat(
      "%-22s %-9s %7s %7s %10s %10s %8s %9s %9s %8s %8s %10s\n", "run", "algo", "clients",
      "rounds", absl::StrCat("pers.", m.label), absl::StrCat("global.", m.label), "std",
      "worst10%", "best", absl::StrCat("new.", m.label), "epsilon", "s/round");
  out += std::string(out.size() - 1, '-') + "\n";
  for (const auto& r : results) {
    const EvalSummary* e = FinalEval(r);
    const double per_round = r.rounds.empty() ? 0 : r.rounds.back().elapsed_seconds / r.rounds.size();
    const bool dp = !r.rounds.empty() && r.rounds.back().privacy;
    const EvalSummary* fresh = FinalNewClientEval(r);
    absl::StrAppendFormat(
        &out, "%-22s %-9s %7d %7d %10s %10s %8s %9s %9s %8s %8s %10.1f\n", r.name, r.algorithm,
        r.num_clients, r.rounds.size(), e ? e->metric().Format(e->micro) : "-",
        e && e->global_micro >= 0 ? e->metric().Format(e->global_micro) : "n/a",
        e ? e->metric().Format(e->spread) : "-", e ? e->metric().Format(e->worst10) : "-",
        e ? e->metric().Format(Best(r)) : FormatPercent(0), fresh ? fresh->metric().Format(fresh->micro) : "-",
        dp ? absl::StrFormat("%.3f", r.rounds.back().privacy->epsilon) : "-", per_round);
  }
  for (const auto& r : results) {
    // Named subsets of the test sets (e.g. the controversial preference pairs).
    const EvalSummary* e = FinalEval(r);
    for (const auto& [name, v] : e ? e->views : std::map<std::string, EvalSummary::View>()) {
      absl::StrAppendFormat(&out, "%s: %s test samples (%d of %d): pers.%s %s, global.%s %s\n",
                            r.name, name, v.test_samples, e->test_samples, e->metric().label,
                            e->metric().Format(v.micro), e->metric().label,
                            v.global_micro >= 0 ? e->metric().Format(v.global_micro) : "n/a");
    }
    if (const EvalSummary* fresh = FinalNewClientEval(r)) AppendNewClientViews(r.name, *fresh, &out);
    if (!r.stop_reason.empty()) absl::StrAppend(&out, r.name, ": ", r.stop_reason, "\n");
    AppendSecureAggregation(r, &out);
    if (r.rounds.empty() || !r.rounds.back().privacy) continue;
    const PrivacyRecord& p = *r.rounds.back().privacy;
    absl::StrAppendFormat(&out, "%s: epsilon %.4f at delta %g by RDP (the budget's accountant)",
                          r.name, p.epsilon, p.delta);
    if (r.pld_epsilon >= 0) {
      absl::StrAppendFormat(&out, "; %.4f by PLD for the same %d rounds\n", r.pld_epsilon,
                            r.rounds.size());
    } else {
      absl::StrAppend(&out, "; PLD: ", r.pld_note, "\n");
    }
  }
  if (m.task == TaskKind::kCausalLanguageModel) {
    out +=
        "\npers.bpb: each client's own model on its local test texts, bits per byte (summed "
        "negative log-likelihood / (ln 2 x scored bytes, one terminator per text included)) over "
        "all clients, after the last round; lower is better.\nglobal.bpb: the shared global model "
        "alone; n/a when part of every model is personal (e.g. a personal LoRA adapter).\nstd, "
        "worst10%: spread of per-client bits per byte (population std; mean of the worst 10% of "
        "clients). best: best pers.bpb over evaluated rounds.\nnew.bpb: clients held out of "
        "training, each personalized from the final global model by its algorithm's local "
        "training; - when none are held out.\nepsilon: client-level (epsilon, delta)-DP of the "
        "shared model after the last round; - when not private.\n";
  } else {
  out +=
      "\npers.acc: each client's own model on its local test set, sum(correct)/sum(test) over "
      "clients, after the last round.\nglobal.acc: the shared global model alone; n/a when part "
      "of every model is personal (e.g. FedPer's head), local-only training has none.\nstd, "
      "worst10%: spread of per-client accuracy (population std; mean of the worst 10% of "
      "clients). best: best pers.acc over evaluated rounds.\nnew.acc: clients held out of "
      "training (eval.new_clients), each personalized from the final global model with its "
      "algorithm's local training (eval.new_client_epochs), on its local test set; - when none "
      "are held out.\nepsilon: client-level "
      "(epsilon, delta)-DP of the shared model after the last round (delta in metrics.jsonl); - when not private.\n";
  }
  return out;
}

}  // namespace tailor
