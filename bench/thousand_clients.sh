#!/usr/bin/env bash
# 1,000 concurrent lightweight clients against a real coordinator process on loopback: each
# client is the real daemon (its own connection, long polls, heartbeats) in a thread of one
# swarm process, with a parameter-only trainer (configs/bench_swarm.textproto: mlp_small,
# constant_delta). Prints each round's time and the coordinator's peak RSS.
#   bash bench/thousand_clients.sh [BUILD_DIR] [CLIENTS]
set -euo pipefail
build=${1:-build}
n=${2:-1000}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
for i in $(seq 0 $((n - 1))); do echo "$i tok$i"; done > "$work/tokens"
/usr/bin/time -f "%M" -o "$work/coord.rss" "$build/tools/tailor" coordinator \
  --config=configs/bench_swarm.textproto --set="output_dir=$work/coord" \
  --set="data.num_clients=$n" --listen="127.0.0.1:$port" --client_tokens="$work/tokens" \
  --long_poll_s=10 --rate_limit=0 > "$work/coord.log" 2>&1 &
coord=$!
pids+=("$coord")
start=$(date +%s.%N)
"$build/bench/client_swarm" --config=configs/bench_swarm.textproto --coordinator="127.0.0.1:$port" \
  --first=0 --count="$n" --num_clients="$n" > "$work/swarm.log" 2>&1 &
pids+=("$!")
wait "$coord" || { tail -5 "$work/coord.log"; exit 1; }
end=$(date +%s.%N)
/usr/bin/python3 - "$work/coord/metrics.jsonl" "$(cat "$work/coord.rss")" "$start" "$end" "$n" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rss_mb = int(sys.argv[2]) / 1024
for r in rows:
    print(f"round {r['round']}: {r['accepted']} of {r['cohort']} "
          f"updates accepted, {r['failed']} failed; dispatch-to-aggregate {r['train_seconds']:.2f} s, "
          f"with evaluation {r['round_seconds']:.2f} s")
print(f"{sys.argv[5]} clients: whole run {float(sys.argv[4]) - float(sys.argv[3]):.1f} s "
      f"(includes the clients' start-up and joins); coordinator peak RSS {rss_mb:.0f} MB")
PY
