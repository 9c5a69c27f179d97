#include "server/metrics_jsonl.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailor {
namespace {

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out;
}

// Full precision, so analyses can rely on the numbers. JSON has no NaN or infinity: a
// non-finite value is written as null (a reader must never meet an invalid line).
std::string Num(double v) { return std::isfinite(v) ? absl::StrFormat("%.17g", v) : "null"; }

}  // namespace

namespace {

// Per-client values in client order, to 4 decimals.
std::string PerClientJson(const std::map<int64_t, double>& per_client) {
  std::string out = "[";
  for (const auto& [id, value] : per_client) {
    absl::StrAppend(&out, out.size() > 1 ? "," : "",
                    std::isfinite(value) ? absl::StrFormat("%.4f", value) : "null");
  }
  return out + "]";
}

// One evaluation's summary in the task's metric (keys named after it: personalized_accuracy,
// personalized_bpb, ...); per-client values (by client id) to 4 decimals, for the
// distribution plots of reports.
std::string EvalToJson(const EvalSummary& e) {
  const std::string m = e.metric().name;
  std::string out = absl::StrCat(
      "{\"metric\":\"", m, "\",\"clients\":", e.clients, ",\"failed\":", e.failed,
      ",\"test_samples\":", e.test_samples, ",\"personalized_", m, "\":", Num(e.micro),
      ",\"personalized_", m, "_macro\":", Num(e.macro), ",\"", m, "_std\":", Num(e.spread),
      ",\"worst10_", m, "\":", Num(e.worst10), ",\"test_loss\":", Num(e.mean_loss));
  if (e.global_micro >= 0) {
    absl::StrAppend(&out, ",\"global_", m, "\":", Num(e.global_micro), ",\"global_", m,
                    "_macro\":", Num(e.global_macro));
  }
  absl::StrAppend(&out, ",\"client_", m, "\":", PerClientJson(e.per_client));
  bool first = true;
  if (!e.views.empty()) {
    // Named subsets of the test sets: {"controversial":{"personalized_pair_accuracy":...}}.
    out += ",\"views\":{";
    first = true;
    for (const auto& [name, v] : e.views) {
      absl::StrAppend(&out, first ? "" : ",", "\"", JsonEscape(name), "\":{\"personalized_", m,
                      "\":", Num(v.micro), ",\"test_samples\":", v.test_samples,
                      ",\"clients\":", v.clients);
      if (v.global_micro >= 0) absl::StrAppend(&out, ",\"global_", m, "\":", Num(v.global_micro));
      // By client id: a client with no pair in the view has no entry.
      absl::StrAppend(&out, ",\"client_", m, "\":{");
      bool first_client = true;
      for (const auto& [id, value] : v.per_client) {
        absl::StrAppend(&out, first_client ? "" : ",", "\"", id, "\":",
                        std::isfinite(value) ? absl::StrFormat("%.4f", value) : "null");
        first_client = false;
      }
      out += "}}";
      first = false;
    }
    out += "}";
  }
  out += "}";
  return out;
}

std::string PrivacyToJson(const PrivacyRecord& p) {
  return absl::StrCat("{\"epsilon\":", Num(p.epsilon), ",\"delta\":", Num(p.delta),
                      ",\"clip_norm\":", Num(p.clip_norm),
                      ",\"noise_multiplier\":", Num(p.noise_multiplier),
                      ",\"expected_cohort\":", Num(p.expected_cohort), "}");
}

std::string SecureAggregationToJson(const SecureAggregationRecord& s) {
  return absl::StrCat("{\"advertised\":", s.advertised, ",\"shared\":", s.shared,
                      ",\"masked_inputs\":", s.masked_inputs, ",\"helpers\":", s.helpers,
                      ",\"recovered_dropouts\":", s.recovered_dropouts,
                      ",\"bytes_to_clients\":", s.bytes_to_clients,
                      ",\"bytes_from_clients\":", s.bytes_from_clients,
                      ",\"protocol_bytes\":", s.protocol_bytes,
                      ",\"plain_upload_bytes\":", s.plain_upload_bytes, "}");
}

}  // namespace

