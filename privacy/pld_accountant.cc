#include "privacy/pld_accountant.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "privacy/rdp_accountant.h"

namespace tailor {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A loss distribution wider than this many grid points (2^22: a 128 MiB transform) is refused:
// its ε is far beyond any useful budget, where RDP's bound is as good.
constexpr size_t kMaxPoints = size_t{1} << 22;

absl::Status TooWide(double delta_l) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the privacy loss spans more than 2^22 points of ", delta_l,
      " (epsilon in the tens or hundreds?); use a coarser value_discretization or the RDP "
      "accountant"));
}

// log((1 - q) + q·e^u), the log of the mixture's density ratio, without overflow or log(0).
double LogMix(double q, double u) {
  if (q == 1) return u;
  if (u <= 0) return std::log1p(q * std::expm1(u));
  return u + std::log(q) + std::log1p((1 - q) / q * std::exp(-u));
}

// A discretized privacy-loss distribution: p[i] is the mass at loss (offset + i)·Δ; `infinite`
// the mass at +∞.
struct Pmf {
  int64_t offset = 0;
  std::vector<double> p;
  double infinite = 0;
};

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double NormalSurvival(double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); }

// The t with P(N(0,1) > t) <= mass (bisection; t <= 40 covers every double mass).
double UpperQuantile(double mass) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (NormalSurvival(mid) > mass ? lo : hi) = mid;
  }
  return hi;
}

// In-place iterative radix-2 FFT; `inverse` includes the 1/n.
void Fft(std::vector<std::complex<double>>& a, bool inverse) {
  const size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double angle = 2 * M_PI / static_cast<double>(len) * (inverse ? 1 : -1);
    // Twiddles computed directly per stage (not by repeated multiplication) to keep the
    // round-off of long transforms at the level of one multiplication.
    std::vector<std::complex<double>> w(len / 2);
    for (size_t k = 0; k < len / 2; ++k) {
      const double a_k = angle * static_cast<double>(k);
      w[k] = {std::cos(a_k), std::sin(a_k)};
    }
    for (size_t i = 0; i < n; i += len) {
      for (size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> u = a[i + k], v = a[i + k + len / 2] * w[k];
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
      }
    }
  }
  if (inverse) {
    for (auto& x : a) x /= static_cast<double>(n);
  }
}

std::vector<double> Convolve(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t out = a.size() + b.size() - 1;
  std::vector<double> c(out, 0.0);
  if (std::min(a.size(), b.size()) <= 64) {
    for (size_t i = 0; i < a.size(); ++i) {
      for (size_t j = 0; j < b.size(); ++j) c[i + j] += a[i] * b[j];
    }
    return c;
  }
  size_t n = 1;
  while (n < out) n <<= 1;
  std::vector<std::complex<double>> fa(n), fb(n);
  for (size_t i = 0; i < a.size(); ++i) fa[i] = a[i];
  for (size_t i = 0; i < b.size(); ++i) fb[i] = b[i];
  Fft(fa, false);
  Fft(fb, false);
  for (size_t i = 0; i < n; ++i) fa[i] *= fb[i];
  Fft(fa, true);
  // Round-off leaves tiny negative values where the mass is zero.
  for (size_t i = 0; i < out; ++i) c[i] = std::max(0.0, fa[i].real());
  return c;
}

// Drops at most `tail` of mass at each end, pessimistically: the lower tail joins the lowest
// kept loss (a larger loss), the upper tail goes to +∞.
void TrimTails(Pmf* pmf, double tail) {
  std::vector<double>& p = pmf->p;
  size_t hi = p.size();
  double upper = 0;
  while (hi > 1 && upper + p[hi - 1] <= tail) upper += p[--hi];
  size_t lo = 0;
  double lower = 0;
  while (lo + 1 < hi && lower + p[lo] <= tail) lower += p[lo++];
  std::vector<double> kept(p.begin() + static_cast<std::ptrdiff_t>(lo),
                           p.begin() + static_cast<std::ptrdiff_t>(hi));
  kept.front() += lower;
  pmf->offset += static_cast<int64_t>(lo);
  pmf->infinite += upper;
  pmf->p = std::move(kept);
}

Pmf Compose(const Pmf& a, const Pmf& b, double tail) {
  Pmf c;
  c.offset = a.offset + b.offset;
  c.p = Convolve(a.p, b.p);
  c.infinite = a.infinite + b.infinite - a.infinite * b.infinite;
  TrimTails(&c, tail);
  return c;
}

