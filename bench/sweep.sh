#!/usr/bin/env bash
# Runs one config once per override set and prints a markdown table: the final accuracy (every
# client's own model on its local test set, micro), its difference to the first run, and the
# bytes clients uploaded per round as the coordinator measured them.
#   bash bench/sweep.sh BUILD_DIR CONFIG 'label=a.b=1,c=2' 'label=...' ...
# Each argument is LABEL=OVERRIDES (OVERRIDES as tailor's --set; may be empty).
set -uo pipefail
build=$1
config=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
labels=()
for spec in "$@"; do
  label=${spec%%=*}
  sets=${spec#*=}
  labels+=("$label")
  "$build/tools/tailor" simulate --config="$config" --quiet \
    --set="output_dir=$work/run${#labels[@]}${sets:+,$sets}" > "$work/run${#labels[@]}.log" 2>&1
  echo "$label exit=$?" >&2
done
/usr/bin/python3 - "$work" "${labels[@]}" <<'PY'
import json, os, sys
work, labels = sys.argv[1], sys.argv[2:]
def load(i):
    path = os.path.join(work, f"run{i}", "metrics.jsonl")
    rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    evals = [r["eval"]["personalized_accuracy"] * 100 for r in rows if "eval" in r]
    failed = "failed:" in open(os.path.join(work, f"run{i}.log")).read()
    upload = sum(r["upload_bytes"] for r in rows) / len(rows) if rows else float("nan")
    return (evals[-1] if evals else float("nan")), upload, len(rows), failed
first_acc, first_upload, _, _ = load(1)
print("| run | final accuracy | vs first | upload per round | of first | rounds |")
print("|---|---|---|---|---|---|")
for i, label in enumerate(labels, 1):
    acc, upload, rounds, failed = load(i)
    note = " (failed; last evaluation)" if failed else ""
    print(f"| {label} | {acc:.2f}%{note} | {acc - first_acc:+.2f} pts | {upload / 1e6:.2f} MB | "
          f"{upload / first_upload * 100:.1f}% | {rounds} |")
PY
