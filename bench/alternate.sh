# Sourced by the trainer comparisons (bench/compare_trainer.sh, bench/compare_lm_trainer.sh).
# alternate LABEL UNIT REPS BENCHMARK_FILTER MIN_TIME -- BASELINE_COMMAND...
# Runs Tailor's trainer_throughput benchmark (items per second) and the baseline command (its
# last "=<number>" is its rate) alternately REPS times, then prints the medians and their ratio
# (bench/median_ratio.py): alternating keeps a noisy machine's drift on both sides.
alternate() {
  local label=$1 unit=$2 reps=$3 filter=$4 min_time=$5
  shift 6
  local tailor_runs=() python_runs=() r t p
  for ((r = 0; r < reps; r++)); do
    t=$("$build/bench/trainer_throughput" --benchmark_filter="$filter" \
          --benchmark_min_time="$min_time" --benchmark_format=json 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['benchmarks'][0]['items_per_second'])")
    p=$("$@" | sed 's/.*=//')
    tailor_runs+=("$t")
    python_runs+=("$p")
  done
  /usr/bin/python3 "$here/median_ratio.py" "$label" "$unit" "${tailor_runs[*]}" "${python_runs[*]}"
}
