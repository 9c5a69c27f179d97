#include "server/metrics_jsonl.h"

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

// Full precision, so analyses can rely on the numbers.
std::string Num(double v) { return absl::StrFormat("%.17g", v); }

}  // namespace

namespace {

// One evaluation's summary; per-client accuracies (by client id) to 4 decimals, for the
// distribution plots of reports.
std::string EvalToJson(const EvalSummary& e) {
  std::string out = absl::StrCat(
      "{\"clients\":", e.clients, ",\"failed\":", e.failed, ",\"test_samples\":", e.test_samples,
      ",\"personalized_accuracy\":", Num(e.micro_accuracy),
      ",\"personalized_accuracy_macro\":", Num(e.macro_accuracy),
      ",\"accuracy_std\":", Num(e.accuracy_std), ",\"worst10_accuracy\":", Num(e.worst10_accuracy),
      ",\"test_loss\":", Num(e.mean_loss));
  if (e.global_micro_accuracy >= 0) {
    absl::StrAppend(&out, ",\"global_accuracy\":", Num(e.global_micro_accuracy),
                    ",\"global_accuracy_macro\":", Num(e.global_macro_accuracy));
  }
  out += ",\"client_accuracy\":[";
  bool first = true;
  for (const auto& [id, accuracy] : e.per_client) {
    absl::StrAppend(&out, first ? "" : ",", absl::StrFormat("%.4f", accuracy));
    first = false;
  }
  out += "]}";
  return out;
}

}  // namespace

std::string RoundRecordToJson(const RoundRecord& r, const std::string& run_name) {
  std::string out = absl::StrCat(
      "{\"run\":\"", JsonEscape(run_name), "\",\"round\":", r.round, ",\"cohort\":", r.cohort_size,
      ",\"accepted\":", r.accepted, ",\"rejected\":", r.rejected, ",\"failed\":", r.failed,
      ",\"upload_bytes\":", r.upload_bytes, ",\"train_loss\":", Num(r.train_loss),
      ",\"update_norm\":", Num(r.update_norm), ",\"round_seconds\":", Num(r.round_seconds),
      ",\"train_seconds\":", Num(r.train_seconds), ",\"eval_seconds\":", Num(r.eval_seconds),
      ",\"elapsed_seconds\":", Num(r.elapsed_seconds));
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
  if (r.privacy) {
    const PrivacyRecord& p = *r.privacy;
    absl::StrAppend(&out, ",\"privacy\":{\"epsilon\":", Num(p.epsilon), ",\"delta\":", Num(p.delta),
                    ",\"clip_norm\":", Num(p.clip_norm),
                    ",\"noise_multiplier\":", Num(p.noise_multiplier),
                    ",\"expected_cohort\":", Num(p.expected_cohort), "}");
  }
  if (r.eval) absl::StrAppend(&out, ",\"eval\":", EvalToJson(*r.eval));
  if (r.new_client_eval) {
    absl::StrAppend(&out, ",\"new_clients\":", EvalToJson(*r.new_client_eval));
  }
  out += "}";
  return out;
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
