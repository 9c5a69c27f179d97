#!/usr/bin/env bash
# Builds every test with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included)
# in build-asan and runs them all; a sanitizer report fails the test it happens in (UBSan does not
# recover; child processes such as `tailor coordinator` are sanitized too).
#   tests/sanitize.sh [ctest args]          # e.g. -R GrpcService
#   tests/sanitize.sh --thread              # ThreadSanitizer, build-tsan (below)
#
# ThreadSanitizer must see every lock, and Tailor's locks are absl::Mutex: Debian's Abseil is
# built without TSan (TSan then reports every access an absl::Mutex guards as a race), so
# --thread first builds Abseil with TSan from Debian's own source package (apt-get source, the
# same version; a private apt configuration under build-tsan, nothing installed system-wide),
# then the torch-free test binaries that do not go through gRPC, with clang. gRPC's own
# threads hand calls over through its uninstrumented library, so the gRPC tests would need an
# instrumented gRPC too; they are not part of this run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --thread ]]; then
  shift
  dir=$root/build-tsan
  cxx=$(command -v clang++-14 || command -v clang++ || true)
  [[ -n $cxx ]] || { echo "sanitize.sh: --thread needs clang (deploy/install-deps.sh)" >&2; exit 2; }
  cc=${cxx/++/}
  mkdir -p "$dir"
  if [[ ! -f $dir/absl/lib/cmake/absl/abslConfig.cmake ]]; then
    # Debian's abseil source, from the archive this machine installs from.
    apt=$dir/apt && mkdir -p "$apt/lists/partial" "$apt/sources"
    uris=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
    uris=${uris:-http://deb.debian.org/debian}
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uris" > "$apt/sources/debian-src.sources"
    opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
          -o "Dir::State::Lists=$apt/lists")
    apt-get "${opts[@]}" update -q >/dev/null
    version=$(dpkg-query -W -f='${source:Version}' libabsl20220623)
    (cd "$apt" && apt-get "${opts[@]}" source --download-only "abseil=$version" >/dev/null)
    rm -rf "$dir/absl-src"
    dpkg-source -x "$apt"/abseil_*.dsc "$dir/absl-src" >/dev/null
    cmake -S "$dir/absl-src" -B "$dir/absl-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_STANDARD=17 \
      -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DABSL_PROPAGATE_CXX_STD=ON \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -g" -DCMAKE_INSTALL_PREFIX="$dir/absl" >/dev/null
    cmake --build "$dir/absl-build" -j"$(nproc)" >/dev/null
    cmake --install "$dir/absl-build" >/dev/null
  fi
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAILOR_SANITIZE=thread -DTAILOR_BUILD_BENCH=OFF \
    -DCMAKE_PREFIX_PATH="$dir/absl" -Dabsl_DIR="$dir/absl/lib/cmake/absl" >/dev/null
  # The thread pool, buffer pool, rounds, aggregation, evaluation collection, the checkpoint
  # store and the coordinator's loop and liveness (with a transport of threads).
  targets=(core_test aggregation_test server_test evaluation_test checkpoint_store_test
           coordinator_test)
  cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
  status=0
  for t in "${targets[@]}"; do
    echo "== $t"
    (cd "$root" && "$dir/tests/$t" --gtest_brief=1 "$@") || status=1
  done
  exit $status
fi
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
