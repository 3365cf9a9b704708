#!/usr/bin/env bash
# Two omnigate binaries against each other, in one run on this machine (loopback only): the same
# standalone simulator upstream, the same book (perf/omnigate-perf.toml), the load generator in
# closed loop, rounds alternating A, B, A, B, … so that drift of a noisy machine falls on both.
# Prints each round and, per binary, the median req/s and p99, and B/A.
#
# Usage: perf/ab.sh A_BINARY B_BINARY [rounds] [seconds] [concurrency] [fsync]
#   e.g. perf/ab.sh /tmp/before/omnigate target/release/omnigate 3 10 16 off
# B_CONFIG, when set, is appended to B's config only (keys A may not know), e.g.
#   B_CONFIG=$'[audit]\ndir = "/dev/shm/omnigate-audit"' perf/ab.sh …
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?the first omnigate binary}
b=${2:?the second omnigate binary}
rounds=${3:-3}
seconds=${4:-10}
concurrency=${5:-16}
fsync=${6:-always}
customers=$(seq -f 'PERF%04g' 0 15 | paste -sd, -)
cargo build --release --quiet --example loadgen
loadgen=target/release/examples/loadgen
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp perf/omnigate-perf.toml perf/instruments.jsonl perf/customers.jsonl "$work/"
sed -i "s/^fsync = .*/fsync = \"$fsync\"/" "$work/omnigate-perf.toml"
cp "$work/omnigate-perf.toml" "$work/omnigate-b.toml"
printf '\n%s\n' "${B_CONFIG:-}" >>"$work/omnigate-b.toml"

# shellcheck source=perf/lib.sh
. perf/lib.sh

# One round of one binary: a fresh simulator (its book grows with every order) and WAL, the omni
# account funded, the load; prints "req/s p99_us errors".
round() {
    rm -rf "$work/perf-data"
    "$b" sim --config perf/sim.toml --listen 127.0.0.1:19090 >/dev/null 2>&1 &
    local simulator=$!
    wait_for_port 19090 || { echo "0 ? ?"; return; }
    "$1" run --config "$work/$2" >/dev/null 2>&1 &
    local gateway=$!
    wait_for_port 18080 || { kill "$simulator"; echo "0 ? ?"; return; }
    curl -sf -X POST http://127.0.0.1:18081/admin/omni/cash \
        -H 'authorization: Bearer perf-admin-token-0123456789' \
        -H 'content-type: application/json' -d '{"amount":"1000000000"}' >/dev/null
    local report
    report=$("$loadgen" --target http://127.0.0.1:18080 --concurrency "$concurrency" \
        --seconds "$seconds" --customers "$customers" 2>/dev/null)
    kill "$gateway" "$simulator"
    wait "$gateway" "$simulator" 2>/dev/null || true
    local rate p99 errors
    rate=$(sed -n 's/^requests .* = \([0-9]*\) req\/s$/\1/p' <<<"$report")
    p99=$(sed -n 's/^latency p99 *\([0-9]*\) µs$/\1/p' <<<"$report")
    errors=$(sed -n 's/^errors *\([0-9]*\) .*/\1/p' <<<"$report")
    echo "${rate:-0} ${p99:-?} ${errors:-?}"
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "A = $a"
echo "B = $b"
echo "closed loop, c=$concurrency, ${seconds} s a round, wal.fsync = $fsync, $rounds round(s) each"
a_rates=() b_rates=()
for n in $(seq 1 "$rounds"); do
    read -r rate p99 errors <<<"$(round "$a" omnigate-perf.toml)"
    echo "round $n A: $rate req/s, p99 $p99 µs, $errors errors"
    ((rate > 0 && errors == 0)) || { echo "round $n A: not a clean run" >&2; exit 1; }
    a_rates+=("$rate")
    read -r rate p99 errors <<<"$(round "$b" omnigate-b.toml)"
    echo "round $n B: $rate req/s, p99 $p99 µs, $errors errors"
    ((rate > 0 && errors == 0)) || { echo "round $n B: not a clean run" >&2; exit 1; }
    b_rates+=("$rate")
done
a_median=$(printf '%s\n' "${a_rates[@]}" | median)
b_median=$(printf '%s\n' "${b_rates[@]}" | median)
echo "median A: $a_median req/s; median B: $b_median req/s; B/A = $(awk -v a="$a_median" -v b="$b_median" 'BEGIN {printf "%.3f", b / a}')"
