//! The `memory` scenario: resident memory per idle TCP connection, and the
//! poller's CPU time while 10,000 registered channels stay idle.
//!
//! Each contender runs in a process of its own (this bench binary again,
//! picked by `IOCHANNELS_BENCH_ROLE`), so no figure inherits memory another
//! freed: the process binds 127.0.0.1:0, reads `VmRSS` (and `RssAnon`) from
//! `/proc/self/status`, accepts N connections and keeps them the
//! contender's way, reads them again, and reports (after - before) / N. The
//! clients are held by another process (also this binary), so each side
//! needs only N fds; both raise their soft `RLIMIT_NOFILE` to the hard limit
//! (started through `sh -c 'ulimit -n ...; exec ...'`, `harness::Kid::spawn_via_sh`,
//! so the bench process's own limit stays as it is). N is 10,000, or 5,000
//! if the hard limit is too low for that.
//!
//! | row | the server keeps each connection as |
//! |-----|-------------------------------------|
//! | tokio TcpStream | the accepted `TcpStream` in a `Vec` |
//! | FramedRead<TcpStream, LinesCodec> | that, polled once (`next()` pending) |
//! | iochannels Poller | a channel the poller accepted itself (`add_server`), polled once: its read was tried and its buffer given back |
//!
//! Kernel socket buffers are not in `VmRSS`; neither are heap pages
//! allocated but never touched (an 8 KiB buffer nobody wrote is partly not
//! resident).
//!
//! The idle part: with the N channels registered, `poller.poll(Some(3 s))`
//! (10 s with `IOCHANNELS_BENCH_LONG=1`) must return no event; the process's
//! CPU time over it comes from `/proc/self/stat` (utime + stime, in clock
//! ticks) and `/proc/self/schedstat` (ns on CPU of the runtime's thread).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use futures::StreamExt;
use iochannels::{Event, Framing, Poller};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::codec::{FramedRead, LinesCodec};

use crate::harness::{cpu_ticks, runtime, Harness, Kid, TICKS_PER_SEC};

const ROLE: &str = "IOCHANNELS_BENCH_ROLE";
/// Fds a process needs besides the connections.
const SPARE_FDS: u64 = 64;

#[derive(Debug, Clone, Copy)]
enum Contender {
    Tokio,
    FramedRead,
    Poller,
    /// The Poller with an idle timeout set (longer than the measurement).
    PollerIdle,
}

impl Contender {
    const ALL: [Contender; 4] = [
        Contender::Tokio,
        Contender::FramedRead,
        Contender::Poller,
        Contender::PollerIdle,
    ];

    fn key(self) -> &'static str {
        match self {
            Contender::Tokio => "tokio",
            Contender::FramedRead => "framedread",
            Contender::Poller => "poller",
            Contender::PollerIdle => "polleridle",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Contender::Tokio => "tokio TcpStream (bare)",
            Contender::FramedRead => "FramedRead<TcpStream, LinesCodec>",
            Contender::Poller => "iochannels Poller (Lines)",
            Contender::PollerIdle => "iochannels Poller, idle timeout 1 h",
        }
    }

    fn from_key(key: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.key() == key)
    }
}

