#!/usr/bin/python3
"""Cross-checks Tailor's PLD accountant against exact hockey-stick divergences.

The privacy loss of one step of the Poisson-subsampled Gaussian has a closed-form δ(ε) (Gaussian
tail probabilities at the threshold x* where the loss equals ε). Two steps compose exactly as
  δ₂(ε) = E_{x₁~P}[δ₁(ε - L(x₁))],
one integral, computed here with mpmath. For q = 1 (no sampling) every number of steps T is
exact in closed form: the composed loss is Gaussian with μ = √T / z,
  δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2).
The accountant (tests/privacy/accountant_dump pld ...) must agree with each to RELATIVE_TOLERANCE
and never fall below it (its discretization is pessimistic by construction), in both directions
(remove: P = mixture, Q = N(0, z²); add: the reverse).

usage: pld_crosscheck.py ACCOUNTANT_DUMP
"""
import json
import subprocess
import sys

from mpmath import mp, mpf, quad, exp, log, log1p, expm1, sqrt, erfc, inf

mp.dps = 20
RELATIVE_TOLERANCE = 1e-3
EPSILONS = [0.1, 0.5, 1.0, 2.0]


def phi(x):
    return erfc(-x / sqrt(2)) / 2


def phi_c(x):
    return erfc(x / sqrt(2)) / 2


def one_step_delta(q, z, eps, direction):
    """Exact δ(ε) of one step, for any real ε."""
    q, z, eps = mpf(q), mpf(z), mpf(eps)
    s2 = z * z
    if direction == "remove":
        ratio = expm1(eps) / q
        if ratio <= -1:
            return -expm1(eps)
        x = s2 * log1p(ratio) + mpf(1) / 2
        p_tail = (1 - q) * phi_c(x / z) + q * phi_c((x - 1) / z)
        return max(mpf(0), p_tail - exp(eps) * phi_c(x / z))
    ratio = expm1(-eps) / q
    if ratio <= -1:
        return mpf(0)
    x = s2 * log1p(ratio) + mpf(1) / 2
    q_head = (1 - q) * phi(x / z) + q * phi((x - 1) / z)
    return max(mpf(0), phi(x / z) - exp(eps) * q_head)


def two_step_delta(q, z, eps, direction):
    q, z = mpf(q), mpf(z)
    s2 = z * z

    def density(x):  # of P
        g = lambda m: exp(-(x - m) ** 2 / (2 * s2)) / (sqrt(2 * mp.pi) * z)
        return (1 - q) * g(0) + q * g(1) if direction == "remove" else g(0)

    def loss(x):
        l = log1p(q * expm1((2 * x - 1) / (2 * s2)))
        return l if direction == "remove" else -l

    # δ₁ switches formula where ε - L(x₁) crosses the end of the loss range (log(1-q) for
    # remove, -log(1-q) for add): a kink the quadrature must be told about.
    points = [-10 * z, mpf(0), mpf(1), 1 + 10 * z]
    if q < 1:
        edge = log(1 - q) if direction == "remove" else -log(1 - q)
        target = eps - edge  # the loss L(x₁) at the kink
        ratio = expm1(target if direction == "remove" else -target) / q
        if ratio > -1:
            points.append(s2 * log1p(ratio) + mpf(1) / 2)
    return quad(lambda x: density(x) * one_step_delta(q, z, eps - loss(x), direction),
                [-inf] + sorted(points) + [inf])


def gaussian_delta(z, steps, eps):
    mu = sqrt(steps) / mpf(z)
    return phi(-eps / mu + mu / 2) - exp(eps) * phi(-eps / mu - mu / 2)


def main():
    binary = sys.argv[1]
    cases = []  # (q, z, steps, exact function of (eps, direction))
    for q, z in [(0.01, 1.0), (0.1, 0.8), (0.3, 2.0)]:
        cases.append((q, z, 1, lambda e, d, q=q, z=z: one_step_delta(q, z, e, d)))
        cases.append((q, z, 2, lambda e, d, q=q, z=z: two_step_delta(q, z, e, d)))
    for z, steps in [(1.0, 1), (2.0, 10), (3.0, 50)]:
        cases.append((1.0, z, steps, lambda e, d, z=z, steps=steps: gaussian_delta(z, steps, e)))
    worst = (0.0, None)
    failures = []
    for q, z, steps, exact in cases:
        out = subprocess.run([binary, "pld", repr(q), repr(z), str(steps),
                              ",".join(map(repr, EPSILONS))],
                             check=True, capture_output=True, text=True)
        got = json.loads(out.stdout)
        for direction in ("remove", "add"):
            for eps, mine in zip(EPSILONS, got[direction]):
                want = exact(eps, direction)
                if want < mpf(10) ** -12:
                    continue  # below the tail mass the accountant keeps
                rel = (mpf(mine) - want) / want
                if abs(rel) > worst[0]:
                    worst = (float(abs(rel)), (q, z, steps, direction, eps))
                if rel > RELATIVE_TOLERANCE or rel < -mpf(10) ** -9:
                    failures.append(f"q={q} z={z} T={steps} {direction} eps={eps}: "
                                    f"{mine} vs exact {mp.nstr(want, 12)}")
    print(f"{len(cases)} cases x 2 directions x {len(EPSILONS)} epsilons")
    print(f"worst relative deviation of delta: {worst[0]:.3e} at (q, z, T, direction, eps) = "
          f"{worst[1]}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
