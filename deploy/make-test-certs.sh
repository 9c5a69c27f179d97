#!/usr/bin/env bash
# Makes a private CA, a coordinator certificate and per-client certificates for a TEST
# deployment (or tests): deploy/make-test-certs.sh OUT_DIR [HOST ...] [--clients N]
# HOSTs become the coordinator certificate's subjectAltNames (default: localhost 127.0.0.1).
# Production deployments should use their own PKI.
set -euo pipefail
out=${1:?usage: make-test-certs.sh OUT_DIR [HOST ...] [--clients N]}
shift
hosts=()
clients=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    *) hosts+=("$1"); shift ;;
  esac
done
[[ ${#hosts[@]} -eq 0 ]] && hosts=(localhost 127.0.0.1)
mkdir -p "$out"
cd "$out"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=Tailor test CA" -keyout ca.key -out ca.crt 2>/dev/null

san=""
for h in "${hosts[@]}"; do
  if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
done
san=${san%,}

issue() {  # issue NAME CN EXT
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

issue coordinator "tailor-coordinator" "subjectAltName=$san
extendedKeyUsage=serverAuth"
for ((i = 0; i < clients; i++)); do
  issue "client-$i" "tailor-client-$i" "extendedKeyUsage=clientAuth"
done
chmod 644 ca.crt ./*.crt
echo "CA: $out/ca.crt  coordinator: $out/coordinator.{crt,key}  clients: $clients"