pub fn run(h: &Harness) {
    if !h.wants("memory") {
        return;
    }
    let hard = nofile_limits().map_or(1024, |(_, hard)| hard);
    let n: u64 = if hard >= 10_000 + SPARE_FDS {
        10_000
    } else if hard >= 5_000 + SPARE_FDS {
        5_000
    } else {
        hard.saturating_sub(SPARE_FDS).max(1)
    };
    let idle = if std::env::var("IOCHANNELS_BENCH_LONG").is_ok_and(|v| v == "1") {
        10
    } else {
        3
    };
    println!(
        "\n# memory: {n} idle TCP connections over 127.0.0.1 per contender \
         (RLIMIT_NOFILE hard limit {hard}{}), each contender in its own process, \
         clients in another",
        if n < 10_000 {
            ": too low for 10,000"
        } else {
            ""
        }
    );
    println!(
        "\n## memory: resident bytes per idle connection, {n} connections\n{:<40} {:>14} {:>14} {:>18} {:>18}",
        "contender", "VmRSS before", "VmRSS after", "VmRSS B/conn", "RssAnon B/conn"
    );
    let mut idle_reports = Vec::new();
    for contender in Contender::ALL {
        match measure(contender, n, idle) {
            Ok(r) => {
                println!(
                    "{:<40} {:>11} kB {:>11} kB {:>18.0} {:>18.0}",
                    contender.name(),
                    r.rss_before_kb,
                    r.rss_after_kb,
                    (r.rss_after_kb as f64 - r.rss_before_kb as f64) * 1024.0 / n as f64,
                    (r.anon_after_kb as f64 - r.anon_before_kb as f64) * 1024.0 / n as f64,
                );
                if let Some(idle) = r.idle {
                    idle_reports.push((contender, idle));
                }
            }
            Err(e) => println!("{:<40} failed: {e}", contender.name()),
        }
    }
    {
        use std::mem::size_of;
        println!(
            "(in-line sizes: FramedChannel {} B = Channel {} B + FrameCodec {} B + buffers and state; \
             FramedRead<TcpStream, LinesCodec> {} B; tokio TcpStream {} B)",
            size_of::<iochannels::FramedChannel>(),
            size_of::<iochannels::Channel>(),
            size_of::<iochannels::FrameCodec>(),
            size_of::<FramedRead<TcpStream, LinesCodec>>(),
            size_of::<TcpStream>(),
        );
    }
    for (contender, (ticks, sched_ns, wall)) in idle_reports {
        println!(
            "\n## memory: {} CPU while {n} channels are idle for {wall:.1} s\n\
             utime+stime: {ticks} ticks ({:.0} ms); on CPU (schedstat): {:.3} ms = {:.4}% of one core",
            contender.name(),
            ticks as f64 * 1000.0 / TICKS_PER_SEC,
            sched_ns as f64 / 1e6,
            sched_ns as f64 / 1e9 / wall * 100.0
        );
    }
}

/// One contender's figures, as its server process reported them.
struct Report {
    rss_before_kb: u64,
    rss_after_kb: u64,
    anon_before_kb: u64,
    anon_after_kb: u64,
    /// Poller only: (utime+stime ticks, schedstat ns, seconds) while idle.
    idle: Option<(u64, u64, f64)>,
}

/// Runs the server (one contender) and the client processes.
fn measure(contender: Contender, n: u64, idle_secs: u64) -> Result<Report, String> {
    let mut server = spawn_role(&format!("server:{}:{n}:{idle_secs}", contender.key()))?;
    let addr = server.expect("listening")?;
    let mut client = spawn_role(&format!("connect:{addr}:{n}"))?;
    let result = (|| {
        client.expect("connected")?;
        let line = server.expect("result")?;
        parse_report(&line)
    })();
    // Closing the client's stdin lets it go; the server exits by itself.
    client.wait();
    server.wait();
    result
}

/// This binary in `role`, its soft `RLIMIT_NOFILE` raised to the hard one
/// by `sh` before it starts.
fn spawn_role(role: &str) -> Result<Kid, String> {
    Kid::spawn_via_sh(
        ROLE,
        role,
        r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0""#,
    )
}

fn parse_report(line: &str) -> Result<Report, String> {
    let field = |name: &str| -> Option<&str> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let num = |name: &str| -> Result<u64, String> {
        field(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no {name} in {line:?}"))
    };
    let idle = match (field("idle_ticks"), field("idle_ns"), field("idle_s")) {
        (Some(t), Some(ns), Some(s)) => Some((
            t.parse().map_err(|_| "bad idle_ticks")?,
            ns.parse().map_err(|_| "bad idle_ns")?,
            s.parse().map_err(|_| "bad idle_s")?,
        )),
        _ => None,
    };
    Ok(Report {
        rss_before_kb: num("rss_before")?,
        rss_after_kb: num("rss_after")?,
        anon_before_kb: num("anon_before")?,
        anon_after_kb: num("anon_after")?,
        idle,
    })
}

/// In a child process started by this scenario: plays its role and returns
/// true (the caller then exits); false in the bench process itself.
pub fn child_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let parts: Vec<&str> = role.split(':').collect();
    let outcome = match parts.as_slice() {
        ["server", key, n, idle] => match (Contender::from_key(key), n.parse(), idle.parse()) {
            (Some(c), Ok(n), Ok(idle)) => serve(c, n, idle),
            _ => Err(format!("bad role {role:?}")),
        },
        ["connect", host, port, n] => match n.parse() {
            Ok(n) => connect(&format!("{host}:{port}"), n),
            Err(_) => Err(format!("bad role {role:?}")),
        },
        _ => Err(format!("bad role {role:?}")),
    };
    if let Err(e) = outcome {
        eprintln!("memory bench child ({role}): {e}");
        println!("error {e}");
        std::process::exit(1);
    }
    true
}

