#!/usr/bin/env bash
# Rebuilds the committed seed corpora under tests/fuzz/corpus from the real encoders and the
# shipped configs. Usage: tests/fuzz/make_seeds.sh FUZZ_BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: make_seeds.sh FUZZ_BUILD_DIR}
out=$root/tests/fuzz/corpus
rm -rf "$out" && mkdir -p "$out"
"$build/tests/fuzz/seed_maker" "$out"
rm -rf "$out/.store"
mkdir -p "$out/config_fuzzer" "$out/rpc_fuzzer"
for f in "$root"/configs/*.textproto; do cp "$f" "$out/config_fuzzer/"; done
printf 'rounds=3\nname=x\n%%%%\n%s' "$(cat "$root/configs/demo_fedavg.textproto")" > "$out/config_fuzzer/with_overrides"
# RPC scripts: a byte stream the harness reads as calls; a few of each kind to start from.
for i in 0 1 2 3 4 5 6; do head -c 64 /dev/zero | tr '\0' "\\$(printf '%03o' $i)" > "$out/rpc_fuzzer/calls_$i"; done
echo "seeds in $out:"; for d in "$out"/*; do echo "  $(basename "$d"): $(ls "$d" | wc -l)"; done
