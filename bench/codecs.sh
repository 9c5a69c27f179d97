#!/usr/bin/env bash
# Upload codecs (issue 4): configs/codec_fedavg.textproto once per codec. Prints a markdown table
# of the final global accuracy and the bytes clients uploaded per round (measured by the
# coordinator: the accepted updates' size on the wire), against the uncompressed run.
#   bash bench/codecs.sh [BUILD_DIR] [extra --set overrides]
set -uo pipefail
build=${1:-build}
extra=${2:+,$2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs="none fp16 bf16 int8 topk:0.1 topk:0.01"
for run in $runs; do
  codec=${run%%:*}
  fraction=${run#*:}
  [ "$fraction" = "$run" ] && fraction=0.01
  "$build/tools/tailor" simulate --config=configs/codec_fedavg.textproto --quiet \
    --set="upload.codec=$codec,upload.topk_fraction=$fraction,output_dir=$work/$run$extra" \
    > "$work/$run.log" 2>&1
  echo "$run exit=$?" >&2
done
/usr/bin/python3 - "$work" $runs <<'PY'
import json, os, sys
work, runs = sys.argv[1], sys.argv[2:]
def load(run):
    rows = [json.loads(l) for l in open(os.path.join(work, run, "metrics.jsonl"))]
    acc = [r["eval"]["personalized_accuracy"] * 100 for r in rows if "eval" in r][-1]
    return acc, sum(r["upload_bytes"] for r in rows) / len(rows)
base_acc, base_bytes = load("none")
print("| codec | accuracy after 20 rounds | vs none | upload per round | of none |")
print("|---|---|---|---|---|")
for run in runs:
    acc, per_round = load(run)
    name = run.replace(":", " ") if run.startswith("topk") else run
    print(f"| {name} | {acc:.2f}% | {acc - base_acc:+.2f} pts | {per_round / 1e6:.2f} MB | "
          f"{per_round / base_bytes * 100:.1f}% |")
PY