// The "connect the dots" discretization (Doroshenko, Ghazi, Kamath, Kumar and Manurangsi,
// "Connect the Dots: Tighter Discrete Approximations of Privacy Loss Distributions", PETS 2022):
// the discrete distribution on the grid ε_j = jΔ whose hockey-stick curve δ(ε) equals the
// exact one at every grid point and is linear in e^ε between them. The exact curve is convex in
// e^ε, so the chords lie above it: the discrete pair dominates the real one (pessimistic), with
// an error of order Δ² instead of the Δ of rounding losses up, which would add TΔ/2 to the mean
// loss of T steps. Below the grid the chord runs to δ = 1 at e^ε = 0, where every exact curve
// starts; above it, the remaining δ(ε_max) (below the tail mass) is put at +∞.
template <typename DeltaOf>
absl::StatusOr<Pmf> ConnectTheDots(double loss_min, double loss_max, double delta_l,
                                   DeltaOf delta_of) {
  const double lo = std::floor(loss_min / delta_l), hi = std::ceil(loss_max / delta_l);
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi - lo + 1 > static_cast<double>(kMaxPoints)) {
    return TooWide(delta_l);
  }
  const int64_t j_min = static_cast<int64_t>(lo);
  const size_t n = static_cast<size_t>(hi - lo + 1);
  std::vector<double> d(n), e(n);
  for (size_t j = 0; j < n; ++j) {
    const double eps = static_cast<double>(j_min + static_cast<int64_t>(j)) * delta_l;
    d[j] = delta_of(eps);
    e[j] = std::exp(eps);
  }
  const double step = std::expm1(delta_l);
  Pmf pmf;
  pmf.offset = j_min;
  pmf.p.resize(n);
  double left_slope = (d[0] - 1) / e[0];
  for (size_t j = 0; j < n; ++j) {
    const double right_slope = j + 1 < n ? (d[j + 1] - d[j]) / (e[j] * step) : 0.0;
    pmf.p[j] = std::max(0.0, e[j] * (right_slope - left_slope));
    left_slope = right_slope;
  }
  pmf.infinite = d[n - 1];
  return pmf;
}

// One step of the remove pair: x ~ P = (1-q)N(0,z²) + qN(1,z²), Q = N(0,z²),
// L(x) = log(1 + q·(exp((2x-1)/(2z²)) - 1)), increasing in x, so
// δ(ε) = P(x > x*) - e^ε·Q(x > x*) with L(x*) = ε.
absl::StatusOr<Pmf> RemoveStep(double q, double z, double delta_l, double tail) {
  const double s2 = z * z;
  auto loss = [&](double x) { return LogMix(q, (2 * x - 1) / (2 * s2)); };
  auto delta_of = [&](double eps) {
    const double ratio = std::expm1(eps) / q;  // exp((2x*-1)/(2z²)) - 1
    if (ratio <= -1) return -std::expm1(eps);   // every loss exceeds ε
    const double x = s2 * std::log1p(ratio) + 0.5;
    const double p_tail = (1 - q) * NormalSurvival(x / z) + q * NormalSurvival((x - 1) / z);
    return std::max(0.0, p_tail - std::exp(eps) * NormalSurvival(x / z));
  };
  const double t = UpperQuantile(tail / 2);
  return ConnectTheDots(loss(-z * t), loss(1 + z * t), delta_l, delta_of);
}

// One step of the add pair: x ~ P = N(0,z²), Q = (1-q)N(0,z²) + qN(1,z²),
// L(x) = -log(1 + q·(exp((2x-1)/(2z²)) - 1)), decreasing in x (and below -log(1-q)), so
// δ(ε) = P(x < x*) - e^ε·Q(x < x*) with L(x*) = ε.
absl::StatusOr<Pmf> AddStep(double q, double z, double delta_l, double tail) {
  const double s2 = z * z;
  auto loss = [&](double x) { return -LogMix(q, (2 * x - 1) / (2 * s2)); };
  auto delta_of = [&](double eps) {
    const double ratio = std::expm1(-eps) / q;
    if (ratio <= -1) return 0.0;  // no loss reaches ε
    const double x = s2 * std::log1p(ratio) + 0.5;
    const double q_head = (1 - q) * NormalCdf(x / z) + q * NormalCdf((x - 1) / z);
    return std::max(0.0, NormalCdf(x / z) - std::exp(eps) * q_head);
  };
  const double t = UpperQuantile(tail / 2);
  return ConnectTheDots(loss(z * t), loss(-z * t), delta_l, delta_of);
}

