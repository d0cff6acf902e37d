//! The `resp` scenario (issue #11): a request/response server over TCP on
//! 127.0.0.1, pipelined by clients in another process, in a RESP-like
//! protocol (`SET key value` / `GET key`; `+OK` or the value back).
//!
//! Each run is two processes, both this bench binary again (picked by
//! `IOCHANNELS_BENCH_RESP_ROLE`, as `memory.rs` does): a server process
//! running one contender alone, and a client process (`resp/client.rs`) with
//! 50 connections, 16 requests in flight on each, 10,000 requests per
//! connection (`IOCHANNELS_BENCH_RESP_REQUESTS=N` changes it), checking
//! every reply's bytes. The client times from all connected to the last
//! reply; the server reports its own CPU time (utime + stime of the whole
//! process, from `/proc/self/stat`: rustix 1 has no `getrusage`) from just
//! before it listens until its last connection closed, so runtime start-up
//! is out and nothing of the client is in. The figures are in clock ticks
//! (10 ms) over runs of a few CPU seconds: ~0.5% resolution.
//! CPU per request is not independent of speed: a server that falls behind
//! finds more requests per read (up to 16 per connection), so it pays
//! fewer syscalls per request; on a loaded machine the figures move together.
//!
//! Servers in a process of their own, not in the bench process, so that
//! the CPU figure is the server's alone and each contender starts from a
//! fresh heap. Contenders are run round-robin (rep 1 of each, then rep 2,
//! ...) so a slow drift of the machine hits them all alike.
//!
//! | row | server |
//! |-----|--------|
//! | task per connection, current_thread (baseline) | `resp/servers.rs`: tokio task per connection, `read_buf` + the hand-written `BytesMut` parser, TCP_NODELAY, on a current_thread runtime like the crate contenders |
//! | task per connection, multi_thread | the same on the default multi-thread runtime (one worker per core: 2 here, sharing the 2 cores with the client process) |
//! | iochannels Poller (Bytes) + user parser | one `Poller` (`Framing::Bytes`, `add_server`) on current_thread, the same parser over `Event::Data` |
//! | iochannels handler, Lines/Exact | `serve()` with a `Handler`: header lines by `Framing::Lines`, each body by `conn.set_framing(Exact(LEN + 2))`, current_thread |
//! | iochannels handler, Lines/Exact, on_write asked | the same with `Handler::WANTS_ON_WRITE` left true: an `Event::Flushed` per reply, to show what that costs (the other handler rows set it false: a RESP server does not use `on_write`) |
//! | iochannels handler, Delimited(\r\n)/Exact | the same with `Framing::Delimited(vec!["\r\n"])` for the lines |
//! | iochannels Poller, set_framing(id) | the Poller cutting requests itself: `poller.set_framing(id, Exact(LEN + 2))` per bulk body, current_thread |
//! | handler .workers(1), 2-worker rt | the Lines/Exact handler server, spawned on a 2-worker multi-thread runtime: one poller, one task |
//! | handler .workers(2), 2-worker rt | the same with `Server::workers(2)`: two pollers, a task each, clients spread round-robin by one accept task |
//!
//! `IOCHANNELS_BENCH_RESP_ONLY=poller,handler-lines` runs only those
//! contenders (keys as in `Contender::key`); the baseline is then missing
//! and the ratios show NaN.

mod client;
mod proto;
mod servers;

use std::io::{Read, Write};
use std::time::Duration;

use iochannels::Framing;
use tokio::net::TcpListener;

use crate::harness::{cpu_ticks, human, runtime, Harness, Kid, Table, TICKS_PER_SEC};

const ROLE: &str = "IOCHANNELS_BENCH_RESP_ROLE";
const CONNS: usize = 50;
const DEPTH: usize = 16;
const DEFAULT_PER_CONN: usize = 10_000;
/// Any child still running after this is stuck: it exits by itself.
const GUARD: Duration = Duration::from_secs(60);
const BASELINE: &str = "task per connection, current_thread";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Contender {
    TokioCurrent,
    TokioMulti,
    Poller,
    HandlerLines,
    HandlerDelimited,
    /// The Poller with `poller.set_framing(id, ..)` doing the framing.
    PollerFramed,
    /// The Lines handler server with `.workers(n)` on a 2-worker runtime.
    HandlerWorkers(usize),
    /// The Lines handler server with `on_write` asked for (the default).
    HandlerOnWrite,
}

impl Contender {
    const ALL: [Contender; 9] = [
        Contender::TokioCurrent,
        Contender::TokioMulti,
        Contender::Poller,
        Contender::PollerFramed,
        Contender::HandlerLines,
        Contender::HandlerOnWrite,
        Contender::HandlerDelimited,
        Contender::HandlerWorkers(1),
        Contender::HandlerWorkers(2),
    ];

