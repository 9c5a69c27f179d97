#!/usr/bin/python3
"""The best-of-N table of docs/benchmarks.md from bench/pref_generation.sh's selection files
(a<alpha>_s<seed>_<method>.jsonl, one line per user, written by `tailor generate
--selection_jsonl`). Per method, over every seed's users pooled: the mean true utility of the
user's own reward model's picks, of the global reward model's and of a random candidate; the
normalized gain (pick - random) / (oracle - random); the share of users whose own picks beat the
global ones, than FedAvg's reward model's picks (the `global` method's file of the same alpha and
seed: the issue's global Bradley-Terry reward model, judged on the same candidates for best-of-N
rows) and than the random candidate; with bootstrap 95% intervals over users (2000 resamples,
seeded); the hacking guards: bits per byte of the picks under the language model and
distinct word bigrams among one user's picks; and the compute behind each of a user's texts
(transformer positions, from files that record it).
  bench/pref_generation_table.py FILE.jsonl [FILE.jsonl...]"""
import json
import random
import re
import statistics
import sys


def interval(values, rng):
    means = sorted(statistics.mean(rng.choices(values, k=len(values))) for _ in range(2000))
    return means[int(0.025 * len(means))], means[int(0.975 * len(means)) - 1]


def cell(values, rng, scale=1.0, digits=3):
    lo, hi = interval(values, rng)
    f = f"{{:.{digits}f}}"
    return (f"{f.format(scale * statistics.mean(values))} "
            f"[{f.format(scale * lo)}, {f.format(scale * hi)}]")


def main():
    groups = {}
    fedavg = {}  # (alpha, seed, client) -> the utility of FedAvg's reward model's picks
    for path in sys.argv[1:]:
        alpha, seed, method = re.match(r".*a([0-9.]+)_s([0-9]+)_(.+)\.jsonl$", path).groups()
        users = [dict(json.loads(l), seed=seed) for l in open(path) if l.strip()]
        groups.setdefault((alpha, method), []).extend(users)
        if method == "global":
            fedavg.update({(alpha, seed, u["client"]): u["global"] for u in users})
    rng = random.Random(1)
    print("| alpha | method | users | own picks | global picks | random | gain (own) |"
          " gain (global) | own beats global | own beats FedAvg | own beats random | bpb own / global / all |"
          " distinct-2 own / global | positions / text |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (alpha, method), users in groups.items():
        get = lambda key: [u[key] for u in users]
        beats_global = [1.0 if u["personal"] > u["global"] else 0.0 for u in users]
        versus = [(u["personal"], fedavg.get((alpha, u["seed"], u["client"]))) for u in users]
        beats_fedavg = [1.0 if own > other else 0.0 for own, other in versus if other is not None]
        fedavg_cell = (f"{cell(beats_fedavg, rng, 100, 0)}%" if len(beats_fedavg) == len(users)
                       else "-")
        beats_random = [1.0 if u["personal"] > u["random"] else 0.0 for u in users]
        positions = [u["positions_per_text"] for u in users if "positions_per_text" in u]
        compute = f"{statistics.mean(positions):.0f}" if len(positions) == len(users) else "-"
        print(f"| {alpha} | {method} | {len(users)} | {cell(get('personal'), rng)} | "
              f"{cell(get('global'), rng)} | {statistics.mean(get('random')):.3f} | "
              f"{cell(get('normalized_gain'), rng, digits=2)} | "
              f"{statistics.mean(get('global_normalized_gain')):.2f} | "
              f"{cell(beats_global, rng, 100, 0)}% | {fedavg_cell} | {cell(beats_random, rng, 100, 0)}% | "
              f"{statistics.mean(get('bpb')):.2f} / {statistics.mean(get('global_bpb')):.2f} / "
              f"{statistics.mean(get('candidates_bpb')):.2f} | "
              f"{statistics.mean(get('distinct2')):.2f} / "
              f"{statistics.mean(get('global_distinct2')):.2f} | {compute} |")


if __name__ == "__main__":
    main()
