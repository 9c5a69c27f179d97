#include "privacy/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace tailor {
namespace {

// Double is ample: every quantity is summed in log space with positive terms only.
using Real = double;
constexpr Real kPi = 3.141592653589793238462643383279502884;

// log(exp(a) + exp(b)) without overflow.
Real LogAdd(Real a, Real b) {
  if (a == -std::numeric_limits<Real>::infinity()) return b;
  if (b == -std::numeric_limits<Real>::infinity()) return a;
  const Real hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log1p(std::exp(lo - hi));
}

// log(e^x - 1) for x > 0, without overflow for large x or cancellation for small x.
Real LogExpm1(Real x) { return x > 50 ? x + std::log1p(-std::exp(-x)) : std::log(std::expm1(x)); }

// log A_α for integer α by the binomial expansion, computed as log1p(A_α − 1) with
//   A_α − 1 = Σ_{k≥2} C(α,k) (1−q)^(α−k) q^k (e^((k²−k)/(2z²)) − 1),
// which follows from Σ_k C(α,k) (1−q)^(α−k) q^k = 1 and has only positive terms. Summing A_α
// itself would lose everything below 1e-16 to rounding: at q/z below ~1e-8 the order's RDP came
// out exactly 0 (and ε with it).
Real LogAInteger(Real q, Real z, int64_t alpha) {
  Real log_a_minus_1 = -std::numeric_limits<Real>::infinity();
  const Real log_q = std::log(q);
  const Real log_1mq = q < 1 ? std::log1p(-q) : -std::numeric_limits<Real>::infinity();
  const Real a = static_cast<Real>(alpha);
  Real log_binom = std::log(a);  // log C(α, k), updated term by term from k = 1
  for (int64_t k = 2; k <= alpha; ++k) {
    const Real kk = static_cast<Real>(k);
    log_binom += std::log((a - kk + 1) / kk);
    if (q == 1 && k < alpha) continue;  // (1-q)^(α-k) = 0
    const Real term = log_binom + kk * log_q + (k < alpha ? (a - kk) * log_1mq : 0) +
                      LogExpm1((kk * kk - kk) / (2 * z * z));
    log_a_minus_1 = LogAdd(log_a_minus_1, term);
  }
  return LogAdd(0, log_a_minus_1);
}

// log of the integrand of A_α at x: log φ_z(x) + α · log((1 - q) + q · exp((2x - 1) / (2z²))).
Real LogIntegrand(Real q, Real z, Real alpha, Real x, Real log_norm) {
  const Real log_phi = -x * x / (2 * z * z) - log_norm;
  const Real log_ratio = (2 * x - 1) / (2 * z * z);  // log(μ1(x) / μ0(x))
  // log((1-q) + q·r) = log(1-q) + log1p(q·r / (1-q)), or log q + log r when that is larger.
  Real log_mix;
  if (q == 1) {
    log_mix = log_ratio;
  } else {
    const Real a = std::log1p(-q), b = std::log(q) + log_ratio;
    log_mix = LogAdd(a, b);
  }
  return log_phi + alpha * log_mix;
}

// The trapezoidal rule's grid for order α: the integrand's mass lies around 0 (the (1-q)^α
// part) and around α (the q^α r^α part, a Gaussian centred at α), each of width z; the error
// ~ exp(-2π d / h) with d = πz² the strip of analyticity, so 2π d / h >= 40 gives < 1e-17.
struct FractionalGrid {
  Real lo, hi;
  int64_t n;
};
FractionalGrid GridFor(Real z, Real alpha) {
  const Real lo = -14 * z - 1, hi = alpha + 14 * z + 1;
  const Real h = std::min(z / 4, 2 * kPi * kPi * z * z / 40);
  return {lo, hi, static_cast<int64_t>(std::ceil((hi - lo) / h))};
}

// Beyond this many points (z below about 0.03) the integral would take seconds per order.
constexpr int64_t kMaxGridPoints = 1 << 20;

// log A_α for any α > 1 by the trapezoidal rule on GridFor's grid.
Real LogAFractional(Real q, Real z, Real alpha) {
  const auto [lo, hi, n] = GridFor(z, alpha);
  const Real step = (hi - lo) / static_cast<Real>(n);
  const Real log_norm = std::log(z * std::sqrt(2 * kPi));
  Real max_log = -std::numeric_limits<Real>::infinity();
  std::vector<Real> logs(static_cast<size_t>(n + 1));
  for (int64_t i = 0; i <= n; ++i) {
    logs[static_cast<size_t>(i)] =
        LogIntegrand(q, z, alpha, lo + step * static_cast<Real>(i), log_norm);
    max_log = std::max(max_log, logs[static_cast<size_t>(i)]);
  }
  Real sum = 0;
  for (int64_t i = 0; i <= n; ++i) {
    const Real w = (i == 0 || i == n) ? 0.5 : 1.0;
    sum += w * std::exp(logs[static_cast<size_t>(i)] - max_log);
  }
  return max_log + std::log(sum * step);
}

// An upper bound of log A_α at fractional α from its integer neighbours k < α < k + 1:
// α ↦ log A_α is convex (Hölder's inequality), so the chord lies above it. log A_1 = 0.
Real LogAInterpolated(Real q, Real z, Real alpha) {
  const int64_t k = static_cast<int64_t>(std::floor(alpha));
  const Real w = alpha - static_cast<Real>(k);
  const Real below = k == 1 ? 0 : LogAInteger(q, z, k);
  return (1 - w) * below + w * LogAInteger(q, z, k + 1);
}

}  // namespace

