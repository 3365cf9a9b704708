#!/usr/bin/env bash
# Instructions per iteration of the decision bench's rows (benches/decide_reserve.rs), counted by
# valgrind's callgrind: the same number on every run of the same binary, so a change of a few
# percent shows on a machine whose timings move by 30 % from one run to the next. Instructions
# are not time (a cache miss or a contended lock costs many cycles and one instruction), so this
# ranks changes to straight-line work; criterion's timings stay the measure of speed.
#
# Each row runs under callgrind in criterion's profile mode; its iterations are counted by a
# function each one calls exactly once (the "marker"), and the row's figure is the inclusive
# count of criterion's `Bencher::iter` over that number (the bench's own loop and timer reads
# included, a few instructions an iteration).
#
# Usage: perf/instructions.sh [--baseline BENCH_BINARY] [--no-build] [--smoke]
#   --baseline BIN  the decide_reserve bench binary of an earlier build (copy it out of
#                   target/release/deps/ first): measured in the same run, with a ratio column
#   --no-build      use the newest decide_reserve bench binary in target/release/deps
#   --smoke         one row, briefly (CI keeps the script working; the number is not checked)
# Needs valgrind (Debian's package; installed if missing) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline="" build=1 seconds=2
rows=(
    "parse/limit|omnigate::order::parse::parse_order_within"
    "decide/limit|omnigate::limits::duplicates::DuplicateGuard::check_and_record"
    "reserve_release/limit|omnigate::ledger::orders::<impl omnigate::ledger::Ledger>::release"
    "parse_decide_reserve_release/limit|omnigate::engine::admit::<impl omnigate::engine::Engine>::admit"
    "parse_decide_reserve_release/fractional_market|omnigate::engine::admit::<impl omnigate::engine::Engine>::admit"
    "denied_buying_power/limit|omnigate::engine::admit::<impl omnigate::engine::Engine>::admit"
)
while (($#)); do
    case $1 in
    --baseline) baseline=${2:?--baseline needs a binary}; shift 2 ;;
    --no-build) build=0; shift ;;
    --smoke) seconds=1; rows=("${rows[3]}"); shift ;;
    *) echo "instructions.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# shellcheck source=perf/lib.sh
. perf/lib.sh
command -v valgrind >/dev/null 2>&1 || install_debian_packages valgrind

# The bench binary: the one cargo builds, by cargo's own account of it, or with --no-build the
# newest one in target/.
if ((build)); then
    current=$(cargo bench --locked --bench decide_reserve --no-run --message-format=json |
        python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["name"] == "decide_reserve":
        print(message["executable"])')
else
    current=$(find target/release/deps -maxdepth 1 -type f -executable -name 'decide_reserve-*' \
        -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
fi
[[ -x $current ]] || { echo "instructions.sh: no decide_reserve bench binary" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# per_iteration BINARY ROW MARKER: instructions per iteration of ROW.
per_iteration() {
    local out="$work/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$1" --bench --profile-time "$seconds" "order_path/$2" >/dev/null 2>"$work/valgrind.log" ||
        { cat "$work/valgrind.log" >&2; return 1; }
    python3 - "$out" "$3" <<'EOF'
import re, sys

# callgrind's format: "fn=(id) name" opens a function's costs (the name only the first time),
# "cfn=(id)" names a callee, then "calls=N …" and a line whose second field is the inclusive
# cost of those N calls.
path, marker = sys.argv[1], sys.argv[2]
names, calls, inclusive = {}, {}, {}
callee = pending = None
with open(path) as lines:
    for line in lines:
        named = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if named:
            if named.group(2):
                names[named.group(1)] = named.group(2)
            if line.startswith("cfn="):
                callee = named.group(1)
            continue
        counted = re.match(r"^calls=(\d+)", line)
        if counted:
            pending = (callee, int(counted.group(1)))
            continue
        if pending:
            fields = line.split()
            function, count = pending
            calls[function] = calls.get(function, 0) + count
            inclusive[function] = inclusive.get(function, 0) + (int(fields[1]) if len(fields) > 1 else 0)
            pending = None

def total(name_is):
    ids = [i for i, name in names.items() if name_is(name) and i in calls]
    return sum(calls[i] for i in ids), sum(inclusive[i] for i in ids)

iterations, _ = total(lambda name: name == marker)
_, loop = total(lambda name: name.startswith("criterion::bencher::Bencher<") and name.endswith(">::iter"))
if iterations == 0:
    sys.exit(f"the marker {marker} was never called")
print(round(loop / iterations))
EOF
}

echo "Instructions per iteration (callgrind), $(date -u +%Y-%m-%dT%H:%MZ), $(uname -m)"
echo "bench binary: $current${baseline:+, baseline: $baseline}"
echo
if [[ -n $baseline ]]; then
    echo "| row | instructions | baseline | ÷ baseline |"
    echo "| --- | --- | --- | --- |"
else
    echo "| row | instructions |"
    echo "| --- | --- |"
fi
for entry in "${rows[@]}"; do
    row=${entry%%|*} marker=${entry#*|}
    now=$(per_iteration "$current" "$row" "$marker")
    if [[ -n $baseline ]]; then
        before=$(per_iteration "$baseline" "$row" "$marker")
        ratio=$(python3 -c "print(f'{$now / $before:.3f}')")
        echo "| $row | $now | $before | $ratio |"
    else
        echo "| $row | $now |"
    fi
done
