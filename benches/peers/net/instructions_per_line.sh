#!/usr/bin/env bash
# Instructions per line of one row of the real-socket scenarios, from
# callgrind (repeatable whatever else the machine does): a run with 2
# repetitions minus a run with 1 (each also does one untimed warm-up), so
# connecting, line generation and setup cancel out and what is left is one
# run of the row (benches/callgrind_diff.sh). Only the bench process is
# measured (the sender process runs natively). The syscalls' kernel work is
# not in the count.
#
# Usage: bash benches/peers/net/instructions_per_line.sh SCENARIO ROW CASE [LINES]
#   SCENARIO  poller_net or lines_net
#   ROW       a row name, or a word of it (IOCHANNELS_BENCH_ROWS)
#   CASE      poller_net: CONNECTIONS:PERCENT_ACTIVE (1000:100); lines_net: line length (16)
#   LINES     lines per run (default 200000)
# Env: IOCHANNELS_BENCH_NET=tcp|unix (default tcp); BIN=path to a built
# bench binary (default: the newest target/release/deps/peers-*).
# Example: bash benches/peers/net/instructions_per_line.sh poller_net "Poller Stream" 100:1
set -euo pipefail
cd "$(dirname "$0")/../../.."
scenario=$1 row=$2 case=$3 lines=${4:-200000}
bin=${BIN:-$(ls -t target/release/deps/peers-* | grep -v '\.d$' | head -1)}
source benches/callgrind_diff.sh
export IOCHANNELS_BENCH_EXE=$bin IOCHANNELS_BENCH_ROWS=$row
export IOCHANNELS_BENCH_NET=${IOCHANNELS_BENCH_NET:-tcp}
export IOCHANNELS_BENCH_POLLER_NET_LINES=$lines IOCHANNELS_BENCH_LINES_NET_N=$lines
if [[ $scenario == poller_net ]]; then
    export IOCHANNELS_BENCH_POLLER_NET_CASES=$case
else
    export IOCHANNELS_BENCH_LINES_LEN=$case
fi
run() { # reps: the bench's output, its binary behind $WRAP
    IOCHANNELS_BENCH_REPS=$1 $WRAP "$bin" "$scenario"
}
one_run=$(callgrind_one_rep run)
echo "$scenario $IOCHANNELS_BENCH_NET $case \"$row\": $((one_run / lines)) instructions/line ($one_run in one run of $lines lines)"
