#!/usr/bin/python3
"""The preference table of docs/benchmarks.md from bench/pref_methods.sh's runs. Run names are
a<alpha>_s<seed>_<method>. Per user (a training client): pairwise accuracy of its own reward
model on its test pairs, and on the controversial ones (the view "controversial": pairs at least
a quarter of the population prefers each way). Per (alpha, method), over every seed's users
pooled: the mean with a bootstrap 95% interval (2000 resamples of users, seeded), the worst
decile's mean, majority and minority users' means, the mean log-loss per pair (nats), and the
labels' ceiling (the best accuracy any model can reach, from data.txt). When the runs held users
out with few-shot points (eval.new_client_shots), a second table: the held-out users' accuracy
after fitting on n of their pairs, per n, pooled the same way.
  bench/pref_table.py RUN_DIR [RUN_DIR...]"""
import json
import random
import re
import statistics
import sys


def load(run):
    last = None
    for line in open(f"{run}/metrics.jsonl"):
        r = json.loads(line)
        if "eval" in r:
            last = r
    e = last["eval"]
    users, ceiling = [], None
    for line in open(f"{run}/data.txt"):
        if line.startswith("#"):
            m = re.search(r"best possible test accuracy ([0-9.]+)", line)
            if m:
                ceiling = float(m.group(1))
            continue
        users.append("(minority)" in line)
    accuracy = e["client_pair_accuracy"]
    view = e.get("views", {}).get("controversial", {}).get("client_pair_accuracy", {})
    controversial = [view.get(str(i)) for i in range(len(accuracy))]
    # Held-out users' few-shot points: views "shots_<n>", per client id.
    fewshot = {}
    for view, v in last.get("new_clients", {}).get("views", {}).items():
        if view.startswith("shots_"):
            fewshot[int(view[len("shots_"):])] = list(v["client_pair_accuracy"].values())
    name = run.rstrip("/").split("/")[-1]
    alpha, seed, method = re.match(r"a([0-9.]+)_s([0-9]+)_(.+)", name).groups()
    return dict(alpha=alpha, seed=seed, method=method, accuracy=accuracy,
                controversial=controversial, minority=users[:len(accuracy)],
                loss=e.get("test_loss"), ceiling=ceiling, fewshot=fewshot)


def interval(values, rng):
    means = sorted(statistics.mean(rng.choices(values, k=len(values))) for _ in range(2000))
    return means[int(0.025 * len(means))], means[int(0.975 * len(means)) - 1]


def cell(values, rng):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    lo, hi = interval(values, rng)
    return f"{100 * statistics.mean(values):.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def main():
    runs = [load(r) for r in sys.argv[1:]]
    rng = random.Random(1)
    print("| alpha | method | all pairs | controversial | worst 10% | majority | minority |"
          " log-loss | ceiling |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in runs:
        groups.setdefault((r["alpha"], r["method"]), []).append(r)
    for (alpha, method), rs in groups.items():
        acc = [a for r in rs for a in r["accuracy"]]
        con = [c for r in rs for c in r["controversial"]]
        major = [a for r in rs for a, m in zip(r["accuracy"], r["minority"]) if not m]
        minor = [a for r in rs for a, m in zip(r["accuracy"], r["minority"]) if m]
        worst = sorted(acc)[:max(1, len(acc) // 10)]
        loss = statistics.mean(r["loss"] for r in rs)
        ceiling = statistics.mean(r["ceiling"] for r in rs if r["ceiling"] is not None)
        print(f"| {alpha} | {method} | {cell(acc, rng)} | {cell(con, rng)} | "
              f"{100 * statistics.mean(worst):.1f} | {cell(major, rng)} | {cell(minor, rng)} | "
              f"{loss:.3f} | {100 * ceiling:.1f} |")
    shots = sorted({n for r in runs for n in r["fewshot"]})
    if not shots:
        return
    held_out = max(len(r["fewshot"][shots[0]]) for r in runs if r["fewshot"])
    print(f"\nHeld-out users ({held_out} a run), accuracy after fitting on n pairs:\n")
    print("| alpha | method | " + " | ".join(f"n = {n}" for n in shots) + " |")
    print("|---|---|" + "---|" * len(shots))
    for (alpha, method), rs in groups.items():
        cells = [cell([a for r in rs for a in r["fewshot"].get(n, [])], rng) for n in shots]
        print(f"| {alpha} | {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
