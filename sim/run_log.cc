#include "sim/run_log.h"

#include "sim/cross_evaluation.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "google/protobuf/text_format.h"

namespace tailor {
namespace {

using nlohmann::json;

// A required number: present and numeric, else a message naming the field.
absl::StatusOr<double> Number(const json& object, const std::string& field) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_number()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' is missing or not a number"));
  }
  return it->get<double>();
}

double NumberOr(const json& object, const std::string& field, double fallback) {
  auto it = object.find(field);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

// `value`, or its error prefixed by where it happened.
template <typename T>
absl::StatusOr<T> Within(absl::StatusOr<T> value, absl::string_view where) {
  if (!value.ok()) return Annotate(value.status(), where);
  return value;
}

absl::StatusOr<EvalSummary> ParseEval(const json& e) {
  if (!e.is_object()) return absl::InvalidArgumentError("an evaluation is not an object");
  EvalSummary s;
  TAILOR_ASSIGN_OR_RETURN(const double clients, Number(e, "clients"));
  s.clients = static_cast<int64_t>(clients);
  s.failed = static_cast<int64_t>(NumberOr(e, "failed", 0));
  s.test_samples = static_cast<int64_t>(NumberOr(e, "test_samples", 0));
  // Runs before the "metric" field were image runs (accuracy).
  if (auto it = e.find("metric"); it != e.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metric is not a string");
    TAILOR_ASSIGN_OR_RETURN(s.task, TaskWithMetric(it->get<std::string>()));
  }
  const std::string m = s.metric().name;
  TAILOR_ASSIGN_OR_RETURN(s.micro, Number(e, "personalized_" + m));
  s.macro = NumberOr(e, "personalized_" + m + "_macro", s.micro);
  s.spread = NumberOr(e, m + "_std", 0);
  s.worst10 = NumberOr(e, "worst10_" + m, 0);
  s.mean_loss = NumberOr(e, "test_loss", 0);
  s.global_micro = NumberOr(e, "global_" + m, -1);
  s.global_macro = NumberOr(e, "global_" + m + "_macro", -1);
  if (auto it = e.find("client_" + m); it != e.end() && it->is_array()) {
    int64_t index = 0;
    for (const json& a : *it) {
      if (!a.is_number()) return absl::InvalidArgumentError("client_" + m + " holds a non-number");
      s.per_client[index++] = a.get<double>();
    }
  }
  if (auto it = e.find("views"); it != e.end() && it->is_object()) {
    for (const auto& [name, v] : it->items()) {
      if (!v.is_object()) return absl::InvalidArgumentError("view " + name + " is not an object");
      EvalSummary::View& view = s.views[name];
      TAILOR_ASSIGN_OR_RETURN(view.micro, Within(Number(v, "personalized_" + m), "view " + name));
      view.global_micro = NumberOr(v, "global_" + m, -1);
      view.test_samples = static_cast<int64_t>(NumberOr(v, "test_samples", 0));
      view.clients = static_cast<int64_t>(NumberOr(v, "clients", 0));
    }
  }
  return s;
}

}  // namespace

absl::StatusOr<RoundRecord> ParseRoundRecordJson(const std::string& line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  RoundRecord r;
  TAILOR_ASSIGN_OR_RETURN(const double round, Number(j, "round"));
  r.round = static_cast<int64_t>(round);
  r.cohort_size = static_cast<int64_t>(NumberOr(j, "cohort", 0));
  r.accepted = static_cast<int64_t>(NumberOr(j, "accepted", 0));
  r.rejected = static_cast<int64_t>(NumberOr(j, "rejected", 0));
  r.failed = static_cast<int64_t>(NumberOr(j, "failed", 0));
  r.train_loss = NumberOr(j, "train_loss", 0);
  r.update_norm = NumberOr(j, "update_norm", 0);
  r.round_seconds = NumberOr(j, "round_seconds", 0);
  r.train_seconds = NumberOr(j, "train_seconds", 0);
  r.eval_seconds = NumberOr(j, "eval_seconds", 0);
  r.elapsed_seconds = NumberOr(j, "elapsed_seconds", 0);
  if (auto it = j.find("eval"); it != j.end()) {
    TAILOR_ASSIGN_OR_RETURN(r.eval, Within(ParseEval(*it), "eval"));
  }
  if (auto it = j.find("new_clients"); it != j.end()) {
    TAILOR_ASSIGN_OR_RETURN(r.new_client_eval, Within(ParseEval(*it), "new_clients"));
  }
  if (auto it = j.find("privacy"); it != j.end() && it->is_object()) {
    PrivacyRecord p;
    TAILOR_ASSIGN_OR_RETURN(p.epsilon, Within(Number(*it, "epsilon"), "privacy"));
    p.delta = NumberOr(*it, "delta", 0);
    p.clip_norm = NumberOr(*it, "clip_norm", 0);
    p.noise_multiplier = NumberOr(*it, "noise_multiplier", 0);
    p.expected_cohort = NumberOr(*it, "expected_cohort", 0);
    r.privacy = p;
  }
  return r;
}

absl::StatusOr<SimulationResult> ReadRunDirectory(const std::string& dir, Env* env) {
  const std::string metrics_path = absl::StrCat(dir, "/metrics.jsonl");
  absl::StatusOr<std::string> metrics = env->ReadFile(metrics_path);
  if (absl::IsNotFound(metrics.status())) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no metrics.jsonl (is it a run directory?)"));
  }
  TAILOR_RETURN_IF_ERROR(metrics.status());
  SimulationResult run;
  run.output_dir = dir;
  run.name = dir.substr(dir.find_last_of('/') + 1);
  const std::string config_path = absl::StrCat(dir, "/config.resolved.textproto");
  if (absl::StatusOr<std::string> text = env->ReadFile(config_path); text.ok()) {
    config::ExperimentConfig c;
    if (!google::protobuf::TextFormat::ParseFromString(*text, &c)) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, " does not parse"));
    }
    run.name = c.name();
    run.algorithm = c.algorithm().name();
    run.num_clients = c.data().num_clients();
  }
  const std::vector<std::string> lines = absl::StrSplit(*metrics, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    absl::StatusOr<RoundRecord> record = ParseRoundRecordJson(lines[i]);
    if (!record.ok()) {
      // A crash can cut the last append short: that line has no newline after it.
      if (i + 1 == lines.size()) {
        run.stop_reason = absl::StrCat(metrics_path, " ends in a truncated line (ignored)");
        break;
      }
      return absl::InvalidArgumentError(absl::StrCat(metrics_path, " line ", i + 1, ": ",
                                                     record.status().message()));
    }
    // Round 0 is the initial model's evaluation (eval.at_start): not a round run.
    if (record->round > 0) run.rounds.push_back(*std::move(record));
  }
  const std::string cross_path = absl::StrCat(dir, "/cross_eval.json");
  if (env->FileExists(cross_path)) {
    TAILOR_ASSIGN_OR_RETURN(std::string text, env->ReadFile(cross_path));
    absl::StatusOr<CrossEvaluation> cross = CrossEvaluationFromJson(text);
    if (!cross.ok()) return Annotate(cross.status(), cross_path);
    run.cross_evaluation = *std::move(cross);
  }
  if (!run.rounds.empty()) {
    run.seconds = run.rounds.back().elapsed_seconds;
    const std::optional<EvalSummary>& last = run.rounds.back().eval;
    run.has_global_model = last && last->global_micro == last->micro;
  }
  return run;
}

}  // namespace tailor
