#!/usr/bin/env bash
# Reward-guided decoding with the reward model's key/value cache against rescoring whole texts
# at every step (`tailor generate --guidance W --guide_cache=false`), measured in the same run:
# wall time of the whole command (load, decode every user's texts, judge), transformer positions
# per text, and whether the two wrote the same texts' utilities (they must: the cache gives the
# same rewards).
#   bash bench/guided_cache.sh [BUILD_DIR] LM REWARD_RUN [GROUPS] [TOP_K]
# e.g. bash bench/guided_cache.sh build runs/pref_gen_c0/lm/pretrained.tlps \
#        runs/pref_c0/a0.3_s1_rep_user/config.resolved.textproto 4 8
set -euo pipefail
build=${1:-build}
lm=$2
reward=$3
groups=${4:-4}
top_k=${5:-8}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A seconds positions
for cache in false true; do
  start=$(date +%s%N)
  "$build/tools/tailor" generate --config "$here/../configs/lm_demo.textproto" \
    --set "model.transformer.context=128,model.initial_model=$lm,output_dir=$out/lm" \
    --reward_config "$reward" --all_users --guidance 2 --guide_top_k "$top_k" --best_of 1 \
    --groups "$groups" --max_bytes 160 --sample_seed 1000 --guide_cache=$cache \
    --selection_jsonl "$out/$cache.jsonl" > "$out/$cache.log" 2>&1 || { cat "$out/$cache.log"; exit 1; }
  seconds[$cache]=$(( ($(date +%s%N) - start) / 1000000 ))  # milliseconds
  positions[$cache]=$(/usr/bin/python3 -c "import json,sys; u=[json.loads(l) for l in open(sys.argv[1])]; print(round(sum(x['positions_per_text'] for x in u)/len(u)))" "$out/$cache.jsonl")
done
same=no
cmp -s <(sed 's/,"positions_per_text":[0-9.]*//' "$out/false.jsonl") \
       <(sed 's/,"positions_per_text":[0-9.]*//' "$out/true.jsonl") && same=yes
/usr/bin/python3 - "${seconds[false]}" "${seconds[true]}" "${positions[false]}" "${positions[true]}" "$same" <<'PY'
import sys
ms_whole, ms_cache, pos_whole, pos_cache = map(float, sys.argv[1:5])
print("| guide | seconds | positions / text |\n|---|---|---|")
print(f"| whole texts rescored | {ms_whole / 1000:.1f} | {pos_whole:.0f} |")
print(f"| key/value cache | {ms_cache / 1000:.1f} | {pos_cache:.0f} |")
print(f"speed-up {ms_whole / ms_cache:.1f}x (wall), {pos_whole / pos_cache:.1f}x (positions); "
      f"same results: {sys.argv[5]}")
PY
[[ $same == yes ]]