absl::Status CheckSubsampledGaussian(double q, double z) {
  if (!(q > 0 && q <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("sampling rate q must be in (0, 1], got ", q));
  }
  if (!(z > 0) || !std::isfinite(z)) {
    return absl::InvalidArgumentError(
        absl::StrCat("noise multiplier z must be finite and > 0, got ", z));
  }
  return absl::OkStatus();
}

const std::vector<double>& DefaultRdpOrders() {
  static const std::vector<double> orders = [] {
    std::vector<double> o;
    for (int x = 1; x < 100; ++x) o.push_back(1 + x / 10.0);
    for (int a = 11; a < 64; ++a) o.push_back(a);
    for (double a : {64.0, 80.0, 96.0, 128.0, 256.0, 512.0, 1024.0}) o.push_back(a);
    return o;
  }();
  return orders;
}

namespace {

absl::Status CheckOrder(double alpha) {
  if (!(alpha > 1) || !std::isfinite(alpha)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RDP order must be finite and > 1, got ", alpha));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> SubsampledGaussianRdpByIntegral(double q, double z, double alpha) {
  if (absl::Status s = CheckSubsampledGaussian(q, z); !s.ok()) return s;
  if (absl::Status s = CheckOrder(alpha); !s.ok()) return s;
  return static_cast<double>(LogAFractional(q, z, alpha) / (alpha - 1));
}

absl::StatusOr<double> SubsampledGaussianRdp(double q, double z, double alpha) {
  if (absl::Status s = CheckSubsampledGaussian(q, z); !s.ok()) return s;
  if (absl::Status s = CheckOrder(alpha); !s.ok()) return s;
  const Real a = alpha;
  const bool integer = std::floor(alpha) == alpha && alpha <= 1e6;
  Real log_a;
  if (integer) {
    log_a = LogAInteger(q, z, static_cast<int64_t>(alpha));
  } else if (GridFor(z, a).n > kMaxGridPoints && alpha < 1e6) {
    log_a = LogAInterpolated(q, z, a);  // tiny z: a safe bound instead of a huge grid
  } else {
    log_a = LogAFractional(q, z, a);
    // The integral sums terms of order 1, so a result below ~1e-12 is rounding noise (it came
    // out 0 or negative at tiny q/z). The chord between the integer neighbours, computed
    // without cancellation, bounds it from above and is accurate there.
    if (log_a < 1e-12 && alpha < 1e6) log_a = LogAInterpolated(q, z, a);
  }
  return static_cast<double>(log_a / (a - 1));
}

absl::StatusOr<double> SubsampledGaussianRdpByInterpolation(double q, double z, double alpha) {
  if (absl::Status s = CheckSubsampledGaussian(q, z); !s.ok()) return s;
  if (absl::Status s = CheckOrder(alpha); !s.ok()) return s;
  return static_cast<double>(LogAInterpolated(q, z, alpha) / (alpha - 1));
}

absl::StatusOr<PrivacySpent> EpsilonFromRdp(const std::vector<double>& orders,
                                            const std::vector<double>& rdp, double delta) {
  if (orders.size() != rdp.size() || orders.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("RDP curve has ", rdp.size(), " values for ",
                                                   orders.size(), " orders"));
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("delta must be in (0, 1), got ", delta));
  }
  // Nothing released yet. One order at 0 among positive ones is not that: every order of a
  // mechanism that ran is positive, so each is converted like the others.
  if (std::all_of(rdp.begin(), rdp.end(), [](double r) { return r == 0; })) {
    return PrivacySpent{0, 0};
  }
  PrivacySpent best{std::numeric_limits<double>::infinity(), 0};
  for (size_t i = 0; i < orders.size(); ++i) {
    const double alpha = orders[i];
    if (absl::Status s = CheckOrder(alpha); !s.ok()) return s;
    if (!(rdp[i] >= 0) || !std::isfinite(rdp[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("RDP at order ", alpha, " is ", rdp[i], "; it must be finite and >= 0"));
    }
    const double eps = rdp[i] + std::log((alpha - 1) / alpha) -
                       (std::log(delta) + std::log(alpha)) / (alpha - 1);
    if (eps < best.epsilon) best = {std::max(0.0, eps), alpha};
  }
  return best;
}

absl::StatusOr<std::vector<double>> SubsampledGaussianRdpCurve(double q, double z,
                                                               const std::vector<double>& orders) {
  std::vector<double> curve;
  curve.reserve(orders.size());
  for (double alpha : orders) {
    auto rdp = SubsampledGaussianRdp(q, z, alpha);
    if (!rdp.ok()) return rdp.status();
    curve.push_back(*rdp);
  }
  return curve;
}

absl::StatusOr<PrivacySpent> SubsampledGaussianEpsilon(double q, double z, int64_t steps,
                                                       double delta,
                                                       const std::vector<double>& orders) {
  if (absl::Status s = CheckSubsampledGaussian(q, z); !s.ok()) return s;
  if (steps < 0) return absl::InvalidArgumentError(absl::StrCat("steps must be >= 0, got ", steps));
  RdpAccountant accountant(orders);
  if (absl::Status s = accountant.AddSteps(q, z, steps); !s.ok()) return s;
  return accountant.Epsilon(delta);
}

RdpAccountant::RdpAccountant(std::vector<double> orders)
    : orders_(orders.empty() ? DefaultRdpOrders() : std::move(orders)),
      rdp_(orders_.size(), 0.0) {}

absl::Status RdpAccountant::AddSteps(double q, double z, int64_t steps) {
  if (steps < 0) return absl::InvalidArgumentError(absl::StrCat("steps must be >= 0, got ", steps));
  if (absl::Status s = CheckSubsampledGaussian(q, z); !s.ok()) return s;
  if (steps == 0) return absl::OkStatus();
  auto curve = SubsampledGaussianRdpCurve(q, z, orders_);
  if (!curve.ok()) return curve.status();
  for (size_t i = 0; i < rdp_.size(); ++i) rdp_[i] += static_cast<double>(steps) * (*curve)[i];
  return absl::OkStatus();
}

absl::StatusOr<PrivacySpent> RdpAccountant::Epsilon(double delta) const {
  return EpsilonFromRdp(orders_, rdp_, delta);
}

absl::StatusOr<PrivacySpent> RdpAccountant::EpsilonAfter(double q, double z, int64_t steps,
                                                         double delta) const {
  RdpAccountant next = *this;
  if (absl::Status s = next.AddSteps(q, z, steps); !s.ok()) return s;
  return next.Epsilon(delta);
}

absl::StatusOr<RdpAccountant> RdpAccountant::FromCurve(std::vector<double> orders,
                                                       std::vector<double> rdp) {
  if (orders.empty() || orders.size() != rdp.size()) {
    return absl::InvalidArgumentError(absl::StrCat("RDP state has ", rdp.size(), " values for ",
                                                   orders.size(), " orders"));
  }
  for (size_t i = 0; i < orders.size(); ++i) {
    if (absl::Status s = CheckOrder(orders[i]); !s.ok()) return s;
    if (!(rdp[i] >= 0) || !std::isfinite(rdp[i])) {
      return absl::InvalidArgumentError(absl::StrCat("RDP state at order ", orders[i], " is ",
                                                     rdp[i], "; it must be finite and >= 0"));
    }
  }
  RdpAccountant a(std::move(orders));
  a.rdp_ = std::move(rdp);
  return a;
}

absl::StatusOr<double> NoiseMultiplierForEpsilon(double q, int64_t steps, double target_epsilon,
                                                 double delta, const std::vector<double>& orders) {
  if (!(target_epsilon > 0) || !std::isfinite(target_epsilon)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target epsilon must be finite and > 0, got ", target_epsilon));
  }
  if (steps < 1) return absl::InvalidArgumentError(absl::StrCat("steps must be >= 1, got ", steps));
  auto epsilon_at = [&](double z) -> absl::StatusOr<double> {
    auto spent = SubsampledGaussianEpsilon(q, z, steps, delta, orders);
    if (!spent.ok()) return spent.status();
    return spent->epsilon;
  };
  // ε falls as z grows: bracket the target, then bisect, keeping `hi` on the safe side.
  double hi = 1;
  for (;;) {
    auto e = epsilon_at(hi);
    if (!e.ok()) return e.status();
    if (*e <= target_epsilon) break;
    hi *= 2;
    if (hi > 1e4) {
      return absl::OutOfRangeError(absl::StrCat("no noise multiplier up to 1e4 reaches epsilon ",
                                                target_epsilon, " in ", steps, " steps at q=", q));
    }
  }
  double lo = hi / 2;
  if (hi == 1) lo = 0;
  while (hi - lo > 1e-4 * hi) {
    const double mid = 0.5 * (lo + hi);
    auto e = epsilon_at(mid);
    if (!e.ok()) return e.status();
    (*e <= target_epsilon ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace tailor
