#!/usr/bin/env bash
# The crash campaign (tests/net/crash_campaign.py) for FedAvg, FedAdam, FedPer, Ditto and a DP
# run: each one experiment on loopback whose coordinator is SIGKILLed at uniformly random
# moments KILLS times (and random clients CLIENT_KILLS times), then checked against the
# uninterrupted simulation. Prints one JSON line per algorithm and a markdown table.
#   bash bench/crash_campaign.sh [BUILD_DIR] [KILLS=100] [CLIENT_KILLS=40] [ROUNDS=150]
set -uo pipefail
build=${1:-build}
kills=${2:-100}
client_kills=${3:-40}
rounds=${4:-150}
out=$(mktemp)
status=0
for algorithm in fedavg fedadam fedper ditto dp; do
  /usr/bin/python3 tests/net/crash_campaign.py --tailor "$build/tools/tailor" \
    --algorithm "$algorithm" --rounds "$rounds" --coordinator-kills "$kills" \
    --client-kills "$client_kills" --seed 7 | tee -a "$out" || status=1
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| run | rounds | coordinator kills | client kills | rounds lost | duplicates | "
      "changed lines | final model = uninterrupted | longest stall (s) | all clients back after a "
      "restart (s, median / max) | checks |")
print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|")
for r in rows:
    print(f"| {r['algorithm']} | {r['rounds']} | {r['coordinator_kills']} | {r['client_kills']} | "
          f"{r['rounds_lost']} | {r['duplicates']} | {r['mismatches']} | "
          f"{'bit for bit' if r['model_bit_identical'] else 'NO'} | {r['longest_stall_s']} | "
          f"{r.get('rejoin_all_clients_s_median')} / {r.get('rejoin_all_clients_s_max')} | "
          f"{'pass' if not r['failures'] else '; '.join(r['failures'])} |")
PY
rm -f "$out"
exit $status
