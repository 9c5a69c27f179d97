#!/usr/bin/env bash
# Privacy-utility: configs/privacy_fedper.textproto without DP and with client-level DP at
# epsilon 1, 3 and 8 (delta 1e-5, RDP accountant, noise multiplier derived from the target over
# the run's 100 rounds, adaptive clipping to the median update norm), for FedPer (personalized
# accuracy: each client's own head on the shared body) and FedAvg (the global model's accuracy).
# Prints a markdown table; every run's metrics.jsonl and accuracy.svg stay under OUT.
#   bash bench/privacy_utility.sh BUILD_DIR [OUT=runs/privacy_utility]
set -uo pipefail
build=$1
out=${2:-runs/privacy_utility}
config=configs/privacy_fedper.textproto
mkdir -p "$out"
dp="privacy.clip_norm=0.5,privacy.sampling_rate=0.1,privacy.adaptive_clipping.enabled=true"
runs=()
for algorithm in fedper fedavg; do
  for eps in none 1 3 8; do
    label="${algorithm}_eps_${eps}"
    sets="output_dir=$out/$label,name=$label,algorithm.name=$algorithm"
    if [[ $eps != none ]]; then sets="$sets,$dp,privacy.target_epsilon=$eps"; fi
    start=$(date +%s)
    "$build/tools/tailor" simulate --config="$config" --quiet --set="$sets" \
      > "$out/$label.log" 2>&1
    echo "$label exit=$? $(( $(date +%s) - start ))s" >&2
    runs+=("$label")
  done
done
/usr/bin/python3 - "$out" "${runs[@]}" <<'PY'
import json, os, sys
out, labels = sys.argv[1], sys.argv[2:]
print("| algorithm | epsilon (delta 1e-5) | z | final clip norm | accuracy at round 10/50/100 "
      "| final | worst 10% | s/round |")
print("|---|---|---|---|---|---|---|---|")
for label in labels:
    path = os.path.join(out, label, "metrics.jsonl")
    rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    if not rows:
        print(f"| {label} | failed: see {out}/{label}.log |||||||")
        continue
    algorithm = label.split("_")[0]
    evals = {r["round"]: r["eval"] for r in rows if "eval" in r}
    at = lambda n: f"{evals[n]['personalized_accuracy'] * 100:.2f}" if n in evals else "-"
    last = rows[-1]
    final = evals[max(evals)]
    p = last.get("privacy")
    eps = f"{p['epsilon']:.3f}" if p else "no DP"
    z = f"{p['noise_multiplier']:.3f}" if p else "-"
    clip = f"{p['clip_norm']:.3f}" if p else "-"
    per_round = last["elapsed_seconds"] / len(rows)
    print(f"| {algorithm} | {eps} | {z} | {clip} | {at(10)} / {at(50)} / {at(100)} | "
          f"{final['personalized_accuracy'] * 100:.2f}% | "
          f"{final['worst10_accuracy'] * 100:.2f}% | {per_round:.1f} |")
PY