    fn key(self) -> &'static str {
        match self {
            Contender::TokioCurrent => "tokio-ct",
            Contender::TokioMulti => "tokio-mt",
            Contender::Poller => "poller",
            Contender::HandlerLines => "handler-lines",
            Contender::HandlerDelimited => "handler-crlf",
            Contender::PollerFramed => "poller-framed",
            Contender::HandlerWorkers(1) => "handler-w1",
            Contender::HandlerWorkers(_) => "handler-w2",
            Contender::HandlerOnWrite => "handler-on-write",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Contender::TokioCurrent => BASELINE,
            Contender::TokioMulti => "task per connection, multi_thread",
            Contender::Poller => "iochannels Poller (Bytes) + user parser",
            Contender::HandlerLines => "iochannels handler, Lines/Exact",
            Contender::HandlerDelimited => "iochannels handler, Delimited(\\r\\n)/Exact",
            Contender::PollerFramed => "iochannels Poller, set_framing(id) Lines/Exact",
            Contender::HandlerWorkers(1) => "handler .workers(1), 2-worker rt",
            Contender::HandlerWorkers(_) => "handler .workers(2), 2-worker rt",
            Contender::HandlerOnWrite => "iochannels handler, Lines/Exact, on_write asked",
        }
    }

    fn from_key(key: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// One run's figures.
struct Sample {
    wall: Duration,
    user_ticks: u64,
    sys_ticks: u64,
}

pub fn run(h: &Harness) {
    if !h.wants("resp") {
        return;
    }
    let per_conn = per_conn();
    let total = CONNS * per_conn;
    let only = std::env::var("IOCHANNELS_BENCH_RESP_ONLY").unwrap_or_default();
    let contenders: Vec<Contender> = Contender::ALL
        .into_iter()
        .filter(|c| only.is_empty() || only.split(',').any(|k| k == c.key()))
        .collect();
    println!(
        "\n# resp: {CONNS} TCP connections over 127.0.0.1, {DEPTH} requests in flight on each, \
         {total} requests per run (SET/GET, values 16-256 B), client in another process, \
         each server alone in a process of its own"
    );
    let mut samples: Vec<Vec<Sample>> = contenders.iter().map(|_| Vec::new()).collect();
    for _ in 0..h.reps.max(1) {
        for (c, got) in contenders.iter().zip(&mut samples) {
            match run_once(*c, per_conn) {
                Ok(s) => got.push(s),
                Err(e) => println!("{:<40} failed: {e}", c.name()),
            }
        }
    }
    let mut rate = Table::new(
        format!("resp: requests/s, {total} requests per run"),
        "req/s",
        total as u64,
    );
    for (c, got) in contenders.iter().zip(&samples) {
        if !got.is_empty() {
            rate.record(c.name(), got.iter().map(|s| s.wall).collect());
        }
    }
    rate.print(BASELINE);
    print_cpu(&contenders, &samples, total);
}

/// The server CPU table: median µs of user+sys per request, its ratio to
/// the baseline's (lower is better; the targets: <= 1.0 for every
/// crate contender, 0.8 for the Poller ones) and to the multi-thread row.
fn print_cpu(contenders: &[Contender], samples: &[Vec<Sample>], total: usize) {
    let per_req =
        |s: &Sample| (s.user_ticks + s.sys_ticks) as f64 / TICKS_PER_SEC * 1e6 / total as f64;
    let median = |got: &[Sample], f: &dyn Fn(&Sample) -> f64| -> f64 {
        let mut v: Vec<f64> = got.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let of = |c: Contender| {
        contenders
            .iter()
            .position(|&x| x == c)
            .map_or(f64::NAN, |i| median(&samples[i], &per_req))
    };
    let (base, multi) = (of(Contender::TokioCurrent), of(Contender::TokioMulti));
    println!("\n## resp: server CPU (user+sys) per request, lower is better");
    println!(
        "{:<40} {:>12} {:>10} {:>10} {:>8} {:>16}",
        "contender",
        "median µs/req",
        format!("x {}", "ct base"),
        "x mt",
        "sys %",
        "min..max µs"
    );
    for (c, got) in contenders.iter().zip(samples) {
        if got.is_empty() {
            continue;
        }
        let m = median(got, &per_req);
        let sys = median(got, &|s| {
            s.sys_ticks as f64 / (s.user_ticks + s.sys_ticks).max(1) as f64 * 100.0
        });
        let all: Vec<f64> = got.iter().map(per_req).collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<40} {:>12.3} {:>10.2} {:>10.2} {:>7.0}% {:>16}",
            c.name(),
            m,
            m / base,
            m / multi,
            sys,
            format!("{lo:.3}..{hi:.3}")
        );
    }
    println!(
        "(x ct base: CPU per request over `{BASELINE}`'s; issue #11 targets: every crate \
         contender <= 1.00, the Poller ones 0.80. Server requests/s ≈ {}/s per core at the baseline's CPU cost)",
        human(1e6 / base)
    );
}

