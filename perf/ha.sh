#!/usr/bin/env bash
# What replicated mode (SPEC §12) costs the order path, in one run on this machine (loopback
# only): omnigate standalone against omnigate replicated — the leader publishing every record
# to a local nats-server (JetStream, file storage) and awaiting its acknowledgement, a follower
# applying the stream beside it — both with wal.fsync = "always", the load generator on the
# leader. Configurations alternate, round after round; each replicated run uses a stream of its
# own, so every run starts from an empty log.
# Usage: perf/ha.sh [seconds per run] [concurrency] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
concurrency=${2:-64}
rounds=${3:-3}
customers=$(seq -f 'PERF%04g' 0 15 | paste -sd, -)
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x $nats ]] || { echo "nats-server is needed (Debian package nats-server)" >&2; exit 1; }
cargo build --release --quiet --bin omnigate --example loadgen
bin=$PWD/target/release/omnigate
loadgen=$PWD/target/release/examples/loadgen
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# shellcheck source=perf/lib.sh
. perf/lib.sh
admin=(-H 'authorization: Bearer perf-admin-token-0123456789' -H 'content-type: application/json')

"$nats" -js -a 127.0.0.1 -p 14322 -sd "$work/nats" >"$work/nats.log" 2>&1 &
wait_for_port 14322
"$bin" sim --config perf/sim.toml --listen 127.0.0.1:19090 >/dev/null 2>&1 &
wait_for_port 19090

# node NAME ORDER_PORT ADMIN_PORT MODE STREAM: a folder with the perf config for one node.
node() {
    local dir=$work/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    cp perf/omnigate-perf.toml perf/instruments.jsonl perf/customers.jsonl "$dir/"
    sed -i "s/127.0.0.1:18080/127.0.0.1:$2/; s/127.0.0.1:18081/127.0.0.1:$3/" \
        "$dir/omnigate-perf.toml"
    if [[ $4 == replicated ]]; then
        printf '\n[ha]\nmode = "replicated"\nnode_id = "%s"\nnats_url = "nats://127.0.0.1:14322"\nstream = "%s"\n' \
            "$1" "$5" >>"$dir/omnigate-perf.toml"
    fi
    (cd "$dir" && exec "$bin" run --config omnigate-perf.toml >"$dir/log" 2>&1) &
    wait_for_port "$2"
    wait_for_port "$3"
}

role_of() {
    curl -sf "${admin[@]}" "http://127.0.0.1:$1/admin/health" | grep -o '"role":"[a-z]*"' || true
}

run=0
for round in $(seq 1 "$rounds"); do
    for mode in standalone replicated; do
        run=$((run + 1))
        node a 18080 18081 "$mode" "PERF_$run"
        if [[ $mode == replicated ]]; then
            for _ in $(seq 1 100); do
                [[ $(role_of 18081) == '"role":"leader"' ]] && break
                sleep 0.05
            done
            node b 18180 18181 replicated "PERF_$run"
        fi
        curl -sf -X POST "${admin[@]}" http://127.0.0.1:18081/admin/omni/cash \
            -d '{"amount":"1000000000"}' >/dev/null
        echo "== round $round: omnigate $mode, wal.fsync = always"
        "$loadgen" --target http://127.0.0.1:18080 --concurrency "$concurrency" \
            --seconds "$seconds" --customers "$customers"
        if [[ $mode == replicated ]]; then
            echo "   follower: $(curl -sf "${admin[@]}" http://127.0.0.1:18181/admin/health |
                grep -o '"applied_seq":[0-9]*'), leader: $(curl -sf "${admin[@]}" \
                http://127.0.0.1:18081/admin/health | grep -o '"applied_seq":[0-9]*')"
        fi
        kill $(jobs -p | tail -n +3) 2>/dev/null || true
        for port in 18080 18180; do
            while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done
        done
    done
done
