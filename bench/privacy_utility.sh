#!/usr/bin/env bash
# Privacy-utility: configs/privacy_fedper.textproto (1,000 clients, Dirichlet(0.5), 100 rounds of
# about 100 clients) without DP and with client-level DP at epsilon 1, 3 and 8 (delta 1e-5, RDP
# accountant, the noise multiplier derived from the target over the 100 rounds, adaptive
# clipping to the median update norm), for FedPer (personalized accuracy: each client's own head
# on the shared body) and FedAvg (the global model's accuracy). Two reference rows: local-only
# training (what FedPer's heads reach with no federation at all) and FedAvg with DP's clipping,
# Poisson sampling and unweighted mean but negligible noise (z = 0.001), which separates the
# cost of the noise from the change of aggregation.
# Prints a markdown table; every run's metrics.jsonl and accuracy.svg stay under OUT.
#   bash bench/privacy_utility.sh BUILD_DIR [OUT=runs/privacy_utility]
set -uo pipefail
build=$1
out=${2:-runs/privacy_utility}
config=configs/privacy_fedper.textproto
mkdir -p "$out"
# The benchmark measures accuracy under DP, which epsilon does not cover: it opts in to releasing it.
dp="privacy.clip_norm=0.5,privacy.sampling_rate=0.1,privacy.adaptive_clipping.enabled=true,privacy.release_unprotected_metrics=true"
specs=()
for algorithm in fedper fedavg; do
  specs+=("${algorithm}_no-dp|algorithm.name=$algorithm")
  for eps in 1 3 8; do
    specs+=("${algorithm}_eps-$eps|algorithm.name=$algorithm,$dp,privacy.target_epsilon=$eps")
  done
done
specs+=("local_no-dp|algorithm.name=local")
specs+=("fedavg_clip-only|algorithm.name=fedavg,$dp,privacy.noise_multiplier=0.001")
runs=()
for spec in "${specs[@]}"; do
  label=${spec%%|*}
  sets="output_dir=$out/$label,name=$label,${spec#*|}"
  start=$(date +%s)
  "$build/tools/tailor" simulate --config="$config" --quiet --set="$sets" > "$out/$label.log" 2>&1
  echo "$label exit=$? $(( $(date +%s) - start ))s" >&2
  runs+=("$label")
done
/usr/bin/python3 - "$out" "${runs[@]}" <<'PY'
import json, os, sys
out, labels = sys.argv[1], sys.argv[2:]
print("| run | epsilon (delta 1e-5) | z | final clip norm | accuracy at round 10 / 50 / 100 "
      "| worst 10% of clients |")
print("|---|---|---|---|---|---|")
for label in labels:
    path = os.path.join(out, label, "metrics.jsonl")
    rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    if not rows:
        print(f"| {label} | failed: see {out}/{label}.log |||||")
        continue
    evals = {r["round"]: r["eval"] for r in rows if "eval" in r}
    at = lambda n: f"{evals[n]['personalized_accuracy'] * 100:.2f}" if n in evals else "-"
    p = rows[-1].get("privacy")
    eps = f"{p['epsilon']:.3g}" if p else "no DP"
    z = f"{p['noise_multiplier']:.3f}" if p else "-"
    clip = f"{p['clip_norm']:.3f}" if p else "-"
    final = evals[max(evals)]
    print(f"| {label} | {eps} | {z} | {clip} | {at(10)} / {at(50)} / {at(100)} | "
          f"{final['worst10_accuracy'] * 100:.2f}% |")
PY
