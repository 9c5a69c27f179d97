#!/usr/bin/env bash
# A coordinator and 3 clients, each in its own network namespace, joined to the coordinator's
# namespace by veth pairs (10.231.<i>.1 <-> 10.231.<i>.2), over mutual TLS. Needs root (it makes
# namespaces); elsewhere it says so and exits 77, which ctest reports as skipped.
#   tests/net/netns_test.sh TAILOR_BINARY
set -euo pipefail
tailor=${1:?usage: netns_test.sh TAILOR_BINARY}
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]] || ! ip netns add "tailor-probe-$$" 2>/dev/null; then
  echo "SKIPPED: network namespaces need root (CAP_SYS_ADMIN); run as root to include this test"
  exit 77
fi
ip netns del "tailor-probe-$$"

tag=t$$
work=$(mktemp -d)
ns_c="${tag}c"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "$ns_c" "${tag}0" "${tag}1" "${tag}2"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_c"
ip -n "$ns_c" link set lo up
for i in 0 1 2; do
  ns="${tag}$i"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "${tag}a$i" type veth peer name "${tag}b$i"
  ip link set "${tag}a$i" netns "$ns_c"
  ip link set "${tag}b$i" netns "$ns"
  ip -n "$ns_c" addr add "10.231.$i.1/30" dev "${tag}a$i"
  ip -n "$ns" addr add "10.231.$i.2/30" dev "${tag}b$i"
  ip -n "$ns_c" link set "${tag}a$i" up
  ip -n "$ns" link set "${tag}b$i" up
done

cat > "$work/exp.textproto" <<'CFG'
name: "netns"
seed: 4
rounds: 2
data { num_clients: 3 max_samples: 1200 }
train { learning_rate: 0.02 }
algorithm { name: "fedper" }
CFG
bash "$repo/deploy/make-test-certs.sh" "$work/certs" 10.231.0.1 10.231.1.1 10.231.2.1 --clients 3 >/dev/null
for i in 0 1 2; do echo "$i token-$i" >> "$work/tokens"; echo "token-$i" > "$work/token$i"; done

ip netns exec "$ns_c" "$tailor" coordinator --config="$work/exp.textproto" \
  --set="output_dir=$work/coord" --listen=0.0.0.0:50051 --client_tokens="$work/tokens" \
  --long_poll_s=2 --round_timeout_s=120 --tls_cert="$work/certs/coordinator.crt" \
  --tls_key="$work/certs/coordinator.key" --tls_ca="$work/certs/ca.crt" > "$work/coord.log" 2>&1 &
coord=$!
pids+=("$coord")
for i in 0 1 2; do
  ip netns exec "${tag}$i" "$tailor" client --config="$work/exp.textproto" \
    --coordinator="10.231.$i.1:50051" --client_id=$i --token_file="$work/token$i" \
    --state_dir="$work/state$i" --tls_ca="$work/certs/ca.crt" \
    --tls_cert="$work/certs/client-$i.crt" --tls_key="$work/certs/client-$i.key" \
    > "$work/client$i.log" 2>&1 &
  pids+=("$!")
done

# The experiment must finish by itself; a bounded wait, then a verdict.
for _ in $(seq 1 900); do
  kill -0 "$coord" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$coord" 2>/dev/null; then
  echo "FAIL: coordinator still running after 180 s"; cat "$work/coord.log"; exit 1
fi
wait "$coord" || { echo "FAIL: coordinator exited non-zero"; cat "$work/coord.log"; exit 1; }
rounds=$(grep -c '"round":' "$work/coord/metrics.jsonl")
if [[ $rounds -ne 2 ]]; then echo "FAIL: $rounds rounds recorded"; cat "$work/coord.log"; exit 1; fi
for i in 0 1 2; do
  [[ -f "$work/state$i/netns/client-$i.tlps" ]] || { echo "FAIL: client $i kept no personal state"; cat "$work/client$i.log"; exit 1; }
done
echo "netns: OK, coordinator + 3 clients in separate namespaces over veth and mTLS completed 2 rounds"
