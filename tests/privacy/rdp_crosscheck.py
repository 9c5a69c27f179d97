#!/usr/bin/python3
"""Cross-checks Tailor's RDP accountant against an independent high-precision computation.

For each (q, z) of a grid, the accountant (through tests/privacy/accountant_dump) gives the RDP of one step of the
Poisson-subsampled Gaussian at every default order. This script recomputes each value with
mpmath at 40 significant digits:
  - integer orders: the binomial closed form
      A_a = sum_k C(a,k) (1-q)^(a-k) q^k exp((k^2 - k) / (2 z^2)),
  - fractional orders: the defining integral
      A_a = E_{x~N(0,z^2)} [((1-q) + q exp((2x - 1) / (2 z^2)))^a]
    by mpmath's tanh-sinh quadrature, split at the integrand's two bumps (x ~ 0 and x ~ a),
and RDP = log(A_a) / (a - 1). Every value must agree to 1e-6 relative (acceptance point 1 of
the privacy issue). Then, for every rounds in ROUNDS and delta in DELTAS, the accountant's
epsilon (SubsampledGaussianEpsilon) must be within 1e-4 relative of the epsilon the exact curve
gives with the same conversion (Balle et al. 2020), and never below it.

usage: rdp_crosscheck.py ACCOUNTANT_DUMP [--quick]
  --quick: 3 of the 30 (q, z) pairs, for CI; the full grid is what docs/privacy.md reports.
"""
import json
import subprocess
import sys

from mpmath import mp, mpf, quad, exp, log, binomial, sqrt, pi, inf

mp.dps = 30

QS = [1e-3, 0.01, 0.05, 0.2, 0.6, 1.0]
ZS = [0.5, 0.8, 1.0, 2.0, 5.0]
ROUNDS = [1, 10, 100, 1000, 10000]
DELTAS = [1e-5, 1e-6]
RDP_TOLERANCE = 1e-6
EPSILON_TOLERANCE = 1e-4


def log_a_integer(q, z, a):
    q, z = mpf(q), mpf(z)
    total = mpf(0)
    for k in range(a + 1):
        total += binomial(a, k) * (1 - q) ** (a - k) * q ** k * exp((k * k - k) / (2 * z * z))
    return log(total)


def log_a_fractional(q, z, a):
    q, z, a = mpf(q), mpf(z), mpf(a)

    def integrand(x):
        return ((1 - q) + q * exp((2 * x - 1) / (2 * z * z))) ** a * \
            exp(-x * x / (2 * z * z)) / (sqrt(2 * pi) * z)

    points = sorted({-20 * z, mpf(0), mpf(0.5), a - 10 * z, a, a + 10 * z})
    return log(quad(integrand, [-inf] + points + [inf]))


def exact_rdp(q, z, alpha):
    a = int(alpha)
    if a == alpha:
        return log_a_integer(q, z, a) / (alpha - 1)
    return log_a_fractional(q, z, alpha) / (mpf(alpha) - 1)


def epsilon_from_curve(orders, curve, rounds, delta):
    best = None
    for alpha, rdp in zip(orders, curve):
        alpha = mpf(alpha)
        eps = rounds * rdp + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
        best = eps if best is None or eps < best else best
    return max(best, mpf(0))


def run(binary, q, z):
    out = subprocess.run([binary, repr(q), repr(z), ",".join(map(str, ROUNDS)),
                          ",".join(map(repr, DELTAS))], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    binary = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    pairs = [(q, z) for q in QS for z in ZS]
    if quick:
        # The corners and the middle: smallest and largest q and z, and the largest RDP.
        pairs = [(1e-3, 5.0), (1.0, 0.5), (0.2, 1.0)]
    worst_rdp = (0.0, None)
    worst_eps = (0.0, None)
    failures = []
    for q, z in pairs:
        got = run(binary, q, z)
        orders, curve = got["orders"], got["rdp"]
        mine_eps = {(r, d): e for r, d, e in got["epsilon"]}
        exact = [exact_rdp(q, z, alpha) for alpha in orders]
        for alpha, mine, want in zip(orders, curve, exact):
            rel = abs(mpf(mine) - want) / abs(want)
            if rel > worst_rdp[0]:
                worst_rdp = (float(rel), (q, z, alpha))
            if rel > RDP_TOLERANCE:
                failures.append(f"RDP q={q} z={z} order={alpha}: {mine} vs exact {want}")
        for rounds in ROUNDS:
            for delta in DELTAS:
                want = epsilon_from_curve(orders, exact, rounds, mpf(delta))
                mine = mine_eps[(rounds, delta)]
                rel = abs(mpf(mine) - want) / want if want > 0 else abs(mpf(mine))
                if rel > worst_eps[0]:
                    worst_eps = (float(rel), (q, z, rounds, delta))
                if rel > EPSILON_TOLERANCE or mpf(mine) < want * (1 - mpf(10) ** -12):
                    failures.append(f"epsilon q={q} z={z} rounds={rounds} delta={delta}: "
                                    f"{mine} vs exact {want}")
    print(f"{len(pairs)} (q, z) pairs x {len(orders)} orders; "
          f"{len(pairs) * len(ROUNDS) * len(DELTAS)} epsilons")
    print(f"worst RDP relative error:     {worst_rdp[0]:.3e} at (q, z, order) = {worst_rdp[1]}")
    print(f"worst epsilon relative error: {worst_eps[0]:.3e} at (q, z, rounds, delta) = "
          f"{worst_eps[1]}")
    for f in failures[:20]:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
