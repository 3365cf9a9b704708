#!/usr/bin/env bash
# omnigate against nginx as a plain reverse proxy, in one run on this machine (loopback only),
# every configuration measured in alternation so that drift on a shared machine hits them all:
#
#   direct               wrk straight at the upstream (a stand-in for DriveWealth: nginx answering
#                        every POST /back-office/orders 200 with a fresh orderId, as the
#                        simulator does)
#   nginx-1w, nginx-2w   nginx as a reverse proxy in front of it, 1 and 2 worker processes;
#                        the faster of the two at each concurrency is "nginx best"
#   hyper-floor          perf/bare_proxy.rs in front of it: omnigate's HTTP stack (hyper server,
#                        hyper's pooled client, one event loop per core) with nothing between
#                        (no parse, decision, log or audit); omnigate's cost is what it adds
#   omnigate-always      omnigate in front of it, wal.fsync = "always"
#   omnigate-off         the same with wal.fsync = "off" (what durability costs)
#   omnigate-off-nosnap  fsync off and wal.snapshot_every out of reach (what snapshots cost)
#   omnigate-always-nosnap  the same with fsync always
#   baseline-…           with --baseline BIN: each omnigate-… configuration measured again with
#                        the omnigate binary BIN (an earlier build), in the same rotation, so a
#                        change is compared with what it changes in one run
#
# The load is wrk posting the README's demo order with the headers of the curl that
# `omnigate run` prints (perf/wrk/order.lua), the same bytes to every configuration. Each round
# runs every configuration once at each concurrency, rotating which goes first; the table gives
# the median of the rounds. With --open-loop, perf/loadgen.rs then offers omnigate-always and
# nginx best the same fixed rate over 64 connections (default 70% of nginx best's closed-loop
# rate at c=64), once each per round, and reports latency from each request's intended send
# time, queueing included.
#
# Usage: perf/compare.sh [options] [seconds [rounds [concurrency...]]]
#   --seconds N        length of each measurement (default 10)
#   --rounds N         rounds (default 3)
#   --concurrency "L"  connections, a space-separated list (default "16 64")
#   --threads N        wrk threads (default 1: the load generator shares the cores with the
#                      servers, and one wrk thread keeps up with every configuration here)
#   --warmup N         seconds of unmeasured load before each measurement (default 1)
#   --configs "L"      measure only these configurations, a space-separated list of the names
#                      above (default: all); the open loop needs nginx-1w or nginx-2w in it, and
#                      the ratios against nginx best are left blank (—) without them
#   --open-loop        add the fixed-rate rows
#   --rate N           the open-loop rate in requests per second (implies --open-loop)
#   --smoke            every configuration once, 2 s at c=16, open loop included, no warm-up:
#                      cheap enough for CI to keep this script working (also SMOKE=1)
#   --baseline BIN     add a baseline-… row after each omnigate-… row measured, run from the
#                      omnigate binary BIN (copy an earlier build's target/release/omnigate out
#                      first)
#   --no-build         use the binaries already in target/release
#   --instructions     count instead of time: run hyper-floor and each omnigate-… / baseline-…
#                      configuration under valgrind's callgrind and report the instructions the
#                      whole server process executes per request (every thread: the order
#                      threads, the WAL and audit writers) over the measured seconds, zeroed
#                      after the warm-up. The count barely moves from run to run (±0.2 %), so a
#                      change of 1 % shows where req/s moves by 30 %; it says nothing of
#                      syscalls, wake-ups or cache misses, which req/s does. Configurations
#                      default to "hyper-floor omnigate-always"; no open loop; installs valgrind
#   --keep             keep the scratch directory (configs, logs, raw wrk output, and each open-loop
#                      run's loadgen --out files: latency.csv, latency.svg, summary.json)
# Ports: COMPARE_PORT_BASE (default 28100) and the three after it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=perf/lib.sh
. perf/lib.sh
command_line=$(printf '%q ' "$0" "$@")
command_line=${command_line% }

fail() {
    echo "compare.sh: $*" >&2
    exit 1
}

usage_error() {
    echo "compare.sh: $* (see --help)" >&2
    exit 2
}

