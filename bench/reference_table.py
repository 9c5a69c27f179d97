#!/usr/bin/env python3
"""Prints the reference-benchmark table (accuracy every 5 rounds, seconds per round) from the
metrics.jsonl files of `tailor simulate` runs, beside PFLlib's curves measured on the same
machine class (issue #2) and its published best-of-2000-rounds numbers.

  python3 bench/reference_table.py runs/reference_fedavg runs/reference_fedper runs/reference_local
"""
import json
import statistics
import sys

# PFLlib's own curves for this setup on a 2-core machine (Debian python3-torch), rounds 1/5/10/15/20.
PFLLIB_CURVES = {
    "fedper": {1: 84.8, 5: 94.5, 10: 95.3, 15: 95.7, 20: 95.8},
    "fedavg": {1: 25.4, 5: 52.3, 10: 63.8, 15: 66.8, 20: 68.9},
}
PFLLIB_PUBLISHED = {"fedavg": 85.85, "fedper": 97.44}


def load(run_dir):
    with open(run_dir.rstrip("/") + "/metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    rows = []
    for run_dir in sys.argv[1:]:
        records = load(run_dir)
        name = records[0]["run"]
        algo = next((a for a in ("fedavg", "fedper", "local") if a in name), name)
        acc = {r["round"]: 100 * r["eval"]["personalized_accuracy"] for r in records if "eval" in r}
        train = [r["train_seconds"] for r in records]
        rounds = sorted(acc)
        marks = [1] + [r for r in rounds if r % 5 == 0]
        print(f"\n### {name} ({len(records)} rounds, median {statistics.median(train):.1f} s of "
              f"training + {statistics.median(r['eval_seconds'] for r in records):.1f} s of "
              f"evaluation per round)\n")
        print("| round | Tailor acc % | PFLlib acc % (same machine class) | Tailor − PFLlib |")
        print("|---:|---:|---:|---:|")
        for m in marks:
            ref = PFLLIB_CURVES.get(algo, {}).get(m)
            diff = f"{acc[m] - ref:+.2f}" if ref is not None else ""
            print(f"| {m} | {acc[m]:.2f} | {ref if ref is not None else ''} | {diff} |")
        best_round = max(rounds, key=lambda r: acc[r])
        first96 = next((r for r in rounds if acc[r] >= 96.0), None)
        rows.append((name, acc[best_round], best_round, first96, PFLLIB_PUBLISHED.get(algo)))
    print("\n| run | best acc % (round) | first round >= 96% | PFLlib published (best of 2000) |")
    print("|---|---:|---:|---:|")
    for name, best, best_round, first96, pub in rows:
        print(f"| {name} | {best:.2f} ({best_round}) | {first96 or '-'} | {pub or '-'} |")


if __name__ == "__main__":
    main()
