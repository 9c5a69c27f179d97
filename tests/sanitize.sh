#!/usr/bin/env bash
# Builds every test with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included)
# in build-asan and runs them all; a sanitizer report fails the test it happens in (UBSan does not
# recover; child processes such as `tailor coordinator` are sanitized too).
#   tests/sanitize.sh [ctest args]        # e.g. -R GrpcService
#
# ThreadSanitizer is not run: Tailor's locks are absl::Mutex, and Debian's Abseil is built
# without TSan, so TSan cannot see them and reports every access they guard as a race (a
# two-thread counter under absl::MutexLock is reported; docs/benchmarks.md "Sanitizers" has the
# command). An honest TSan run needs an instrumented Abseil, which Debian does not package.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/build-asan
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAILOR_SANITIZE=address,undefined -DTAILOR_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The fuzz smoke is its own sanitized build; the sanitized tests skip it.
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -E '^fuzz_smoke$' "$@"
