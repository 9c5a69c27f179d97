#!/usr/bin/env python3
"""The algorithm table of docs/benchmarks.md: each reference run's personalized accuracy every
10 rounds, its best, PFLlib's published best-of-2000-rounds number where DESIGN.md gives one,
the gap, and the median seconds per round; then the global model's accuracy where the
algorithm has one.

  python3 bench/algorithm_table.py runs/reference_ditto runs/reference_fedbabu ...
"""
import json
import re
import statistics
import sys

# PFLlib's published accuracy on this setup (FMNIST, Dir(0.1), 20 clients, the 4-layer CNN),
# best over 2000 rounds, as DESIGN.md quotes it.
PFLLIB_PUBLISHED = {"fedavg": 85.85, "fedper": 97.44, "fedrep": 97.56, "ditto": 97.47,
                    "fedbabu": 97.46}


def load(run_dir):
    run_dir = run_dir.rstrip("/")
    with open(run_dir + "/metrics.jsonl") as f:
        records = [json.loads(line) for line in f if line.strip()]
    label = records[0]["run"]
    if label.startswith("reference_"):
        label = label[len("reference_"):]
    algorithm = label
    try:
        config = open(run_dir + "/config.resolved.textproto").read()
        m = re.search(r'algorithm \{\s*name: "(\w+)"', config)
        if m:
            algorithm = m.group(1)
    except OSError:
        pass
    return label, algorithm, records


def main():
    runs = [load(d) for d in sys.argv[1:]]
    last = max(r[-1]["round"] for _, _, r in runs)
    marks = list(range(10, last + 1, 10))
    print("| run | " + " | ".join(f"r{m}" for m in marks) +
          " | best (round) | PFLlib published | gap to it | s/round |")
    print("|---|" + "---:|" * (len(marks) + 4))
    globals_rows = []
    for label, algorithm, records in runs:
        acc = {r["round"]: 100 * r["eval"]["personalized_accuracy"] for r in records if "eval" in r}
        glob = {r["round"]: 100 * r["eval"]["global_accuracy"]
                for r in records if "eval" in r and "global_accuracy" in r["eval"]}
        best_round = max(acc, key=lambda k: acc[k])
        published = PFLLIB_PUBLISHED.get(algorithm)
        gap = f"{acc[best_round] - published:+.2f}" if published else "-"
        per_round = statistics.median(r["round_seconds"] for r in records)
        cells = [f"{acc[m]:.2f}" if m in acc else "" for m in marks]
        print(f"| {label} | " + " | ".join(cells) +
              f" | {acc[best_round]:.2f} ({best_round}) | {published or '-'} | {gap} | "
              f"{per_round:.1f} |")
        if glob and any(abs(glob[k] - acc[k]) > 1e-9 for k in glob):
            globals_rows.append((label, glob))
    if globals_rows:
        print("\nThe global model on the same test sets (before any personalization):\n")
        print("| run | " + " | ".join(f"r{m}" for m in marks) + " |")
        print("|---|" + "---:|" * len(marks))
        for algorithm, glob in globals_rows:
            print(f"| {algorithm} | " +
                  " | ".join(f"{glob[m]:.2f}" if m in glob else "" for m in marks) + " |")


if __name__ == "__main__":
    main()
