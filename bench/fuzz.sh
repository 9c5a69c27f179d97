#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan; tests/fuzz) and runs each from its seed
# corpus, printing one line per target: executions, crashes, coverage (edges, features), corpus
# size and time. Crash inputs are kept under OUT/crashes/<target>/.
#   bench/fuzz.sh [--runs N] [--smoke] [--only T1,T2] [--jobs J] [--build DIR] [--out DIR]
#   --runs N     executions per target (default 10000000)
#   --smoke      10000 executions per target, for ctest (tests/CMakeLists.txt)
#   --jobs J     J fuzzing processes per target (libFuzzer's -fork=J), the runs counted over all
#                of them: the RPC target does ~800 inputs/s per core under ASan
# Exit status 1 when any target crashed or failed a property.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=10000000
build=$root/build-fuzz
out=/tmp/tailor-fuzz
only=""
jobs=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --smoke) runs=10000; shift ;;
    --only) only=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
cxx=$(command -v clang++-14 || command -v clang++ || true)
cc=$(command -v clang-14 || command -v clang || true)
[[ -n $cxx && -n $cc ]] || { echo "fuzz.sh: clang is not installed (deploy/install-deps.sh)" >&2; exit 2; }
if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$build" "${generator[@]}" -DTAILOR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fuzzers >/dev/null
targets=(config tlps shared_update codec eval_report checkpoint rpc)
[[ -n $only ]] && IFS=, read -r -a targets <<< "$only"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
failed=0
printf '%-16s %12s %8s %8s %8s %8s %8s\n' target execs crashes edges features corpus seconds
for t in "${targets[@]}"; do
  work=$out/corpus/$t crashes=$out/crashes/$t log=$out/$t.log
  mkdir -p "$work" "$crashes"
  # Per target: the RPC harness goes through gRPC, whose lazily built caches look like a leak
  # after any single input (leaks are checked by tests/sanitize.sh instead), and with its
  # coverage the entropic scheduler's bookkeeping costs more than the runs; a store file is
  # pages of 4 KiB.
  # The RPC target allocates a lot per input (protobuf, gRPC): ASan's default 256 MB quarantine of
  # freed blocks is most of its resident memory and recording each allocation's full stack most
  # of the allocator's cost; a 32 MB quarantine and 4-frame stacks keep its RSS ~110 MB and buy
  # ~10% more inputs a second (re-run a crash input alone for the full report).
  asan=$ASAN_OPTIONS
  case $t in
    rpc) extra=(-detect_leaks=0 -entropic=0 -max_len=256)
         asan+=:quarantine_size_mb=32:malloc_context_size=4 ;;
    checkpoint) extra=(-entropic=0 -max_len=65536) ;;
    *) extra=(-max_len=4096) ;;
  esac
  [[ $jobs -gt 1 ]] && extra+=(-fork="$jobs")
  start=$(date +%s)
  rc=0
  ASAN_OPTIONS=$asan "$build/tests/fuzz/${t}_fuzzer" -runs="$runs" "${extra[@]}" -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$root/tests/fuzz/corpus/${t}_fuzzer" \
    >"$log" 2>&1 || rc=$?
  seconds=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # Fork mode prints no final stats: its progress lines ("#N: cov: ...") count all jobs.
  [[ -z $execs ]] && execs=$(grep -o '^#[0-9]*:' "$log" | tail -1 | tr -d '#:')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  # (A slow-unit-* file is libFuzzer noting an input over its -report_slow_units threshold,
  # usually a loaded machine; it is not counted as a crash.)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(ls "$work" | wc -l)
  ncrash=$(ls "$crashes" | grep -vc '^slow-unit-' || true)
  if [[ $rc -ne 0 ]]; then failed=1; ncrash=$(( ncrash > 0 ? ncrash : 1 )); fi
  printf '%-16s %12s %8s %8s %8s %8s %8s\n' "$t" "${execs:-?}" "$ncrash" "${cov:-?}" "${ft:-?}" "$corpus" "$seconds"
  if [[ $rc -ne 0 ]]; then grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/    /'; fi
done
exit $failed
