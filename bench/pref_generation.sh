#!/usr/bin/env bash
# Best-of-N generation for each simulated user (issue 16, part 4): a byte language model
# pretrained on the fortunes samples N candidates, and each reward run of bench/pref_methods.sh
# picks one per group with its global reward model and with each user's own
# (`tailor generate --reward_config RUN --all_users`); every pick is judged by the user's true
# utility. One table (bench/pref_generation_table.py): per method, the mean true utility of
# the personal and the global picks and of a random candidate, the normalized gain, the share
# of users whose personal picks beat the global ones (bootstrap 95% intervals over users), and
# the hacking guards (bits per byte of the picks under the language model, distinct-2). Then DPO
# rows: the same users' pairs tune the generator itself (byte_dpo: a personal adapter, or shared
# and personal ones), and each user's own model's samples are judged against the base's.
# Reward-guided decoding (ARGS, `--guidance 2`) rows for GUIDED_METHODS (the reward models
# steer each byte instead of picking among samples). Then Personalized Soups and MOD rows: an
# expert adapter per archetype, mixed for each user by its archetype weights.
#   bash bench/pref_generation.sh [BUILD_DIR] [PREF_RUNS] [OUT_DIR] [ALPHA] [SEEDS] [METHODS] [N]
#                                 [GUIDED_METHODS] [GROUPS] [USERS_SET]
# GROUPS: picks (texts) per user, each from fresh candidates (default 8). Whether a user's own
# picks beat the global ones is decided on the mean over them: with 8, the two rules often pick
# the same text in every group (a tie), even for perfect reward models (the oracle rows).
# USERS_SET: --set fields that made PREF_RUNS' users (e.g. data.preference.consensus_weight=0),
# given to the DPO and expert runs too so that they tune for the same users.
# e.g. bash bench/pref_generation.sh build runs/pref_methods runs/pref_generation 0.3 "1 2 3"
set -euo pipefail
build=${1:-build}
runs=${2:-runs/pref_methods}
out=${3:-runs/pref_generation}
alpha=${4:-0.3}
seeds=${5:-1 2 3}
methods=${6:-global fedavg_ft pal user rep_user}
n=${7:-16}
guided_methods=${8-fedavg_ft rep_user}
groups=${9:-8}
users_set=${10:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# The generator: the LM demo's tiny byte transformer pretrained on its training users'
# fortunes, with the reward models' context (128 bytes); made once.
lm=$out/lm/pretrained.tlps
lm_set="model.transformer.context=128,model.initial_model=$lm,output_dir=$out/lm"
if [[ ! -f $lm ]]; then
  "$build/tools/tailor" pretrain --config "$here/../configs/lm_demo.textproto" --quiet \
    --set "model.transformer.context=128,model.initial_model=\"\",pretrain.output=$lm,output_dir=$out/lm" \
    > "$out/pretrain.log" 2>&1 || { cat "$out/pretrain.log"; exit 1; }
fi
files=()
for seed in $seeds; do
  for method in $methods; do
    run=$runs/a${alpha}_s${seed}_$method
    [[ -f $run/config.resolved.textproto ]] || { echo "no run $run: run bench/pref_methods.sh first" >&2; exit 1; }
    "$build/tools/tailor" generate --config "$here/../configs/lm_demo.textproto" \
      --set "$lm_set" --reward_config "$run/config.resolved.textproto" \
      --all_users --best_of "$n" --groups "$groups" --max_bytes 160 --sample_seed $((1000 * seed)) \
      --selection_jsonl "$out/a${alpha}_s${seed}_$method.jsonl" > "$out/a${alpha}_s${seed}_$method.log" 2>&1 \
      || { cat "$out/a${alpha}_s${seed}_$method.log"; exit 1; }
    files+=("$out/a${alpha}_s${seed}_$method.jsonl")
    # The ceiling of the comparison, once a seed: the same candidates picked by each user's true
    # utility and by the population's mean utility (perfect personal and global reward models).
    if [[ $method == "${methods%% *}" ]]; then
      "$build/tools/tailor" generate --config "$here/../configs/lm_demo.textproto" \
        --set "$lm_set" --reward_config "$run/config.resolved.textproto" --oracle_selection \
        --all_users --best_of "$n" --groups "$groups" --max_bytes 160 --sample_seed $((1000 * seed)) \
        --selection_jsonl "$out/a${alpha}_s${seed}_oracle.jsonl" > "$out/a${alpha}_s${seed}_oracle.log" 2>&1 \
        || { cat "$out/a${alpha}_s${seed}_oracle.log"; exit 1; }
      files+=("$out/a${alpha}_s${seed}_oracle.jsonl")
    fi
    # Reward-guided decoding (ARGS) with the same reward models, for the personalized methods.
    if [[ " $guided_methods " == *" $method "* ]]; then
      "$build/tools/tailor" generate --config "$here/../configs/lm_demo.textproto" \
        --set "$lm_set" --reward_config "$run/config.resolved.textproto" \
        --all_users --guidance 2 --best_of "$n" --groups "$groups" --max_bytes 160 \
        --sample_seed $((1000 * seed)) --selection_jsonl "$out/a${alpha}_s${seed}_${method}_guided.jsonl" \
        > "$out/a${alpha}_s${seed}_${method}_guided.log" 2>&1 \
        || { cat "$out/a${alpha}_s${seed}_${method}_guided.log"; exit 1; }
      files+=("$out/a${alpha}_s${seed}_${method}_guided.jsonl")
    fi
  done
  # DPO on the generator itself: a personal adapter per user (oppu) and shared + personal
  # adapters (dual_lora, P-DPO-style), trained on the same users' pairs; each user's own tuned
  # model samples and its true utility judges (`tailor generate --all_users`). Learning rate
  # 0.01, as for the experts below (configs/pref_experts.textproto): at the reward models' 0.1
  # (momentum 0.9) the experts' DPO loss climbs (0.66 to 2.7 in 8 rounds), and these users'
  # adapters fit their 10-50 pairs (loss 0.26) while their texts' utility falls.
  for dpo in oppu dual_lora; do
    name=a${alpha}_s${seed}_dpo_$dpo
    adapters=""
    [[ $dpo == dual_lora ]] && adapters=",model.lora.personal_rank=4"
    if [[ ! -f $out/$name/report.html ]]; then
      "$build/tools/tailor" simulate --config "$here/../configs/pref_demo.textproto" --quiet \
        --set "name=$name,seed=$seed,data.preference.alpha=$alpha,output_dir=$out/$name,rounds=8" \
        --set "model.architecture=byte_dpo_tiny,model.initial_model=$lm,algorithm.name=$dpo$adapters" \
        --set "train.learning_rate=0.01" \
        --set "simulation.personal_state_dir=$out/$name/personal${users_set:+,$users_set}" \
        > "$out/$name.train.log" 2>&1 \
        || { cat "$out/$name.train.log"; exit 1; }
    fi
    "$build/tools/tailor" generate --config "$out/$name/config.resolved.textproto" --all_users \
      --best_of "$n" --groups "$groups" --max_bytes 160 --sample_seed $((1000 * seed)) \
      --selection_jsonl "$out/$name.jsonl" > "$out/$name.log" 2>&1 || { cat "$out/$name.log"; exit 1; }
    files+=("$out/$name.jsonl")
  done
  # Personalized Soups and MOD: an expert adapter per archetype trained once
  # (configs/pref_experts.textproto; its users are the archetypes, so one run a seed serves every
  # alpha), then mixed for each user by the user's archetype weights, with no training for the
  # user: merged parameters (soup) or mixed log-probabilities at each byte (mod).
  experts=$out/experts_s$seed
  if [[ ! -f $experts/report.html ]]; then
    "$build/tools/tailor" simulate --config "$here/../configs/pref_experts.textproto" --quiet \
      --set "name=experts_s$seed,seed=$seed,output_dir=$experts,model.initial_model=$lm" \
      --set "simulation.personal_state_dir=$experts/personal${users_set:+,$users_set}" \
      > "$experts.train.log" 2>&1 \
      || { cat "$experts.train.log"; exit 1; }
  fi
  users=$runs/a${alpha}_s${seed}_${methods%% *}/config.resolved.textproto
  for mix in soup mod; do
    name=a${alpha}_s${seed}_$mix
    "$build/tools/tailor" generate --config "$experts/config.resolved.textproto" \
      --users_config "$users" --all_users --mix $mix --best_of "$n" --groups "$groups" --max_bytes 160 \
      --sample_seed $((1000 * seed)) --selection_jsonl "$out/$name.jsonl" > "$out/$name.log" 2>&1 \
      || { cat "$out/$name.log"; exit 1; }
    files+=("$out/$name.jsonl")
  done
done
/usr/bin/python3 "$here/pref_generation_table.py" "${files[@]}"