/// The client side: `n` connections held until stdin closes.
fn connect(addr: &str, n: u64) -> Result<(), String> {
    let mut held = Vec::with_capacity(n as usize);
    for i in 0..n {
        let s = std::net::TcpStream::connect(addr)
            .map_err(|e| format!("connection {i} of {n} to {addr}: {e}"))?;
        held.push(s);
        if i % 512 == 511 {
            // Let the server drain its accept queue (see `serve`).
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    println!("connected {}", held.len());
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    Ok(())
}

/// The server side: accept `n` connections and keep them `contender`'s way.
fn serve(contender: Contender, n: u64, idle_secs: u64) -> Result<(), String> {
    let rt = runtime(0);
    rt.block_on(async move {
        // The longest accept queue the kernel allows by default: a full
        // queue drops SYNs, and each drop costs the client a 1 s retry.
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .map_err(|e| format!("bind: {e}"))?;
        let listener = socket.listen(4096).map_err(|e| format!("listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut poller = Poller::new(Framing::Lines);
        let (rss_before, anon_before) = rss_kb()?;
        println!("listening {addr}");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        let mut extra = String::new();
        let (rss_after, anon_after) = match contender {
            Contender::Tokio => {
                let mut held: Vec<TcpStream> = Vec::new();
                while (held.len() as u64) < n {
                    held.push(accept(&listener).await?);
                }
                let after = rss_kb()?;
                drop(held);
                after
            }
            Contender::FramedRead => {
                let mut held = Vec::new();
                while (held.len() as u64) < n {
                    held.push(FramedRead::new(accept(&listener).await?, LinesCodec::new()));
                }
                for framed in &mut held {
                    if futures::poll!(framed.next()).is_ready() {
                        return Err("an idle FramedRead gave an item".to_owned());
                    }
                }
                let after = rss_kb()?;
                drop(held);
                after
            }
            Contender::Poller | Contender::PollerIdle => {
                if let Contender::PollerIdle = contender {
                    // Every channel watched, none due while measured.
                    poller.set_idle_timeout(Some(Duration::from_secs(3600)));
                }
                poller.add_server(listener);
                let mut accepted = 0;
                while accepted < n {
                    match poller.next().await {
                        Some(Event::Accepted { .. }) => accepted += 1,
                        other => return Err(format!("unexpected event {other:?}")),
                    }
                }
                // Turns until nothing is left to poll: every channel's first read.
                let events = poller.poll(Some(Duration::from_millis(200))).await;
                if !events.is_empty() || poller.len() as u64 != n {
                    return Err(format!(
                        "{} events while idle, {} channels",
                        events.len(),
                        poller.len()
                    ));
                }
                let after = rss_kb()?;
                let (ticks0, ns0) = cpu_time()?;
                let start = Instant::now();
                let events = poller.poll(Some(Duration::from_secs(idle_secs))).await;
                let wall = start.elapsed().as_secs_f64();
                let (ticks1, ns1) = cpu_time()?;
                if !events.is_empty() {
                    return Err(format!("{} events while idle", events.len()));
                }
                extra = format!(
                    " idle_ticks={} idle_ns={} idle_s={wall:.3}",
                    ticks1 - ticks0,
                    ns1 - ns0
                );
                after
            }
        };
        println!(
            "result rss_before={rss_before} rss_after={rss_after} \
             anon_before={anon_before} anon_after={anon_after}{extra}"
        );
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        Ok(())
    })
}

async fn accept(listener: &TcpListener) -> Result<TcpStream, String> {
    listener
        .accept()
        .await
        .map(|(s, _)| s)
        .map_err(|e| format!("accept: {e}"))
}

/// (VmRSS, RssAnon) in kB.
fn rss_kb() -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("no {key} in /proc/self/status"))
    };
    Ok((kb("VmRSS:")?, kb("RssAnon:")?))
}

/// (utime + stime in clock ticks, ns on CPU of this thread).
fn cpu_time() -> Result<(u64, u64), String> {
    let (utime, stime) = cpu_ticks()?;
    let sched = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Ok((utime + stime, sched))
}

/// (soft, hard) RLIMIT_NOFILE from `/proc/self/limits`.
fn nofile_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line["Max open files".len()..].split_whitespace();
    let soft = nums.next()?.parse().ok()?;
    let hard = nums.next()?.parse().ok()?;
    Some((soft, hard))
}
