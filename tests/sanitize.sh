#!/usr/bin/env bash
# Builds every test with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included)
# in build-asan and runs them all; a sanitizer report fails the test it happens in (UBSan does not
# recover; child processes such as `tailor coordinator` are sanitized too).
#   tests/sanitize.sh [ctest args]          # e.g. -R GrpcService
#   tests/sanitize.sh --thread              # ThreadSanitizer, build-tsan (below)
#
# ThreadSanitizer must see every lock and every atomic. Tailor's locks are absl::Mutex, and
# gRPC hands calls between its threads through its own locks and atomics: Debian builds both
# without TSan (TSan then reports every access they order as a race), so --thread first builds
# Abseil and gRPC with TSan from Debian's own source packages (apt-get source, the installed
# versions; a private apt configuration under build-tsan, nothing installed system-wide; about
# an hour of CPU the first time, reused after), then Tailor's torch-free tests with clang:
# the thread pool, rounds, aggregation, evaluation, the checkpoint store, the coordinator, and
# the gRPC service, its keepalive, /metrics and durability tests over a real loopback server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --thread ]]; then
  shift
  dir=$root/build-tsan
  cxx=$(command -v clang++-14 || command -v clang++ || true)
  [[ -n $cxx ]] || { echo "sanitize.sh: --thread needs clang (deploy/install-deps.sh)" >&2; exit 2; }
  cc=${cxx/++/}
  mkdir -p "$dir"
  apt=$dir/apt
  opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
        -o "Dir::State::Lists=$apt/lists")
  # Unpacks Debian's source of the installed package $2 (source package $1) into $3.
  debian_source() {
    if [[ ! -d $apt/lists/partial ]]; then
      mkdir -p "$apt/lists/partial" "$apt/sources"
      local uris
      uris=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
      uris=${uris:-http://deb.debian.org/debian}
      printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uris" > "$apt/sources/debian-src.sources"
      apt-get "${opts[@]}" update -q >/dev/null
    fi
    local version
    version=$(dpkg-query -W -f='${source:Version}' "$2")
    (cd "$apt" && apt-get "${opts[@]}" source --download-only "$1=$version" >/dev/null)
    rm -rf "$3"
    dpkg-source -x "$apt/$1_${version#*:}.dsc" "$3" >/dev/null
  }
  tsan_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc"
              -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON
              "-DCMAKE_CXX_FLAGS=-fsanitize=thread -gline-tables-only"
              "-DCMAKE_C_FLAGS=-fsanitize=thread -gline-tables-only")
  command -v ccache >/dev/null && tsan_flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [[ ! -f $dir/absl/lib/cmake/absl/abslConfig.cmake ]]; then
    debian_source abseil libabsl20220623 "$dir/absl-src"
    cmake -S "$dir/absl-src" -B "$dir/absl-build" "${generator[@]}" "${tsan_flags[@]}" \
      -DABSL_PROPAGATE_CXX_STD=ON -DCMAKE_INSTALL_PREFIX="$dir/absl" >/dev/null
    cmake --build "$dir/absl-build" -j"$(nproc)" >/dev/null
    cmake --install "$dir/absl-build" >/dev/null
  fi
  if [[ ! -f $dir/grpc/lib/cmake/grpc/gRPCConfig.cmake ]]; then
    # gRPC's own dependencies stay Debian's (protobuf, c-ares, re2, OpenSSL, zlib): they take
    # no part in handing calls between threads.
    debian_source grpc libgrpc29 "$dir/grpc-src"
    providers=()
    for p in ABSL CARES PROTOBUF RE2 SSL ZLIB; do providers+=(-DgRPC_${p}_PROVIDER=package); done
    plugins=()
    for p in CPP CSHARP NODE OBJECTIVE_C PHP PYTHON RUBY; do plugins+=(-DgRPC_BUILD_GRPC_${p}_PLUGIN=OFF); done
    cmake -S "$dir/grpc-src" -B "$dir/grpc-build" "${generator[@]}" "${tsan_flags[@]}" \
      "${providers[@]}" "${plugins[@]}" -DgRPC_BUILD_TESTS=OFF -DgRPC_BUILD_CSHARP_EXT=OFF \
      -Dabsl_DIR="$dir/absl/lib/cmake/absl" -DCMAKE_INSTALL_PREFIX="$dir/grpc" >/dev/null
    cmake --build "$dir/grpc-build" -j"$(nproc)" >/dev/null
    cmake --install "$dir/grpc-build" >/dev/null
  fi
  cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAILOR_SANITIZE=thread -DTAILOR_BUILD_BENCH=OFF \
    -DCMAKE_PREFIX_PATH="$dir/grpc;$dir/absl" -Dabsl_DIR="$dir/absl/lib/cmake/absl" \
    -DgRPC_DIR="$dir/grpc/lib/cmake/grpc" >/dev/null
  targets=(core_test aggregation_test server_test evaluation_test checkpoint_store_test
           coordinator_test grpc_service_test keepalive_test metrics_http_test
           rejected_input_durability_test)
  cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
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
