#!/usr/bin/env bash
# The transport-only round peers are measured on: a coordinator and 10 client processes on
# loopback, a 10M-parameter float32 model, clients that return the parameters + 1e-3 without
# training (configs/bench_transport.textproto). Prints the median round time over rounds 2-6
# (dispatch to aggregated model; round 1 includes the clients' start-up) and its ratio to plain
# TCP moving the same bytes, measured in the same run (bench/tcp_round_baseline.py).
#   bash bench/transport_round.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
tailor="$build/tools/tailor"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
for i in $(seq 0 9); do echo "$i tok$i" >> "$work/tokens"; echo "tok$i" > "$work/tok$i"; done
"$tailor" coordinator --config=configs/bench_transport.textproto --set="output_dir=$work/coord" \
  --listen="127.0.0.1:$port" --client_tokens="$work/tokens" --long_poll_s=5 > "$work/coord.log" 2>&1 &
coord=$!
pids+=("$coord")
for i in $(seq 0 9); do
  "$tailor" client --config=configs/bench_transport.textproto --coordinator="127.0.0.1:$port" \
    --client_id="$i" --token_file="$work/tok$i" --state_dir="$work/state$i" > "$work/client$i.log" 2>&1 &
  pids+=("$!")
done
wait "$coord"
# The baseline, measured now on the same machine: the same bytes (the 40 MB model to each of the
# 10 clients and 40 MB back from each) moved by plain TCP on loopback and nothing else.
baseline=$(/usr/bin/python3 bench/tcp_round_baseline.py --clients 10 --model-bytes 40000000 --rounds 6)
/usr/bin/python3 - "$work/coord/metrics.jsonl" "$baseline" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
t = [r["train_seconds"] for r in rows if 2 <= r["round"] <= 6]
tcp = float(sys.argv[2])
tailor = statistics.median(t)
print(f"transport-only round, 10 clients, 10M float32 parameters: median {tailor:.3f} s "
      f"over rounds 2-6 ({', '.join(f'{x:.3f}' for x in t)}); round 1 {rows[0]['train_seconds']:.2f} s")
print(f"plain TCP moving the same bytes, same run: median {tcp:.3f} s; "
      f"Tailor takes {tailor / tcp:.2f}x the raw copy")
PY
