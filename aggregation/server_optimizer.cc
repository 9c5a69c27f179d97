#include "aggregation/server_optimizer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tailor {
namespace {

enum class Rule { kSgd, kAvgM, kAdagrad, kAdam, kYogi };

absl::StatusOr<Rule> ParseRule(const std::string& name) {
  if (name == "sgd") return Rule::kSgd;
  if (name == "fedavgm") return Rule::kAvgM;
  if (name == "fedadagrad") return Rule::kAdagrad;
  if (name == "fedadam") return Rule::kAdam;
  if (name == "fedyogi") return Rule::kYogi;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown server optimizer '", name, "' (known: sgd, fedavgm, fedadagrad, fedadam, fedyogi)"));
}

bool InUnitInterval(double x) { return x >= 0 && x < 1; }

// One element's step. Returns the new parameter; updates m and v.
struct Hyper {
  Rule rule;
  double lr, momentum, beta1, beta2, tau;
};

inline double StepElement(const Hyper& h, double x, double d, double* m, double* v) {
  switch (h.rule) {
    case Rule::kSgd:
      return x + h.lr * d;
    case Rule::kAvgM:
      *m = h.momentum * *m + d;
      return x + h.lr * *m;
    default:
      break;
  }
  *m = h.beta1 * *m + (1 - h.beta1) * d;
  const double d2 = d * d;
  if (h.rule == Rule::kAdagrad) {
    *v = *v + d2;
  } else if (h.rule == Rule::kAdam) {
    *v = h.beta2 * *v + (1 - h.beta2) * d2;
  } else {  // Yogi: v moves toward d² additively, never faster than (1-β₂)d².
    const double diff = *v - d2;
    const double sign = diff > 0 ? 1.0 : (diff < 0 ? -1.0 : 0.0);
    *v = *v - (1 - h.beta2) * d2 * sign;
  }
  return x + h.lr * *m / (std::sqrt(*v) + h.tau);
}

class ServerOptimizerImpl : public ServerOptimizer {
 public:
  ServerOptimizerImpl(const ServerOptimizerOptions& o, Rule rule)
      : name_(o.name), hyper_{rule, o.learning_rate, o.momentum, o.beta1, o.beta2, o.tau} {}

  absl::StatusOr<double> Step(ParameterSet* model, const ParameterSet& delta) override {
    TAILOR_RETURN_IF_ERROR(model->CheckSameSchema(delta, "aggregated update"));
    for (const auto& e : model->entries()) {
      if (!e.tensor.IsFloating()) {
        return absl::InvalidArgumentError(
            absl::StrCat("server optimizer: tensor '", e.name, "' is not floating point"));
      }
    }
    if (uses_m() && state_.empty()) TAILOR_RETURN_IF_ERROR(InitState(*model));
    // Two passes over the same arithmetic: the first only checks that every new value is
    // finite, so a diverging step is refused with the model and the state untouched.
    TAILOR_RETURN_IF_ERROR(Pass(model, delta, /*commit=*/false).status());
    return Pass(model, delta, /*commit=*/true);
  }

  const ParameterSet& State() const override { return state_; }

  absl::Status Restore(const ParameterSet& state, const ParameterSet& model_schema) override {
    ParameterSet expected;
    TAILOR_RETURN_IF_ERROR(BuildState(model_schema, &expected));
    if (expected.empty() && state.empty()) return absl::OkStatus();
    TAILOR_RETURN_IF_ERROR(Annotate(expected.CheckSameSchema(state, "server optimizer state"),
                                    absl::StrCat("restoring the ", name_, " state")));
    TAILOR_RETURN_IF_ERROR(Annotate(state.CheckFinite(), "server optimizer state"));
    state_ = state;
    return absl::OkStatus();
  }

  const std::string& name() const override { return name_; }

 private:
  bool uses_m() const { return hyper_.rule != Rule::kSgd; }
  bool uses_v() const { return uses_m() && hyper_.rule != Rule::kAvgM; }

