# Instructions of one repetition of a bench row, from callgrind (exact and
# repeatable whatever else the machine does): a run with 2 repetitions
# minus a run with 1, so what does not repeat (setup, connecting, line
# generation, the untimed warm-up) cancels out. Only the bench process is
# counted: a process it spawns runs natively. Kernel work is not counted.
#
# Sourced (not run) by benches/observability_cost.sh and
# benches/peers/net/instructions_per_line.sh; needs valgrind.

# callgrind_one_rep RUN [ARG...]: calls `RUN REPS ARG...` for REPS 1 and 2,
# with WRAP set to the valgrind command line that RUN puts before the bench
# binary, and prints the difference of the two instruction totals. RUN's
# output, stdout and stderr, is read for valgrind's `Collected :` line.
callgrind_one_rep() {
    local run=$1 reps total=()
    shift
    for reps in 1 2; do
        total+=("$(WRAP="valgrind --tool=callgrind --callgrind-out-file=/dev/null" \
            "$run" "$reps" "$@" 2>&1 | awk '/Collected :/ { print $NF }')")
    done
    echo $((total[1] - total[0]))
}
