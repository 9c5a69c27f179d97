#!/usr/bin/env bash
# Issue 17, acceptance 4: FedPer on the reference benchmark with secure aggregation gives the
# same accuracy as without (same seed; the unmasked sum is the plain weighted mean's, bit for
# bit). Runs the reference config plain, with SecAgg and with SecAgg+ (no dropouts, a clip norm
# the updates never reach), then compares every round's accuracy and the final model's bytes.
#   bash bench/secagg_reference.sh [BUILD_DIR] [ROUNDS] [OUT_DIR]
set -euo pipefail
build=${1:-build}
rounds=${2:-20}
out=${3:-runs/secagg_reference}
tailor=$build/tools/tailor
mkdir -p "$out"
run() {  # name, extra overrides
  local name=$1 extra=${2:-}
  "$tailor" simulate --config configs/reference_fedper.textproto \
    --set "name=$name,output_dir=$out/$name,rounds=$rounds${extra:+,$extra}" >"$out/$name.log" 2>&1
  tail -n 12 "$out/$name.log" | grep -E "secure aggregation|^$name " || true
}
run plain
run secagg "secure_aggregation.mode=secagg,secure_aggregation.threshold=11,secure_aggregation.clip_norm=100,secure_aggregation.max_weight=70000"
run secagg_plus "secure_aggregation.mode=secagg_plus,secure_aggregation.threshold=6,secure_aggregation.neighbours=10,secure_aggregation.clip_norm=100,secure_aggregation.max_weight=70000"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def accs(name):
    rows = [json.loads(l) for l in open(f"{out}/{name}/metrics.jsonl")]
    return {r["round"]: (r["eval"]["personalized_accuracy"], r["eval"]["client_accuracy"]) for r in rows if "eval" in r}
plain = accs("plain")
print(f"{'round':>5} {'plain %':>9} {'secagg %':>9} {'secagg+ %':>9}")
same = True
for name in ("secagg", "secagg_plus"):
    other = accs(name)
    same &= other == plain
for r in sorted(plain):
    print(f"{r:>5} {100*plain[r][0]:9.2f} {100*accs('secagg')[r][0]:9.2f} {100*accs('secagg_plus')[r][0]:9.2f}")
print("every round's accuracy (overall and per client) identical:", same)
PY
for m in secagg secagg_plus; do
  if cmp -s "$out/plain/final_shared.tlps" "$out/$m/final_shared.tlps"; then
    echo "final shared model of $m: byte-identical to plain"
  else
    echo "final shared model of $m: DIFFERS from plain (or not written)"
  fi
done