  // The state's schema for `model`: m/<name> for every tensor, then v/<name> when used.
  absl::Status BuildState(const ParameterSet& model, ParameterSet* out) const {
    if (!uses_m()) return absl::OkStatus();
    for (const char* prefix : {"m/", "v/"}) {
      if (prefix[0] == 'v' && !uses_v()) break;
      const double init = prefix[0] == 'v' ? hyper_.tau * hyper_.tau : 0.0;
      for (const auto& e : model.entries()) {
        Tensor t(e.tensor.dtype(), e.tensor.shape());
        if (init != 0) {
          if (t.dtype() == DType::kFloat32) {
            for (float& x : t.f32()) x = static_cast<float>(init);
          } else {
            for (double& x : t.f64()) x = init;
          }
        }
        TAILOR_RETURN_IF_ERROR(out->Add(absl::StrCat(prefix, e.name), std::move(t)));
      }
    }
    return absl::OkStatus();
  }

  absl::Status InitState(const ParameterSet& model) {
    ParameterSet s;
    TAILOR_RETURN_IF_ERROR(BuildState(model, &s));
    state_ = std::move(s);
    return absl::OkStatus();
  }

  template <typename T>
  bool PassTensor(absl::Span<T> x, absl::Span<const T> d, T* m, T* v, bool commit,
                  double* change2) const {
    double dummy_m = 0, dummy_v = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double mi = m ? static_cast<double>(m[i]) : dummy_m;
      double vi = v ? static_cast<double>(v[i]) : dummy_v;
      const double next = StepElement(hyper_, x[i], d[i], &mi, &vi);
      const T stored = static_cast<T>(next);
      if (!commit) {
        if (!std::isfinite(stored) || !std::isfinite(static_cast<T>(mi)) ||
            !std::isfinite(static_cast<T>(vi))) {
          return false;
        }
        continue;
      }
      const double change = static_cast<double>(stored) - static_cast<double>(x[i]);
      *change2 += change * change;
      x[i] = stored;
      if (m) m[i] = static_cast<T>(mi);
      if (v) v[i] = static_cast<T>(vi);
    }
    return true;
  }

  absl::StatusOr<double> Pass(ParameterSet* model, const ParameterSet& delta, bool commit) {
    const size_t n = model->size();
    double change2 = 0;
    for (size_t t = 0; t < n; ++t) {
      Tensor& x = model->entry(t).tensor;
      const Tensor& d = delta.entry(t).tensor;
      Tensor* m = uses_m() ? &state_.entry(t).tensor : nullptr;
      Tensor* v = uses_v() ? &state_.entry(n + t).tensor : nullptr;
      const bool ok = x.dtype() == DType::kFloat32
                          ? PassTensor(x.f32(), d.f32(), m ? m->f32().data() : nullptr,
                                       v ? v->f32().data() : nullptr, commit, &change2)
                          : PassTensor(x.f64(), d.f64(), m ? m->f64().data() : nullptr,
                                       v ? v->f64().data() : nullptr, commit, &change2);
      if (!ok) {
        return absl::InvalidArgumentError(
            absl::StrCat(name_, " step would make tensor '", model->entry(t).name,
                         "' or its optimizer state non-finite; the model is left unchanged"));
      }
    }
    return std::sqrt(change2);
  }

  std::string name_;
  Hyper hyper_;
  ParameterSet state_;
};

}  // namespace

absl::Status ValidateServerOptimizerOptions(const ServerOptimizerOptions& o) {
  TAILOR_ASSIGN_OR_RETURN(const Rule rule, ParseRule(o.name));
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("server learning rate must be finite and > 0, got ", o.learning_rate));
  }
  if (rule == Rule::kAvgM && !InUnitInterval(o.momentum)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fedavgm momentum must be in [0, 1), got ", o.momentum));
  }
  if (rule == Rule::kAdagrad || rule == Rule::kAdam || rule == Rule::kYogi) {
    if (!InUnitInterval(o.beta1)) {
      return absl::InvalidArgumentError(absl::StrCat("beta1 must be in [0, 1), got ", o.beta1));
    }
    if (rule != Rule::kAdagrad && !InUnitInterval(o.beta2)) {
      return absl::InvalidArgumentError(absl::StrCat("beta2 must be in [0, 1), got ", o.beta2));
    }
    if (!(o.tau > 0) || !std::isfinite(o.tau)) {
      return absl::InvalidArgumentError(absl::StrCat("tau must be finite and > 0, got ", o.tau));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerOptimizer>> CreateServerOptimizer(
    const ServerOptimizerOptions& options) {
  TAILOR_RETURN_IF_ERROR(ValidateServerOptimizerOptions(options));
  TAILOR_ASSIGN_OR_RETURN(const Rule rule, ParseRule(options.name));
  return std::unique_ptr<ServerOptimizer>(new ServerOptimizerImpl(options, rule));
}

}  // namespace tailor
