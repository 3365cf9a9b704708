#!/usr/bin/env bash
# The load-generator comparison of perf/RESULTS.md, in one run on this machine (loopback only):
#   1. the simulator alone (the baseline: what HTTP and the upstream cost),
#   2. omnigate in front of it with wal.fsync = "always",
#   3. the same with wal.fsync = "off" (what durability itself costs).
# Usage: perf/run.sh [seconds per run] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
concurrency=${2:-64}
customers=$(seq -f 'PERF%04g' 0 15 | paste -sd, -)
cargo build --release --quiet --bin omnigate --example loadgen
bin=target/release/omnigate
loadgen=target/release/examples/loadgen
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp perf/omnigate-perf.toml perf/instruments.jsonl perf/customers.jsonl "$work/"

# shellcheck source=perf/lib.sh
. perf/lib.sh

"$bin" sim --config perf/sim.toml --listen 127.0.0.1:19090 >/dev/null 2>&1 &
wait_for_port 19090
echo "== simulator alone"
"$loadgen" --target http://127.0.0.1:19090 --concurrency "$concurrency" --seconds "$seconds" \
    --customers "$customers"

for fsync in always off; do
    rm -rf "$work/perf-data"
    sed -i "s/^fsync = .*/fsync = \"$fsync\"/" "$work/omnigate-perf.toml"
    "$bin" run --config "$work/omnigate-perf.toml" >/dev/null 2>&1 &
    gateway=$!
    wait_for_port 18080
    curl -sf -X POST http://127.0.0.1:18081/admin/omni/cash \
        -H 'authorization: Bearer perf-admin-token-0123456789' \
        -H 'content-type: application/json' -d '{"amount":"1000000000"}' >/dev/null
    echo "== omnigate, wal.fsync = $fsync"
    "$loadgen" --target http://127.0.0.1:18080 --concurrency "$concurrency" --seconds "$seconds" \
        --customers "$customers"
    kill "$gateway"
    wait "$gateway" || true
done
