#!/usr/bin/env bash
# Installs the Debian 12 packages Tailor builds, tests and runs with. Idempotent and
# non-interactive: when everything is already installed it changes nothing and asks no registry.
#   bash deploy/install-deps.sh             # build + test + run
#   bash deploy/install-deps.sh --bench     # also python3-torch/numpy for bench/ comparisons
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config git
  libabsl-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc
  libtorch-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsodium-dev libssl-dev libsqlite3-dev zlib1g-dev libcpp-httplib-dev nlohmann-json3-dev
  libopenblas0-openmp libblas-dev
  dataset-fashion-mnist python3-numpy python3-yaml python3-mpmath systemd iproute2 openssl
  chromium python3-pil
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  # tests/sanitize.sh --thread builds gRPC from source, whose build needs protoc's headers.
  libprotoc-dev
  # Text for the language-model workload: one client per fortune file (data/text_dataset.h).
  fortunes fortunes-de fortunes-es fortunes-it fortunes-br fortunes-pl fortunes-ru fortunes-cs
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
