#!/usr/bin/env bash
# What the counters and the `tracing` feature cost on the hot paths (#14):
# the same `cargo bench` scenarios built three ways, side by side.
#
#   default      counters on, feature `tracing` off (what users get)
#   uncounted    RUSTFLAGS="--cfg iochannels_uncounted": every counter
#                update compiled out (src/trace.rs, `count!`)
#   tracing      `--features tracing`, no subscriber installed
#
# Two measures:
#   instructions per line, from callgrind (exact and repeatable whatever
#   else the machine does): a run of 2 repetitions minus a run of 1, so
#   setup and line generation cancel out (what is left: one run of the row,
#   putting its lines into the test channels and consuming them;
#   benches/callgrind_diff.sh);
#   lines/s, the median over ROUNDS rounds of the three binaries in turn
#   (interleaved, so load that comes and goes lands on all three).
#
# Usage: bash benches/observability_cost.sh [callgrind|time|both]   (default both)
# Env: ROUNDS (default 5), LINES (lines per callgrind run, default 200000).
# Needs valgrind for the callgrind half.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/callgrind_diff.sh
mode=${1:-both}
rounds=${ROUNDS:-5}
lines=${LINES:-200000}

bench_bin() { # cargo args... -> the peers bench binary it built
    "$@" --no-run --message-format=json |
        grep -o '"executable":"[^"]*peers-[^"]*"' | tail -1 | cut -d'"' -f4
}
# One codegen unit, each variant in a target dir of its own: with the
# default 16 units, which functions get inlined into which moves from one
# build to the next (a few % of the poller's instructions either way, more
# than the counters cost), and the comparison would measure that instead.
export CARGO_PROFILE_BENCH_CODEGEN_UNITS=1
echo "building the three variants (release, one codegen unit)..." >&2
declare -A bin
bin[default]=$(CARGO_TARGET_DIR=target/cost/default bench_bin cargo bench --bench peers)
bin[tracing]=$(CARGO_TARGET_DIR=target/cost/tracing bench_bin cargo bench --bench peers --features tracing)
bin[uncounted]=$(RUSTFLAGS="--cfg iochannels_uncounted" CARGO_TARGET_DIR=target/cost/uncounted \
    bench_bin cargo bench --bench peers)
variants=(default uncounted tracing)

# name|scenario|row (exact)|env
cases=(
    "poller 1,000 conns, all active|poller|iochannels Poller|IOCHANNELS_BENCH_POLLER_CASES=1000:100"
    "poller 10,000 conns, 1% active|poller|iochannels Poller|IOCHANNELS_BENCH_POLLER_CASES=10000:1"
    "lines 16 B, FramedChannel|lines|iochannels FramedChannel Lines (TestChannel)|IOCHANNELS_BENCH_LINES_LEN=16"
    "lines 64 B, FramedChannel|lines|iochannels FramedChannel Lines (TestChannel)|IOCHANNELS_BENCH_LINES_LEN=64"
)

# `=scenario` runs that scenario alone: a bare `poller` (or `lines`) also
# runs `poller_net` (`lines_net`), whose sender process dies at once under
# valgrind (the bench then waits for it for ever), and whose work would
# land in the instruction counts.
run_case() { # reps variant case [lines]: the bench's output
    local reps=$1 v=$2 scenario row envs
    IFS='|' read -r _ scenario row envs <<<"$3"
    local n=()
    [[ -n ${4:-} ]] && n=(IOCHANNELS_BENCH_POLLER_LINES="$4" IOCHANNELS_BENCH_LINES_N="$4")
    env IOCHANNELS_BENCH_REPS="$reps" IOCHANNELS_BENCH_ROWS="=$row" $envs "${n[@]}" \
        ${WRAP:-} "${bin[$v]}" "=$scenario" 2>&1
}

# The median (in M/s) on the row `row` of a bench's output.
median_of() {
    awk -v row="$1" 'index($0, row) == 1 && !done {
        split(substr($0, length(row) + 1), f, " "); v = f[1]
        if (f[2] == "k") v /= 1000; if (f[2] == "G") v *= 1000
        print v; done = 1 }'
}

row() { printf '%-32s%12s%12s%12s%12s%12s\n' "$@"; }

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }

# One case's row: its three figures and what counters and tracing cost,
# as a worse-over-better percentage. `$5` says which way is worse:
# `more` for instructions, `less` for a rate.
costs() { # name default uncounted tracing more|less
    if [[ $5 == more ]]; then
        row "$1" "$2" "$3" "$4" "$(pct "$2" "$3")" "$(pct "$4" "$2")"
    else
        row "$1" "$2" "$3" "$4" "$(pct "$3" "$2")" "$(pct "$2" "$4")"
    fi
}

if [[ $mode == callgrind || $mode == both ]]; then
    echo
    echo "## instructions per line (callgrind: run of 2 reps - run of 1, $lines lines per run)"
    row case default uncounted tracing counters tracing
    for c in "${cases[@]}"; do
        declare -A per=()
        for v in "${variants[@]}"; do
            one_run=$(callgrind_one_rep run_case "$v" "$c" "$lines")
            per[$v]=$(awk -v d="$one_run" -v n="$lines" 'BEGIN { printf "%.1f", d / n }')
        done
        costs "${c%%|*}" "${per[default]}" "${per[uncounted]}" "${per[tracing]}" more
    done
    echo "(counters: default over uncounted; tracing: the feature built in, no subscriber, over default)"
fi

if [[ $mode == time || $mode == both ]]; then
    echo
    echo "## lines/s, M (median of $rounds interleaved rounds, each the bench's median of 3)"
    row case default uncounted tracing counters tracing
    for c in "${cases[@]}"; do
        IFS='|' read -r _ _ row_name _ <<<"$c"
        declare -A got=()
        for ((r = 0; r < rounds; r++)); do
            for v in "${variants[@]}"; do
                got[$v]+="$(run_case 3 "$v" "$c" | median_of "$row_name") "
            done
        done
        declare -A med=()
        for v in "${variants[@]}"; do
            med[$v]=$(tr ' ' '\n' <<<"${got[$v]}" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        done
        costs "${c%%|*}" "${med[default]}" "${med[uncounted]}" "${med[tracing]}" less
    done
    echo "(counters: how much faster uncounted is than default; tracing: how much faster default is than the feature built in)"
fi
