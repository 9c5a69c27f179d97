#!/usr/bin/env bash
# Weighted-mean aggregation: Tailor's exact fixed-point kernel against this machine's STREAM copy
# bandwidth and against NumPy, measured in the same run. Prints a markdown table.
#   bash bench/aggregation.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grid="10:1048576 100:1048576 10:104857600 100:104857600"
"$build/bench/aggregation_bench" --benchmark_filter='StreamCopy|BM_WeightedMean' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$work/cpp.json" --benchmark_out_format=json > /dev/null
# One process per size, so each peak RSS is that size's own.
for point in $grid; do /usr/bin/python3 bench/numpy_aggregate.py "$point"; done > "$work/numpy.jsonl"
/usr/bin/python3 - "$work/cpp.json" "$work/numpy.jsonl" <<'PY'
import json, sys
cpp = json.load(open(sys.argv[1]))
numpy = {(r["k"], r["p"]): r for r in map(json.loads, open(sys.argv[2]))}
medians = [dict(b, name=b["name"].replace("tailor::", "")) for b in cpp["benchmarks"]
           if b.get("aggregate_name") == "median"]
stream = next(b for b in medians if b["name"].startswith("BM_StreamCopy"))["bytes_per_second"]
print(f"STREAM copy (median of 3): {stream / 1e9:.2f} GB/s (bytes read + written)")
print()
print("| variant | K | P | Tailor GB/s | of STREAM copy | NumPy GB/s (how) | Tailor / NumPy |")
print("|---|---|---|---|---|---|---|")
for b in medians:
    name = b["name"].split("/")[0]
    if not name.startswith("BM_WeightedMean"):
        continue
    parts = dict(x.split(":") for x in b["name"].split("/")[1:] if ":" in x)
    k, p = int(parts["K"]), int(parts["P"].split("_")[0])
    gbs = b["bytes_per_second"] / 1e9
    n = numpy[(k, p)]
    variant = {"BM_WeightedMean": "buffered, max from the wire check",
               "BM_WeightedMeanUnchecked": "buffered, reads each update twice",
               "BM_WeightedMeanUnbuffered": "folded on arrival"}[name]
    print(f"| {variant} | {k} | {p / 2**20:.0f}M | {gbs:.2f} | {gbs * 1e9 / stream * 100:.0f}% | "
          f"{n['gb_per_s']:.2f} ({n['variant']}, peak RSS {n['peak_rss_mb'] / 1024:.1f} GB) | "
          f"{gbs / n['gb_per_s']:.1f}x |")
PY
