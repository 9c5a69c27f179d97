#!/usr/bin/env bash
# Robust aggregation under attack (issue 4): configs/byzantine_fedavg.textproto run clean and with
# 20% of the clients uploading sign-flipped x100 updates, under each aggregation rule. Prints a
# markdown table of the final global accuracy (FedAvg training: the global model is every
# client's model) and each attacked run's distance to the clean FedAvg run.
#   bash bench/byzantine.sh [BUILD_DIR] [extra --set overrides, e.g. rounds=5]
set -uo pipefail
build=${1:-build}
extra=${2:+,$2}
tailor="$build/tools/tailor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rules="weighted_mean median trimmed_mean multi_krum krum"
for rule in $rules; do
  for fraction in 0 0.2; do
    out="$work/${rule}_${fraction}"
    # A run that diverges stops with an error; its metrics up to then are kept and reported.
    "$tailor" simulate --config=configs/byzantine_fedavg.textproto --quiet \
      --set="server.aggregator=$rule,simulation.attack.byzantine_fraction=$fraction,eval.every_rounds=1,output_dir=$out$extra" \
      > "$out.log" 2>&1
    echo "$rule attack=$fraction exit=$? $(tail -c 200 "$out.log" | tr '\n' ' ' | cut -c1-160)" >&2
  done
done
/usr/bin/python3 - "$work" $rules <<'PY'
import json, os, sys
work, rules = sys.argv[1], sys.argv[2:]
def final(rule, fraction):
    path = os.path.join(work, f"{rule}_{fraction}", "metrics.jsonl")
    rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    evals = [r for r in rows if "eval" in r]
    log = open(os.path.join(work, f"{rule}_{fraction}.log")).read()
    failed = "failed:" in log
    acc = evals[-1]["eval"]["personalized_accuracy"] * 100 if evals else float("nan")
    return acc, (len(rows) + 1 if failed else None)
clean_fedavg, _ = final("weighted_mean", "0")
print("| rule | clean | 20% sign-flip x100 | attacked - clean FedAvg |")
print("|---|---|---|---|")
for rule in rules:
    clean, _ = final(rule, "0")
    attacked, diverged = final(rule, "0.2")
    note = f" (diverged in round {diverged}; last evaluated)" if diverged else ""
    print(f"| {rule} | {clean:.2f}% | {attacked:.2f}%{note} | {attacked - clean_fedavg:+.2f} pts |")
PY
