//! `cargo bench`: every hot path of iochannels side by side with the peers it
//! replaces, in one process and one run. See `harness.rs` for how to pick
//! scenarios (`cargo bench -- queue`) and set repetitions.

mod bytes;
mod framings;
mod handle;
mod harness;
mod lines;
mod memory;
mod net;
mod poller;
mod queue;
mod relay;
mod resp;
mod shard;
#[cfg(feature = "tls")]
mod tls;
mod write_file;

fn main() {
    // The memory, resp and net scenarios' client, server and sender processes are this binary too.
    if memory::child_role() || resp::child_role() || net::child_role() {
        return;
    }
    let h = harness::Harness::from_env();
    println!(
        "iochannels benchmarks: {} repetitions per contender, median shown; machine: {} cores",
        h.reps,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    queue::run(&h);
    bytes::run(&h);
    lines::run(&h);
    framings::run(&h);
    poller::run(&h);
    net::run(&h);
    handle::run(&h);
    memory::run(&h);
    write_file::run(&h);
    relay::run(&h);
    resp::run(&h);
    shard::run(&h);
    #[cfg(feature = "tls")]
    tls::run(&h);
}