std::string RoundRecordToJson(const RoundRecord& r, const std::string& run_name) {
  if (r.withheld) {
    // A private run's released record: only what ε covers, and the timings.
    std::string out = absl::StrCat(
        "{\"run\":\"", JsonEscape(run_name), "\",\"round\":", r.round,
        ",\"update_norm\":", Num(r.update_norm), ",\"round_seconds\":", Num(r.round_seconds),
        ",\"train_seconds\":", Num(r.train_seconds), ",\"eval_seconds\":", Num(r.eval_seconds),
        ",\"elapsed_seconds\":", Num(r.elapsed_seconds), ",\"withheld\":true");
    if (r.privacy) absl::StrAppend(&out, ",\"privacy\":", PrivacyToJson(*r.privacy));
    return out + "}";
  }
  std::string out = absl::StrCat(
      "{\"run\":\"", JsonEscape(run_name), "\",\"round\":", r.round, ",\"cohort\":", r.cohort_size,
      ",\"accepted\":", r.accepted, ",\"rejected\":", r.rejected, ",\"failed\":", r.failed,
      ",\"upload_bytes\":", r.upload_bytes, ",\"train_loss\":", Num(r.train_loss),
      ",\"update_norm\":", Num(r.update_norm), ",\"round_seconds\":", Num(r.round_seconds),
      ",\"train_seconds\":", Num(r.train_seconds), ",\"eval_seconds\":", Num(r.eval_seconds),
      ",\"elapsed_seconds\":", Num(r.elapsed_seconds));
  if (r.attempts != 1) absl::StrAppend(&out, ",\"attempts\":", r.attempts);
  if (r.skipped) out += ",\"skipped\":true";
  if (!r.rejections.empty()) {
    out += ",\"rejections\":{";
    bool first = true;
    for (const auto& [code, n] : r.rejections) {
      absl::StrAppend(&out, first ? "" : ",", "\"", code, "\":", n);
      first = false;
    }
    out += "}";
  }
  if (r.record_epsilon_max >= 0) {
    absl::StrAppend(&out, ",\"record_epsilon_max\":", Num(r.record_epsilon_max));
  }
  if (r.privacy) absl::StrAppend(&out, ",\"privacy\":", PrivacyToJson(*r.privacy));
  if (r.secure_aggregation) {
    absl::StrAppend(&out, ",\"secure_aggregation\":", SecureAggregationToJson(*r.secure_aggregation));
  }
  if (r.eval) absl::StrAppend(&out, ",\"eval\":", EvalToJson(*r.eval));
  if (r.new_client_eval) {
    absl::StrAppend(&out, ",\"new_clients\":", EvalToJson(*r.new_client_eval));
  }
  out += "}";
  return out;
}

absl::StatusOr<RoundRecord> RoundRecordFromJson(const std::string& line) {
  using nlohmann::json;
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::DataLossError("a round record is not a JSON object");
  auto number = [&j](const char* field, double fallback = 0) {
    auto it = j.find(field);
    return it != j.end() && it->is_number() ? it->get<double>() : fallback;
  };
  auto count = [&number](const char* field) { return static_cast<int64_t>(number(field)); };
  RoundRecord r;
  if (!j.contains("round") || !j["round"].is_number_integer()) {
    return absl::DataLossError("a round record has no round number");
  }
  r.round = count("round");
  r.cohort_size = count("cohort");
  r.accepted = count("accepted");
  r.rejected = count("rejected");
  r.failed = count("failed");
  r.upload_bytes = count("upload_bytes");
  r.train_loss = number("train_loss", NAN);
  r.update_norm = number("update_norm");
  r.round_seconds = number("round_seconds");
  r.train_seconds = number("train_seconds");
  r.eval_seconds = number("eval_seconds");
  r.elapsed_seconds = number("elapsed_seconds");
  r.attempts = j.contains("attempts") ? count("attempts") : 1;
  r.skipped = j.value("skipped", false);
  r.withheld = j.value("withheld", false);
  r.record_epsilon_max = number("record_epsilon_max", -1);
  if (auto it = j.find("rejections"); it != j.end() && it->is_object()) {
    for (const auto& [code, n] : it->items()) {
      if (n.is_number()) r.rejections[code] = n.get<int64_t>();
    }
  }
  if (auto it = j.find("privacy"); it != j.end() && it->is_object()) {
    PrivacyRecord p;
    p.epsilon = it->value("epsilon", 0.0);
    p.delta = it->value("delta", 0.0);
    p.clip_norm = it->value("clip_norm", 0.0);
    p.noise_multiplier = it->value("noise_multiplier", 0.0);
    p.expected_cohort = it->value("expected_cohort", 0.0);
    r.privacy = p;
  }
  if (auto it = j.find("secure_aggregation"); it != j.end() && it->is_object()) {
    SecureAggregationRecord s;
    s.advertised = it->value("advertised", int64_t{0});
    s.shared = it->value("shared", int64_t{0});
    s.masked_inputs = it->value("masked_inputs", int64_t{0});
    s.helpers = it->value("helpers", int64_t{0});
    s.recovered_dropouts = it->value("recovered_dropouts", int64_t{0});
    s.bytes_to_clients = it->value("bytes_to_clients", int64_t{0});
    s.bytes_from_clients = it->value("bytes_from_clients", int64_t{0});
    s.protocol_bytes = it->value("protocol_bytes", int64_t{0});
    s.plain_upload_bytes = it->value("plain_upload_bytes", int64_t{0});
    r.secure_aggregation = s;
  }
  return r;
}

MetricsJsonlWriter::MetricsJsonlWriter(std::string path, std::string run_name, Env* env)
    : path_(std::move(path)), run_name_(std::move(run_name)), env_(env) {
  status_ = env_->WriteFileAtomically(path_, "");
}

void MetricsJsonlWriter::OnRoundComplete(const RoundRecord& record) {
  if (!status_.ok()) return;
  status_ = env_->AppendToFile(path_, RoundRecordToJson(record, run_name_) + "\n");
}

}  // namespace tailor