absl::StatusOr<Pmf> SelfCompose(Pmf step, int64_t steps, double tail, double delta_l) {
  Pmf result;
  result.p = {1.0};
  for (int64_t left = steps; left > 0; left >>= 1) {
    for (const Pmf* other : {&result, &step}) {
      if (step.p.size() + other->p.size() > kMaxPoints) return TooWide(delta_l);
    }
    if (left & 1) result = Compose(result, step, tail);
    if (left > 1) step = Compose(step, step, tail);
  }
  return result;
}

double DeltaAt(const Pmf& pmf, double epsilon, double delta_l) {
  double delta = pmf.infinite;
  for (size_t i = 0; i < pmf.p.size(); ++i) {
    const double l = static_cast<double>(pmf.offset + static_cast<int64_t>(i)) * delta_l;
    if (l > epsilon) delta += pmf.p[i] * -std::expm1(epsilon - l);
  }
  return delta;
}

absl::Status CheckArgs(double q, double z, int64_t steps, const PldOptions& o) {
  if (absl::Status s = CheckSubsampledGaussian(q, z); !s.ok()) return s;
  if (steps < 0) return absl::InvalidArgumentError(absl::StrCat("steps must be >= 0, got ", steps));
  if (!(o.value_discretization > 0 && o.value_discretization <= 0.1)) {
    return absl::InvalidArgumentError(absl::StrCat("PLD discretization must be in (0, 0.1], got ",
                                                   o.value_discretization));
  }
  if (!(o.tail_mass > 0 && o.tail_mass < 1e-6)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PLD tail mass must be in (0, 1e-6), got ", o.tail_mass));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Pmf>> Composed(double q, double z, int64_t steps,
                                          PldDirection direction, const PldOptions& o) {
  std::vector<Pmf> out;
  const double dl = o.value_discretization;
  if (direction != PldDirection::kAdd) {
    auto step = RemoveStep(q, z, dl, o.tail_mass);
    if (!step.ok()) return step.status();
    auto remove = SelfCompose(*std::move(step), steps, o.tail_mass, dl);
    if (!remove.ok()) return remove.status();
    out.push_back(*std::move(remove));
  }
  if (direction != PldDirection::kRemove) {
    auto step = AddStep(q, z, dl, o.tail_mass);
    if (!step.ok()) return step.status();
    auto add = SelfCompose(*std::move(step), steps, o.tail_mass, dl);
    if (!add.ok()) return add.status();
    out.push_back(*std::move(add));
  }
  return out;
}

}  // namespace

absl::StatusOr<double> PldDelta(double q, double z, int64_t steps, double epsilon,
                                PldDirection direction, const PldOptions& options) {
  if (absl::Status s = CheckArgs(q, z, steps, options); !s.ok()) return s;
  if (!(epsilon >= 0) || !std::isfinite(epsilon)) {
    return absl::InvalidArgumentError(
        absl::StrCat("epsilon must be finite and >= 0, got ", epsilon));
  }
  if (steps == 0) return 0.0;
  auto composed = Composed(q, z, steps, direction, options);
  if (!composed.ok()) return composed.status();
  double delta = 0;
  for (const Pmf& pmf : *composed) {
    delta = std::max(delta, DeltaAt(pmf, epsilon, options.value_discretization));
  }
  return std::min(1.0, delta);
}

absl::StatusOr<double> PldEpsilon(double q, double z, int64_t steps, double delta,
                                  const PldOptions& options) {
  if (absl::Status s = CheckArgs(q, z, steps, options); !s.ok()) return s;
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("delta must be in (0, 1), got ", delta));
  }
  if (steps == 0) return 0.0;
  auto composed = Composed(q, z, steps, PldDirection::kBoth, options);
  if (!composed.ok()) return composed.status();
  double epsilon = 0;
  for (const Pmf& pmf : *composed) {
    if (pmf.infinite > delta) {
      return absl::OutOfRangeError(absl::StrCat("delta ", delta, " is below the PLD's mass at "
                                                "infinite loss (", pmf.infinite, ")"));
    }
    const double dl = options.value_discretization;
    if (DeltaAt(pmf, 0, dl) <= delta) continue;  // ε = 0 suffices in this direction
    double lo = 0;
    double hi = static_cast<double>(pmf.offset + static_cast<int64_t>(pmf.p.size())) * dl;
    while (hi - lo > 1e-10) {
      const double mid = 0.5 * (lo + hi);
      (DeltaAt(pmf, mid, dl) <= delta ? hi : lo) = mid;
    }
    epsilon = std::max(epsilon, hi);
  }
  return epsilon;
}

}  // namespace tailor
