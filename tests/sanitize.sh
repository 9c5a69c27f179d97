#!/usr/bin/env bash
# Builds the tests with sanitizers and runs them:
#   tests/sanitize.sh address,undefined   # ASan + UBSan (+ LeakSanitizer): every test
#   tests/sanitize.sh thread              # TSan: the tests of the concurrent parts (see below)
# Each mode has its own build directory (build-asan, build-tsan). Extra arguments go to ctest
# (e.g. -R GrpcService). Exit status is ctest's.
#
# TSan sees a happens-before edge only through synchronization it instruments or intercepts
# (pthread, std::mutex, atomics in instrumented code). Debian's Abseil is not instrumented, so a
# hand-off through absl::Mutex in a Debian .so is invisible to it; absl's own header-inline
# paths are instrumented, and the library's annotations are not. The TSan run therefore uses
# report suppressions for absl's synchronization internals only (tests/tsan.supp), never for
# Tailor code.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:?usage: sanitize.sh address,undefined|thread [ctest args]}
shift
case $mode in
  address,undefined) dir=$root/build-asan ;;
  thread) dir=$root/build-tsan ;;
  *) echo "sanitize.sh: mode is address,undefined or thread" >&2; exit 2 ;;
esac
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAILOR_SANITIZE="$mode" -DTAILOR_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
# The fuzz smoke is its own sanitized build; the sanitized tests skip it.
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -E '^fuzz_smoke$' "$@"