fn per_conn() -> usize {
    std::env::var("IOCHANNELS_BENCH_RESP_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PER_CONN)
}

fn run_once(contender: Contender, per_conn: usize) -> Result<Sample, String> {
    let total = CONNS * per_conn;
    let mut server = Kid::spawn(ROLE, &format!("server:{}", contender.key()))?;
    let port = server.expect("listening")?;
    let mut client = Kid::spawn(ROLE, &format!("client:{port}:{per_conn}"))?;
    let done = client.expect("done")?;
    let cpu = server.expect("cpu")?;
    client.wait();
    server.wait();
    let replies = field(&done, "replies")?;
    let handled = field(&cpu, "handled")?;
    if replies != total as u64 || handled != total as u64 {
        return Err(format!(
            "{replies} replies checked, {handled} requests handled, {total} sent"
        ));
    }
    Ok(Sample {
        wall: Duration::from_nanos(field(&done, "nanos")?),
        user_ticks: field(&cpu, "user")?,
        sys_ticks: field(&cpu, "sys")?,
    })
}

fn field(line: &str, name: &str) -> Result<u64, String> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {name} in {line:?}"))
}

/// In a child process started by this scenario: plays its role and returns
/// true (the caller then exits); false in the bench process itself.
pub fn child_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    // The bench process gone (its end of our stdin closed) or a stuck run:
    // exit rather than linger. Both threads sleep; they cost no CPU.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(2);
    });
    std::thread::spawn(|| {
        std::thread::sleep(GUARD + Duration::from_secs(5));
        eprintln!("resp bench child: still running after {GUARD:?}, exiting");
        std::process::exit(3);
    });
    let parts: Vec<&str> = role.split(':').collect();
    let outcome = match parts.as_slice() {
        ["server", key] => match Contender::from_key(key) {
            Some(c) => serve(c),
            None => Err(format!("bad role {role:?}")),
        },
        ["client", port, per_conn] => match (port.parse(), per_conn.parse()) {
            (Ok(port), Ok(per_conn)) => client::run(port, CONNS, per_conn, DEPTH, GUARD),
            _ => Err(format!("bad role {role:?}")),
        },
        _ => Err(format!("bad role {role:?}")),
    };
    if let Err(e) = outcome {
        eprintln!("resp bench child ({role}): {e}");
        println!("error {e}");
        std::process::exit(1);
    }
    let _ = std::io::stdout().flush();
    true
}

/// The server process: one contender on 127.0.0.1, its CPU time reported.
fn serve(contender: Contender) -> Result<(), String> {
    let rt = match contender {
        // The default multi-thread runtime: one worker per core.
        Contender::TokioMulti => {
            runtime(std::thread::available_parallelism().map_or(2, |n| n.get()))
        }
        Contender::HandlerWorkers(_) => runtime(2),
        _ => runtime(0),
    };
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let before = cpu_ticks()?;
        println!("listening {port}");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        let handled = match contender {
            Contender::TokioCurrent | Contender::TokioMulti => {
                servers::task_per_connection(listener, CONNS).await?
            }
            Contender::Poller => servers::poller(listener, CONNS).await?,
            Contender::PollerFramed => servers::poller_framed(listener, CONNS).await?,
            Contender::HandlerLines => {
                servers::handler::<false>(listener, CONNS, Framing::Lines, 1).await?
            }
            Contender::HandlerOnWrite => {
                servers::handler::<true>(listener, CONNS, Framing::Lines, 1).await?
            }
            Contender::HandlerDelimited => {
                let crlf = Framing::Delimited(vec!["\r\n".into()]);
                servers::handler::<false>(listener, CONNS, crlf, 1).await?
            }
            Contender::HandlerWorkers(n) => {
                // Spawned, as users run a server on a multi-thread runtime:
                // `block_on`'s own future does not run on the workers.
                let served = tokio::spawn(servers::handler::<false>(
                    listener,
                    CONNS,
                    Framing::Lines,
                    n,
                ));
                served
                    .await
                    .map_err(|e| format!("the server task: {e}"))??
            }
        };
        let after = cpu_ticks()?;
        println!(
            "cpu user={} sys={} handled={handled}",
            after.0 - before.0,
            after.1 - before.1
        );
        std::io::stdout().flush().map_err(|e| e.to_string())
    })
}
