#!/usr/bin/env bash
# Every reward-model method on the simulated users (configs/pref_demo.textproto's setup) at
# each Dirichlet concentration and seed, then one table (bench/pref_table.py): pairwise accuracy
# per user on all test pairs and on the controversial ones, the worst decile, majority and
# minority users, log-loss, and the labels' ceiling, with bootstrap 95% intervals over users.
# Each run keeps its users' personal parts (OUT_DIR/<run>/personal) for bench/pref_generation.sh.
#   bash bench/pref_methods.sh [BUILD_DIR] [OUT_DIR] [ALPHAS] [SEEDS] [OVERRIDES] [METHODS]
# e.g. bash bench/pref_methods.sh build runs/pref_methods "0.05 0.3 1" "1 2 3"
# OVERRIDES: more --set fields for every run, e.g. "model.reward.pool=mean".
# METHODS: a subset of the methods below (default: all of them).
set -euo pipefail
build=${1:-build}
out=${2:-runs/pref_methods}
alphas=${3:-0.05 0.3 1}
seeds=${4:-1 2 3}
extra=${5:-}
method_list=${6:-global local fedavg_ft pal lore user rep_lore rep_user}
here=$(cd "$(dirname "$0")" && pwd)
declare -A methods=(
  [global]="algorithm.name=fedavg"
  [local]="algorithm.name=local"
  [fedavg_ft]="algorithm.name=fedavg_ft"
  [pal]="algorithm.name=fedper,model.reward.head=pal"
  [lore]="algorithm.name=fedper,model.reward.head=lore"
  [user]="algorithm.name=fedper,model.reward.head=user"
  # FedRep's order: the personal part first (body frozen), then the shared part.
  [rep_lore]="algorithm.name=fedrep,algorithm.head_epochs=2,model.reward.head=lore,model.reward.prototypes=8"
  [rep_user]="algorithm.name=fedrep,algorithm.head_epochs=2,model.reward.head=user"
)
runs=()
for alpha in $alphas; do
  for seed in $seeds; do
    for method in $method_list; do
      [[ -n ${methods[$method]:-} ]] || { echo "unknown method $method" >&2; exit 1; }
      name="a${alpha}_s${seed}_$method"
      # Finished runs already there are kept (the report is written last; remove OUT_DIR to
      # rerun them).
      if [[ -f $out/$name/report.html ]]; then runs+=("$out/$name"); continue; fi
      "$build/tools/tailor" simulate --config "$here/../configs/pref_demo.textproto" --quiet \
        --set "name=$name,seed=$seed,data.preference.alpha=$alpha,output_dir=$out/$name,${methods[$method]}" \
        --set "simulation.personal_state_dir=$out/$name/personal${extra:+,$extra}" \
        > "$out.$name.log" 2>&1 || { cat "$out.$name.log"; exit 1; }
      runs+=("$out/$name")
    done
  done
done
/usr/bin/python3 "$here/pref_table.py" "${runs[@]}"