seconds=10
rounds=3
concurrency="16 64"
threads=1
warmup=1
open_loop=0
rate=""
smoke=${SMOKE:-0}
build=1
keep=0
only=""
baseline=""
instructions=0
positional=()
while (($#)); do
    case $1 in
        --seconds | --rounds | --concurrency | --threads | --warmup | --rate | --configs | --baseline)
            (($# > 1)) || usage_error "$1 needs a value"
            ;;
    esac
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --configs) only=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        --open-loop) open_loop=1; shift ;;
        --rate) rate=$2; open_loop=1; shift 2 ;;
        --smoke) smoke=1; shift ;;
        --no-build) build=0; shift ;;
        --keep) keep=1; shift ;;
        --instructions) instructions=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *) positional+=("$1"); shift ;;
    esac
done
if ((${#positional[@]} > 0)); then seconds=${positional[0]}; fi
if ((${#positional[@]} > 1)); then rounds=${positional[1]}; fi
if ((${#positional[@]} > 2)); then concurrency="${positional[*]:2}"; fi
if [[ $smoke == 1 ]]; then
    seconds=2 rounds=1 concurrency=16 warmup=0 open_loop=1
fi
if [[ $instructions == 1 ]]; then
    open_loop=0
    only=${only:-hyper-floor omnigate-always}
    for name in $only; do
        [[ $name == hyper-floor || $name == omnigate-* ]] ||
            usage_error "--instructions counts hyper-floor and omnigate-… only, not $name"
    done
    # The warm-up is where callgrind's start-up settles; the count starts after it.
    ((warmup > 0)) || warmup=1
fi
for number in "$seconds" "$rounds" "$threads" "$warmup" $concurrency ${rate:+"$rate"}; do
    [[ $number =~ ^[0-9]+$ ]] || usage_error "'$number' is not a whole number"
done
((seconds > 0 && rounds > 0)) || usage_error "seconds and rounds must be at least 1"
[[ -n $concurrency ]] || usage_error "no concurrency to measure"
[[ -z $rate ]] || ((rate > 0)) || usage_error "--rate must be at least 1"
for c in $concurrency; do
    ((c >= threads)) || usage_error "wrk needs a connection per thread (c=$c, threads=$threads)"
done

configs=(direct nginx-1w nginx-2w hyper-floor omnigate-always omnigate-always-nosnap omnigate-off
    omnigate-off-nosnap)
if [[ -n $only ]]; then
    chosen=()
    for name in $only; do
        [[ " ${configs[*]} " == *" $name "* ]] || usage_error "no configuration '$name' (one of: ${configs[*]})"
        chosen+=("$name")
    done
    configs=("${chosen[@]}")
    if [[ $open_loop == 1 && " ${configs[*]} " != *" nginx-"* ]]; then
        usage_error "the open loop compares omnigate-always with nginx best: --configs needs nginx-1w or nginx-2w"
    fi
fi
# Each omnigate-… configuration measured gets its baseline-… twin, right after it in the rotation.
if [[ -n $baseline ]]; then
    [[ -x $baseline ]] || usage_error "--baseline $baseline is not an executable"
    baseline=$(realpath "$baseline")
    with_twins=()
    for name in "${configs[@]}"; do
        with_twins+=("$name")
        if [[ $name == omnigate-* ]]; then with_twins+=("baseline-${name#omnigate-}"); fi
    done
    configs=("${with_twins[@]}")
fi

# --- tools -----------------------------------------------------------------------------------
# nginx lives in /usr/sbin, which a user's PATH often lacks.
find_nginx() { PATH=$PATH:/usr/sbin:/sbin command -v nginx; }
missing=()
find_nginx >/dev/null || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if [[ $instructions == 1 ]]; then command -v valgrind >/dev/null || missing+=(valgrind); fi
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    install_debian_packages "${missing[@]}"
    # The package may start its own service; nothing here uses it.
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
        echo "note: the system nginx service is running; this script does not use it" >&2
    fi
fi
nginx_bin=$(find_nginx) || fail "nginx is not installed and could not be installed"
if [[ $build == 1 ]]; then
    echo "== building (nice 19)"
    nice -n 19 cargo build --release --quiet --bin omnigate --example loadgen --example bare_proxy
fi
omnigate=$PWD/target/release/omnigate
loadgen=$PWD/target/release/examples/loadgen
bare_proxy=$PWD/target/release/examples/bare_proxy
for binary in "$omnigate" "$loadgen" "$bare_proxy"; do
    [[ -x $binary ]] || fail "$binary is missing (drop --no-build)"
done

# --- scratch directory and clean-up ------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/omnigate-compare.XXXXXX")
# nginx's workers run as an unprivileged user when it is started as root; they only read what
# the master opened, but the directory must let them through.
chmod 755 "$work"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ $keep == 1 ]]; then
        echo "scratch directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_base=${COMPARE_PORT_BASE:-28100}
upstream_port=$port_base
proxy_port=$((port_base + 1))
order_port=$((port_base + 2))
admin_port=$((port_base + 3))
admin_token=perf-admin-token-0123456789
demo_order='{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}'
# How omnigate's checks of the demo order went: outside New York's regular session it is queued
# for the open, and a queued order costs more (a second WAL record, the queued-orders map), so
# counts from runs on either side of the open differ; the report says which this run measured.
orders_queued=0
orders_executing=0

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

for port in "$upstream_port" "$proxy_port" "$order_port" "$admin_port"; do
    if listening "$port"; then
        fail "port $port is already in use (set COMPARE_PORT_BASE to move all four)"
    fi
done

# Servers measured by instructions run under callgrind: ( "${under[@]}" server … ). The pid
# started is the server's own (valgrind runs it in its process), for callgrind_control.
under=()
port_patience=10
if [[ $instructions == 1 ]]; then
    under=(valgrind --tool=callgrind "--callgrind-out-file=$work/callgrind.%p")
    # A server under valgrind starts tens of times slower.
    port_patience=120
fi

# wait_for_port PORT PID LOG: up to $port_patience s for PID to listen on PORT; if it exits
# first or the deadline passes, show its log and stop the whole run.
wait_for_port() {
    local deadline=$((SECONDS + port_patience))
    while ((SECONDS < deadline)); do
        if listening "$1"; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then
            sed 's/^/    /' "$3" >&2
            fail "the server logging to $3 exited before listening on port $1"
        fi
        sleep 0.05
    done
    sed 's/^/    /' "$3" >&2
    fail "nothing listens on port $1 after $port_patience s (log: $3)"
}

# stop PID: TERM, then KILL if it is still there after 10 s.
stop() {
    local pid=$1 deadline=$((SECONDS + 10))
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local kept=()
    for other in "${pids[@]}"; do
        if [[ $other != "$pid" ]]; then kept+=("$other"); fi
    done
    pids=("${kept[@]}")
}

# --- nginx ---------------------------------------------------------------------------------------
# nginx_conf NAME WORKERS SERVER_BLOCK [HTTP_EXTRA]: a self-contained config under $work/NAME (its
# own pid file, logs and temp paths; `daemon off` so that the script owns the process).
nginx_conf() {
    local dir=$work/$1
    mkdir -p "$dir/logs" "$dir/temp"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes $2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    # A measurement's connections stay open for all of it (nginx's default closes a client
    # connection after 1,000 requests, which would add reconnections no other server makes).
    keepalive_requests 100000000;
    keepalive_timeout 300s;
${4:-}
    server {
$3
    }
}
EOF
    echo "$dir"
}

# start_nginx DIR: starts it, records its pid in $started_pid.
start_nginx() {
    # -e: the error log is the scratch one from the start, not the package's /var/log path.
    "$nginx_bin" -p "$1" -c "$1/nginx.conf" -e "$1/logs/error.log" >"$1/logs/stdout.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
}

# The upstream: what omnigate needs from DriveWealth's create answer is a 200 whose JSON names
# the order (`orderId`, read in src/http/front.rs to bind the reservation); the simulator answers
# {"orderId":"SM.<32 hex>","orderNo":"SMXX<6 digits>"}, and this answers the same shape with
# nginx's per-request random id. Anything else gets a quick 404.
upstream_dir=$(nginx_conf upstream 1 "        listen 127.0.0.1:$upstream_port reuseport backlog=4096;
        default_type application/json;
        location = /back-office/orders {
            if (\$request_method != POST) {
                return 405;
            }
            return 200 '{\"orderId\":\"NG.\$request_id\",\"orderNo\":\"NGXX\$connection-\$connection_requests\"}';
        }
        location / {
            return 404 '{\"errorCode\":\"E404\",\"message\":\"not served by the compare.sh upstream\"}';
        }")

for workers in 1 2; do
    nginx_conf "nginx-${workers}w" "$workers" "        listen 127.0.0.1:$proxy_port reuseport backlog=4096;
        location / {
            proxy_pass http://gateway_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }" "    upstream gateway_upstream {
        server 127.0.0.1:$upstream_port;
        keepalive 64;
        keepalive_requests 100000000;
    }" >/dev/null
done

# --- omnigate ------------------------------------------------------------------------------------
# set_key FILE SECTION KEY VALUE: sets `KEY = VALUE` (VALUE in TOML syntax) in [SECTION] of FILE,
# replacing the key if the section has it, adding the key or the section if not: the copy of
# perf/omnigate-perf.toml gets what this run needs whatever that file sets.
set_key() {
    awk -v section="[$2]" -v key="$3" -v value="$4" '
        function emit() { print key " = " value; done = 1 }
        # Blank lines wait for the next line, so that a key added at the end of a section goes
        # before the blank lines that separate it from the next.
        function flush() { printf "%s", blanks; blanks = "" }
        /^[ \t]*$/ { blanks = blanks $0 "\n"; next }
        /^[ \t]*\[/ { if (inside && !done) emit(); inside = ($0 == section) }
        inside && !done && $0 ~ "^[ \t]*" key "[ \t]*=" { flush(); emit(); next }
        { flush(); print }
        END {
            if (!done) {
                if (!inside) { print ""; print section }
                emit()
            }
        }
    ' "$1" >"$1.new"
    mv "$1.new" "$1"
}

cp perf/omnigate-perf.toml "$work/omnigate.toml"
cp perf/instruments.jsonl "$work/instruments.jsonl"
# The demo order's customer, with buying power for any run: the upstream never reports fills, so
# every accepted order keeps its reservation (about $200 here) until omnigate stops.
{
    cat perf/customers.jsonl
    echo '{"clientID":"123456789","customerId":"compare-demo","cash":"10000000000"}'
} >"$work/customers.jsonl"
config=$work/omnigate.toml
set_key "$config" server listen "\"127.0.0.1:$order_port\""
set_key "$config" server admin_listen "\"127.0.0.1:$admin_port\""
set_key "$config" server admin_token "\"$admin_token\""
set_key "$config" upstream url "\"http://127.0.0.1:$upstream_port\""
# Nothing ever fills, so the poller would GET every open order (all of them) each interval.
set_key "$config" upstream poll_interval_ms 0
set_key "$config" bootstrap instruments '"instruments.jsonl"'
set_key "$config" bootstrap customers '"customers.jsonl"'
# No limit may refuse a long run. The per-customer limits (max_open_orders and the rest) are off
# unless set, and the perf config sets none; one that an edit sets would show as errors in the
# table. Every order here has the same content, so the content duplicate window (off by
# default) is turned off explicitly.
set_key "$config" limits.default duplicate_window_ms 0
set_key "$config" log level '"warn"'
"$omnigate" check-config "$config" >"$work/check-config.log" 2>&1 ||
    { cat "$work/check-config.log" >&2; fail "the generated omnigate config is invalid: $config"; }

omnigate_starts=0
# start_omnigate FSYNC SNAPSHOT_EVERY [BINARY]: a fresh WAL directory each time (a replay of the
# previous run's orders would be measured otherwise), the omni account funded; BINARY defaults to
# this build's omnigate. Sets $started_pid.
start_omnigate() {
    omnigate_starts=$((omnigate_starts + 1))
    local name=omnigate-$omnigate_starts
    local run_config=$work/$name.toml
    cp "$config" "$run_config"
    set_key "$run_config" wal dir "\"./$name-wal\""
    set_key "$run_config" wal fsync "\"$1\""
    if [[ -n $2 ]]; then set_key "$run_config" wal snapshot_every "$2"; fi
    "${under[@]}" "${3:-$omnigate}" run --config "$run_config" >"$work/$name.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    wait_for_port "$order_port" "$started_pid" "$work/$name.log"
    wait_for_port "$admin_port" "$started_pid" "$work/$name.log"
    curl -sSf -X POST "http://127.0.0.1:$admin_port/admin/omni/cash" \
        -H "authorization: Bearer $admin_token" -H 'content-type: application/json' \
        -d '{"amount":"10000000000"}' >/dev/null ||
        fail "funding the omni account failed (log: $work/$name.log)"
}

# runs_omnigate CONFIG: whether CONFIG is an omnigate build (this one or the --baseline one).
runs_omnigate() { [[ $1 == omnigate-* || $1 == baseline-* ]]; }

# check_order PORT NAME: one demo order must be answered 200 with an orderId (and, through
# omnigate, accepted), so a misconfiguration stops the run instead of filling a table with 4xx.
check_order() {
    local head=$work/check.head body=$work/check.body status
    status=$(curl -sS -o "$body" -D "$head" -w '%{http_code}' \
        "http://127.0.0.1:$1/back-office/orders" -H 'content-type: application/json' \
        -H 'authorization: Bearer demo-token' -H 'dw-client-app-key: demo-app-key' \
        -d "$demo_order") || fail "$2: the demo order got no answer"
    if [[ $status != 200 ]] || ! grep -q '"orderId":"NG\.' "$body"; then
        fail "$2: the demo order was answered $status: $(head -c 300 "$body")"
    fi
    if runs_omnigate "$2" && ! grep -qi '^x-omnigate-decision: accepted' "$head"; then
        fail "$2: the demo order was not accepted: $(cat "$head" "$body")"
    fi
    if runs_omnigate "$2"; then
        if grep -qi '^x-omnigate-queued-until:' "$head"; then
            orders_queued=$((orders_queued + 1))
        else
            orders_executing=$((orders_executing + 1))
        fi
    fi
}

# finish CONFIG: stops what `start` started; an omnigate's WAL goes (segments are preallocated,
# tens of MB a start) and its log is searched for errors, which a table of 200s would hide.
finish() {
    if [[ -z $started_pid ]]; then return; fi
    stop "$started_pid"
    if runs_omnigate "$1"; then
        local name=omnigate-$omnigate_starts errors
        rm -rf "$work/$name-wal"
        errors=$(grep -c 'ERROR' "$work/$name.log" || true)
        if ((errors > 0)); then
            echo "warning: $1 logged $errors error line(s), e.g.: $(grep -m1 'ERROR' "$work/$name.log")" >&2
        fi
    fi
}

# start CONFIG: starts what CONFIG measures (the upstream runs throughout) and checks it;
# the port to load is left in $target_port.
start() {
    case $1 in
        direct) started_pid="" target_port=$upstream_port ;;
        nginx-1w | nginx-2w)
            start_nginx "$work/$1"
            wait_for_port "$proxy_port" "$started_pid" "$work/$1/logs/stdout.log"
            target_port=$proxy_port
            ;;
        hyper-floor)
            "${under[@]}" "$bare_proxy" "127.0.0.1:$proxy_port" "127.0.0.1:$upstream_port" per-core \
                >"$work/hyper-floor.log" 2>&1 &
            started_pid=$!
            pids+=("$started_pid")
            wait_for_port "$proxy_port" "$started_pid" "$work/hyper-floor.log"
            target_port=$proxy_port
            ;;
        omnigate-* | baseline-*)
            # <binary>-<fsync>[-nosnap]: baseline-… is omnigate-… run from the --baseline binary.
            local variant=${1#*-} binary=$omnigate snapshot_every=""
            if [[ $1 == baseline-* ]]; then binary=$baseline; fi
            if [[ $variant == *-nosnap ]]; then snapshot_every=1000000000000; fi
            start_omnigate "${variant%-nosnap}" "$snapshot_every" "$binary"
            target_port=$order_port
            ;;
        *) fail "no configuration $1" ;;
    esac
    check_order "$target_port" "$1"
}


# server_ticks: CPU time (user + system, in clock ticks) used so far by the server being
# measured — $started_pid and its children (nginx's workers), every thread; for `direct`, the
# upstream nginx. Read before and after each measurement: CPU per request is steadier than
# req/s on a shared machine (it does not fall when another process takes a core).
clock_ticks=$(getconf CLK_TCK)
server_ticks() {
    local root=${started_pid:-$upstream_pid} pid task total=0 fields f
    for pid in $root $(pgrep -P "$root" 2>/dev/null); do
        for task in /proc/"$pid"/task/*/stat; do
            # Fields 14 and 15 (utime, stime) after the parenthesised name, which may hold spaces.
            fields=$(sed 's/^.*) //' "$task" 2>/dev/null) || continue
            read -r -a f <<<"$fields"
            total=$((total + f[11] + f[12]))
        done
    done
    echo "$total"
}
# dumped_instructions PID: dumps PID's callgrind counts (zeroed before the measurement) and
# prints their total.
dumped_instructions() {
    local before after dump deadline=$((SECONDS + 60))
    before=$(find "$work" -maxdepth 1 -name "callgrind.$1.*" | wc -l)
    callgrind_control -d "$1" >/dev/null 2>&1
    # The server writes the dump itself, possibly after callgrind_control has returned.
    while ((SECONDS < deadline)); do
        after=$(find "$work" -maxdepth 1 -name "callgrind.$1.*" | wc -l)
        if ((after > before)); then
            dump=$(find "$work" -maxdepth 1 -name "callgrind.$1.*" -printf '%T@ %p\n' | sort -n |
                tail -1 | cut -d' ' -f2-)
            # `totals:` is the file's last line: once it is there, the dump is whole.
            if grep -q '^totals:' "$dump" 2>/dev/null; then
                awk '$1 == "totals:" { print $2; exit }' "$dump"
                return
            fi
        fi
        sleep 0.2
    done
    fail "callgrind wrote no dump for pid $1 within 60 s"
}
results=$work/results.tsv
: >"$results"

# measure CONFIG C ROUND: one wrk run; appends "config c round req/s p50 p99 p99.9 max errors".
measure() {
    local raw=$work/wrk-$1-c$2-r$3.txt line
    if ((warmup > 0)); then
        wrk -t "$threads" -c "$2" -d "${warmup}s" --timeout 5s -s perf/wrk/order.lua \
            "http://127.0.0.1:$target_port/back-office/orders" >/dev/null
    fi
    local ticks_before ticks_after instructions_run=0
    if [[ $instructions == 1 ]]; then callgrind_control -z "$started_pid" >/dev/null 2>&1; fi
    ticks_before=$(server_ticks)
    wrk -t "$threads" -c "$2" -d "${seconds}s" --timeout 5s --latency -s perf/wrk/order.lua \
        "http://127.0.0.1:$target_port/back-office/orders" >"$raw"
    ticks_after=$(server_ticks)
    if [[ $instructions == 1 ]]; then instructions_run=$(dumped_instructions "$started_pid"); fi
    line=$(grep '^COMPARE ' "$raw") || fail "$1: wrk printed no summary ($raw)"
    # requests=… duration_us=… p50=… p99=… p999=… max=… non2xx=… socket_errors=…
    echo "$line" | awk -v config="$1" -v c="$2" -v round="$3" \
        -v ticks=$((ticks_after - ticks_before)) -v hz="$clock_ticks" \
        -v instructions="$instructions_run" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        errors = v["non2xx"] + v["socket_errors"]
        # Throughput counts the 2xx answers only.
        ok = v["requests"] - v["non2xx"]
        # CPU time of the measured server (every thread of every process), per request.
        cpu_us = v["requests"] ? ticks * 1e6 / hz / v["requests"] : 0
        # Instructions of the server process (every thread), per request answered.
        per_request = v["requests"] ? instructions / v["requests"] : 0
        printf "%s\t%d\t%d\t%.1f\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.0f\n", config, c, round,
            ok / (v["duration_us"] / 1e6), v["p50"], v["p99"], v["p999"], v["max"], errors, cpu_us,
            per_request
    }' >>"$results"
    printf '  %-20s c=%-4s round %s: %s\n' "$1" "$2" "$3" "$(tail -1 "$results" | cut -f4 |
        awk '{printf "%.0f req/s", $1}')"
}

# --- the run -------------------------------------------------------------------------------------
echo "# omnigate vs nginx (perf/compare.sh)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
echo "- tools: $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -1 | awk '{print "wrk " $2}'), $(rustc -V 2>/dev/null || echo 'rustc ?')"
echo "- command: \`$command_line\`"
echo "- load: wrk -t $threads, ${seconds} s per measurement after ${warmup} s of warm-up, $rounds round(s), concurrency $concurrency"
echo

start_nginx "$upstream_dir"
upstream_pid=$started_pid
wait_for_port "$upstream_port" "$started_pid" "$upstream_dir/logs/stdout.log"

echo "== closed loop"
for ((round = 1; round <= rounds; round++)); do
    for c in $concurrency; do
        # Rotate the order each round so no configuration always runs first (or right after
        # omnigate's WAL writes).
        for ((i = 0; i < ${#configs[@]}; i++)); do
            config_name=${configs[(i + round - 1) % ${#configs[@]}]}
            start "$config_name"
            measure "$config_name" "$c" "$round"
            finish "$config_name"
        done
    done
done

# summary: "config c median_rps min_rps max_rps median_p50 median_p99 median_p999 errors" per
# configuration and concurrency, in the order of $configs.
summary=$work/summary.tsv
awk -F'\t' -v order="${configs[*]}" '
    # The median of a space-separated list; leaves its smallest and largest in lo and hi.
    function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
        lo = a[1]; hi = a[n]
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        k = $1 SUBSEP $2
        rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6
        p999[k] = p999[k] " " $7; errors[k] += $9; cpu[k] = cpu[k] " " $10
        instructions[k] = instructions[k] " " $11
        if (!($2 in seen)) { seen[$2] = 1; cs[++ncs] = $2 }
    }
    END {
        n = split(order, names, " ")
        for (ci = 1; ci <= ncs; ci++) for (i = 1; i <= n; i++) {
            k = names[i] SUBSEP cs[ci]
            if (!(k in rps)) continue
            m = median(rps[k]); rlo = lo; rhi = hi
            printf "%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%d\t%s\t%s\n", names[i], cs[ci], m, rlo,
                rhi, median(p50[k]), median(p99[k]), median(p999[k]), errors[k], median(cpu[k]),
                median(instructions[k])
        }
    }' "$results" >"$summary"

if [[ $instructions == 1 ]]; then
    echo
    echo "Instructions the server process executed per request (callgrind, every thread), median of"
    echo "the rounds; req/s under valgrind means nothing and is not shown. On a baseline-… row, its"
    echo "omnigate-… twin (this build) over it: below 1 when this build does less per request."
    for c in $concurrency; do
        echo
        echo "### c = $c, instructions per request"
        echo
        echo "| config | instructions / request (min–max of rounds) | ÷ hyper-floor | this build ÷ baseline | errors |"
        echo "| --- | --- | --- | --- | --- |"
        awk -F'\t' -v c="$c" '
            # First the rounds (for the spread), then the medians.
            NR == FNR {
                if ($2 == c) {
                    if (!($1 in lo) || $11 + 0 < lo[$1]) lo[$1] = $11 + 0
                    if ($11 + 0 > hi[$1]) hi[$1] = $11 + 0
                }
                next
            }
            $2 == c { row[++n] = $0; per[$1] = $11 }
            END {
                for (i = 1; i <= n; i++) {
                    split(row[i], f, "\t")
                    twin = f[1] ~ /^baseline-/ ? "omnigate-" substr(f[1], 10) : ""
                    printf "| %s | %.0f (%.0f–%.0f) | %s | %s | %d |\n", f[1], f[11], lo[f[1]],
                        hi[f[1]],
                        per["hyper-floor"] ? sprintf("%.3f", f[11] / per["hyper-floor"]) : "—",
                        twin != "" && f[11] ? sprintf("%.3f", per[twin] / f[11]) : "—", f[9]
                }
            }' "$results" "$summary"
    done
    echo
else
    echo
    echo "req/s counts 2xx answers; errors are non-2xx answers and socket errors (connect, read,"
    echo "write, timeout), over all rounds; latencies are the median of the rounds' percentiles."
    echo
    for c in $concurrency; do
        echo "### c = $c (median of $rounds round(s); ratios against nginx best)"
        echo
        awk -F'\t' -v c="$c" '
            function ms(us) { return sprintf("%.2f ms", us / 1000) }
            $2 == c { row[++n] = $0; if ($1 ~ /^nginx-/ && $3 > best) { best = $3; best_p99 = $7; best_name = $1 } }
            END {
                print "| config | req/s (min–max) | p50 | p99 | p99.9 | errors | server CPU µs/req | req/s ÷ nginx best | p99 ÷ nginx best |"
                print "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
                for (i = 1; i <= n; i++) {
                    split(row[i], f, "\t")
                    name = f[1] == best_name ? f[1] " (nginx best)" : f[1]
                    printf "| %s | %.0f (%.0f–%.0f) | %s | %s | %s | %d | %.1f | %s | %s |\n", name, f[3],
                        f[4], f[5], ms(f[6]), ms(f[7]), ms(f[8]), f[9], f[10],
                        best ? sprintf("%.2f", f[3] / best) : "—", best_p99 ? sprintf("%.2f", f[7] / best_p99) : "—"
                }
            }' "$summary"
        echo
    done
fi

# --- open loop -----------------------------------------------------------------------------------
if [[ $open_loop == 1 ]]; then
    # The default rate comes from c=64 if it was measured, else from the largest concurrency.
    open_c=$(tr ' ' '\n' <<<"$concurrency" | sort -n | tail -1)
    if tr ' ' '\n' <<<"$concurrency" | grep -qx 64; then open_c=64; fi
    best_line=$(awk -F'\t' -v c="$open_c" '$2 == c && $1 ~ /^nginx-/' "$summary" | sort -t$'\t' -k3,3gr | head -1)
    best_name=$(cut -f1 <<<"$best_line")
    if [[ -z $rate ]]; then
        rate=$(cut -f3 <<<"$best_line" | awk '{printf "%d", $1 * 0.7}')
        rate_source="70% of $best_name's closed-loop median at c=$open_c"
    else
        rate_source="--rate"
    fi
    ((rate > 0)) || fail "open-loop rate $rate: nothing to offer"
    open_connections=64
    echo "== open loop: $rate req/s ($rate_source) over $open_connections connections, $seconds s, $rounds round(s)"
    open_results=$work/open.tsv
    : >"$open_results"
    for ((round = 1; round <= rounds; round++)); do
        pair=("$best_name" omnigate-always)
        if ((round % 2 == 0)); then pair=(omnigate-always "$best_name"); fi
        for config_name in "${pair[@]}"; do
            start "$config_name"
            raw=$work/loadgen-$config_name-r$round.txt
            plots=$work/loadgen-$config_name-r$round
            "$loadgen" --target "http://127.0.0.1:$target_port" --concurrency "$open_connections" \
                --seconds "$seconds" --rate "$rate" --body demo --out "$plots" >"$raw"
            for file in latency.csv latency.svg summary.json; do
                [[ -s $plots/$file ]] || fail "$config_name: loadgen --out wrote no $plots/$file"
            done
            # loadgen's lines: "sent N in T s = R req/s", "errors N", "late N …",
            # "latency pXX V µs".
            awk -v config="$config_name" '
                $1 == "sent" { count = $2; sent = $(NF - 1) }
                $1 == "errors" { errors = $2 }
                $1 == "late" { late = $2 }
                $1 == "latency" { gsub(/^p/, "", $2); v[$2] = $3 }
                END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", config, sent, v["50"],
                      v["99"], v["99.9"], v["max"], late, errors, count }' "$raw" >>"$open_results"
            printf '  %-20s round %s: p99 %s µs\n' "$config_name" "$round" "$(tail -1 "$open_results" | cut -f4)"
            finish "$config_name"
        done
    done
    echo
    echo "### open loop, $rate req/s offered over $open_connections connections (median of $rounds round(s); latency from each request's intended send time)"
    echo
    echo "| config | sent req/s | p50 | p99 | p99.9 | max | sent > 1 ms late | errors | p99 ÷ $best_name |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    awk -F'\t' -v best="$best_name" -v rate="$rate" '
        function median(list,    n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
                t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
            }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function ms(us) { return sprintf("%.2f ms", us / 1000) }
        {
            if (!($1 in sent)) names[++n] = $1
            sent[$1] = sent[$1] " " $2; p50[$1] = p50[$1] " " $3; p99[$1] = p99[$1] " " $4
            p999[$1] = p999[$1] " " $5; mx[$1] = mx[$1] " " $6; late[$1] += $7; errors[$1] += $8
            count[$1] += $9
        }
        END {
            best_p99 = median(p99[best])
            for (i = 1; i <= n; i++) {
                k = names[i]
                printf "| %s | %.0f | %s | %s | %s | %s | %d (%.1f%%) | %d | %.2f |\n", k,
                    median(sent[k]), ms(median(p50[k])), ms(median(p99[k])), ms(median(p999[k])),
                    ms(median(mx[k])), late[k], count[k] ? 100 * late[k] / count[k] : 0, errors[k],
                    best_p99 ? median(p99[k]) / best_p99 : 0
                # Every turn is sent, so a target that cannot keep the rate stretches the run:
                # its latency is then a queue growing for the whole run, not a tail.
                if (median(sent[k]) < 0.95 * rate) overloaded = overloaded ", " k
            }
            print ""
            print "Late sends and errors are totals over the rounds."
            if (overloaded != "")
                printf "Kept below 95%% of the offered rate: %s. Their latency is a queue that grew for the whole run (and, if nginx is among them, the generator or the machine is the limit): lower --rate to see latency below saturation.\n", substr(overloaded, 3)
        }' "$open_results"
    echo
fi

if ((orders_queued + orders_executing > 0)); then
    if ((orders_executing == 0)); then
        echo "- omnigate's demo orders: queued for the open (outside New York's regular session; a queued order costs more than one that executes now)"
    elif ((orders_queued == 0)); then
        echo "- omnigate's demo orders: executing now (inside New York's regular session)"
    else
        echo "- omnigate's demo orders: $orders_queued start(s) queued them for the open, $orders_executing executed them now (the run crossed a session boundary: compare with care)"
    fi
fi
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
errors_total=$(awk -F'\t' '{ s += $9 } END { print s + 0 }' "$results")
if [[ $open_loop == 1 ]]; then
    errors_total=$((errors_total + $(awk -F'\t' '{ s += $8 } END { print s + 0 }' "$open_results")))
fi
if ((errors_total > 0)); then
    echo "compare.sh: $errors_total error answers or socket errors (raw output: rerun with --keep)" >&2
fi
