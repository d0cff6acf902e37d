//! The Poller in a process at its limits: out of fds at accept
//! (RLIMIT_NOFILE), and writing to a peer that is gone with SIGPIPE at its
//! default action (terminate).
//!
//! Each test changes process-wide state, so it runs in a child process:
//! the test re-executes this test binary on one `#[ignore]`d child test,
//! which does nothing unless the environment variable naming it is set.

mod support;

use support::poller_client::poller_with_departed_client;
use support::{bounded, next_event};

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{ChannelId, Error, Event, Framing, PeerAddr, Poller};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UnixListener};

/// How long any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Process-wide state, through the C library (the crate's `rustix` is built
// without its `process` feature, so `rustix::process::{getrlimit, setrlimit}`
// are not available to tests).
// ---------------------------------------------------------------------------

#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
))]
mod sys {
    use std::io;

    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    const SIG_ERR: usize = usize::MAX;

    // No safe wrapper sets a signal's disposition (rustix's is unsafe too).
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }

    /// Restores the default action of SIGPIPE (terminate), which the Rust
    /// runtime sets to "ignore" before `main`: a C host, or a program that
    /// resets it to die quietly when its output pipe closes, runs with the
    /// default.
    pub fn default_sigpipe() -> io::Result<()> {
        // SAFETY: SIG_DFL installs no handler code; it only changes what
        // the kernel does to this process on EPIPE.
        if unsafe { signal(SIGPIPE, SIG_DFL) } == SIG_ERR {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Elsewhere the child tests report themselves skipped.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
)))]
mod sys {
    use std::io;

    pub fn default_sigpipe() -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Runs child test `name` of this binary in a new process with
/// `env_var=value`, and returns its output; fails if it does not finish
/// within `limit`.
async fn run_child(
    name: &str,
    env_var: &str,
    value: &str,
    limit: Duration,
) -> std::process::Output {
    let exe = std::env::current_exe().expect("path of this test binary");
    let child = tokio::process::Command::new(exe)
        .args(["--exact", name, "--nocapture", "--include-ignored"])
        .args(["--test-threads", "1"])
        .env(env_var, value)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    bounded(limit, &format!("child test {name}"), child)
        .await
        .expect("spawning the child test")
}

/// What a child test prints last when it ran to its end.
const CHILD_DONE: &str = "CHILD TEST RAN TO ITS END";

#[track_caller]
fn assert_child_passed(name: &str, out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!(
        "child {name}: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    assert!(out.status.success(), "{report}");
    assert!(
        stdout.contains(CHILD_DONE) && stdout.contains("1 passed"),
        "the child test did not run: {report}"
    );
}

// ---------------------------------------------------------------------------
// 1. Out of fds at accept
// ---------------------------------------------------------------------------

const FD_CHILD_ENV: &str = "IOCHANNELS_FD_CHILD";

/// In a child process with RLIMIT_NOFILE lowered to what is open plus 20:
/// the fd table is filled with clients waiting in the listen backlog, so
/// the poller's accept fails with EMFILE; for 1 s the poller neither ends
/// nor spins (< 30 % of one core); once fds are freed every waiting client
/// is accepted (and its hang-up reported), and a new client is served.
#[tokio::test]
async fn accept_survives_fd_exhaustion() {
    let name = "accept_survives_fd_exhaustion_child";
    let out = run_child(name, FD_CHILD_ENV, "1", Duration::from_secs(60)).await;
    assert_child_passed(name, &out);
}

#[test]
#[ignore = "child process of accept_survives_fd_exhaustion: does nothing unless IOCHANNELS_FD_CHILD is set"]
fn accept_survives_fd_exhaustion_child() {
    if std::env::var_os(FD_CHILD_ENV).is_none() {
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fd_exhaustion());
    println!("{CHILD_DONE}");
}

/// Accepts and hang-ups seen by the fd-exhaustion child.
#[derive(Default)]
struct Tally {
    server: Option<iochannels::ServerId>,
    client_addrs: std::collections::HashSet<SocketAddr>,
    peers: std::collections::HashSet<SocketAddr>,
    accepted: std::collections::HashSet<ChannelId>,
    closed: std::collections::HashSet<ChannelId>,
}

impl Tally {
    /// Checks one event: an `Accepted` of one of our clients (each once),
    /// or the clean `Closed` of one accepted earlier (each once).
    #[track_caller]
    fn record(&mut self, event: Event) {
        match event {
            Event::Accepted {
                server,
                id,
                peer: PeerAddr::Tcp(peer),
            } => {
                assert_eq!(Some(server), self.server);
                assert!(
                    self.client_addrs.contains(&peer),
                    "accepted a stranger {peer}"
                );
                assert!(self.peers.insert(peer), "{peer} accepted twice");
                assert!(self.accepted.insert(id), "{id:?} accepted twice");
            }
            Event::Closed { id, error: None } => {
                assert!(
                    self.accepted.contains(&id),
                    "Closed before Accepted for {id:?}"
                );
                assert!(self.closed.insert(id), "{id:?} closed twice");
            }
            // The last pause may still be reported as fds come back.
            Event::AcceptError { server, error, .. } => {
                assert_eq!(Some(server), self.server);
                assert!(is_emfile(&error), "{error}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn is_emfile(error: &Error) -> bool {
    matches!(error, Error::Io(e) if e.raw_os_error() == Some(24))
}

/// This process's CPU time (user + system, all threads), read from an
/// already open `/proc/self/stat` (no fd is free to open it later).
fn cpu_time(stat: &std::fs::File) -> Duration {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 1024];
    let n = stat.read_at(&mut buf, 0).expect("reading /proc/self/stat");
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ, the unit of /proc times, is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

async fn fd_exhaustion() {
    use std::collections::HashSet;
    use tokio::sync::mpsc;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut poller = Poller::new(Framing::Lines);
    let server = Some(poller.add_server(listener));
    let stat = std::fs::File::open("/proc/self/stat").unwrap();

    // The limit is on fd numbers: set it 20 above the highest open fd, then
    // fill the holes below with /dev/null, so exactly 20 fds are free.
    let open_fds = || -> Vec<u64> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .collect()
    };
    const FREE: u64 = 20;
    let limit = open_fds().into_iter().max().unwrap() + 1 + FREE;
    let mut fillers = Vec::new();
    while (open_fds().len() as u64 - 1) < limit - FREE {
        fillers.push(std::fs::File::open("/dev/null").unwrap());
    }
    match support::set_nofile_soft(limit) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            println!("SKIPPED: cannot set RLIMIT_NOFILE on this target");
            return;
        }
        Err(e) => panic!("lowering RLIMIT_NOFILE: {e}"),
    }
    println!(
        "fd child: soft RLIMIT_NOFILE now {limit}, {FREE} fds free ({} holes filled)",
        fillers.len()
    );

    // Fill the fd table from a second thread while the poller is not polled:
    // every client waits, connected, in the listen backlog (128 deep).
    let (mut clients, error) = std::thread::spawn(move || {
        let mut clients = Vec::new();
        loop {
            // Bounded: a client the backlog cannot take would otherwise hang here.
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(stream) => clients.push(stream),
                Err(e) => return (clients, e),
            }
        }
    })
    .join()
    .unwrap();
    assert_eq!(
        error.raw_os_error(),
        Some(24),
        "clients stopped on {error}, not EMFILE"
    );
    assert!(
        clients.len() >= 10,
        "only {} clients fit under the limit",
        clients.len()
    );
    let total = clients.len();
    let client_addrs: HashSet<SocketAddr> =
        clients.iter().map(|c| c.local_addr().unwrap()).collect();
    println!("fd child: {total} clients connected, then {error}");

    // Now the poller runs: its accept can only fail with EMFILE.
    let (tx, mut events) = mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        while let Some(event) = poller.next().await {
            if tx.send(event).is_err() {
                break;
            }
        }
        // Only reached if the stream ended.
    });
    let cpu_before = cpu_time(&stat);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = cpu_time(&stat) - cpu_before;
    let wall = started.elapsed();
    println!("fd child: {cpu:?} CPU over {wall:?} of accept failing with EMFILE");
    assert!(!task.is_finished(), "the poller stream ended on EMFILE");
    // What an operator sees: EMFILE, with accepting paused 10 ms, 20 ms, ...
    let mut pauses = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            Event::AcceptError {
                server: from,
                error,
                retry_in: Some(pause),
            } if Some(from) == server && is_emfile(&error) => pauses.push(pause),
            other => panic!("only accept errors may come while no fd is free: {other:?}"),
        }
    }
    println!("fd child: accept paused {pauses:?}");
    assert!(
        (1..=12).contains(&pauses.len()),
        "{} accept errors in 1 s",
        pauses.len()
    );
    assert_eq!(pauses[0], Duration::from_millis(10));
    assert!(pauses
        .windows(2)
        .all(|w| w[1] == (w[0] * 2).min(Duration::from_secs(1))));

    assert!(
        cpu.as_secs_f64() < 0.3 * wall.as_secs_f64(),
        "the poller spun on EMFILE: {cpu:?} CPU in {wall:?}"
    );

    // Free 5 fds: the poller accepts again. Those first 5 clients hung up
    // while waiting; they are accepted, then reported Closed.
    drop(clients.drain(..5));
    let mut tally = Tally {
        server,
        client_addrs,
        ..Tally::default()
    };
    let first = bounded(
        Duration::from_secs(3),
        "accepting after fds were freed",
        events.recv(),
    )
    .await
    .expect("poller task ended");
    println!(
        "fd child: accepting resumed {:?} after it started failing",
        started.elapsed()
    );
    tally.record(first);

    // Free everything: every client that waited is accepted and closed.
    drop(clients);
    bounded(
        Duration::from_secs(5),
        "accepting every waiting client",
        async {
            while tally.closed.len() < total {
                tally.record(events.recv().await.expect("poller task ended"));
            }
        },
    )
    .await;
    assert_eq!(tally.accepted.len(), total);
    assert_eq!(
        tally.peers, tally.client_addrs,
        "every waiting client accepted"
    );

    // And a new client is served as usual.
    let mut late = TcpStream::connect(addr).await.unwrap();
    late.write_all(b"after the drought\n").await.unwrap();
    let id = match bounded(STEP, "Accepted for a new client", events.recv())
        .await
        .unwrap()
    {
        Event::Accepted {
            id,
            peer: PeerAddr::Tcp(peer),
            ..
        } => {
            assert_eq!(peer, late.local_addr().unwrap());
            id
        }
        other => panic!("expected Accepted, got {other:?}"),
    };
    match bounded(STEP, "Data from the new client", events.recv())
        .await
        .unwrap()
    {
        Event::Data { id: from, data } => {
            assert_eq!(from, id);
            assert_eq!(&data[..], b"after the drought\n");
        }
        other => panic!("expected Data, got {other:?}"),
    }
    assert!(!task.is_finished());
    task.abort();
}

// ---------------------------------------------------------------------------
// 2. Writing to a peer that is gone, SIGPIPE at its default
// ---------------------------------------------------------------------------

const SIGPIPE_CHILD_ENV: &str = "IOCHANNELS_SIGPIPE_CHILD";

/// With SIGPIPE at its default action (terminate) — as in a program that
/// resets it to die quietly on a closed stdout, or in a C host — a write
/// of one queued chunk to a TCP or Unix peer that is gone is an
/// `Error::Closed`, not a dead process.
#[tokio::test]
async fn write_to_gone_peer_with_default_sigpipe_single_chunk_is_an_error_not_a_kill() {
    let name = "write_to_gone_peer_with_default_sigpipe_child";
    let out = run_child(name, SIGPIPE_CHILD_ENV, "single", Duration::from_secs(60)).await;
    assert_child_passed(name, &out);
}

/// The same with two or more chunks queued (once sent with one `writev`,
/// which has no MSG_NOSIGNAL and killed the process).
#[tokio::test]
async fn write_to_gone_peer_with_default_sigpipe_several_chunks_is_an_error_not_a_kill() {
    let name = "write_to_gone_peer_with_default_sigpipe_child";
    let out = run_child(name, SIGPIPE_CHILD_ENV, "several", Duration::from_secs(60)).await;
    assert_child_passed(name, &out);
}

#[tokio::test]
#[ignore = "child process of write_to_gone_peer_with_default_sigpipe_*: does nothing unless IOCHANNELS_SIGPIPE_CHILD is set"]
async fn write_to_gone_peer_with_default_sigpipe_child() {
    let Some(mode) = std::env::var_os(SIGPIPE_CHILD_ENV) else {
        return;
    };
    if let Err(e) = sys::default_sigpipe() {
        assert_eq!(
            e.kind(),
            io::ErrorKind::Unsupported,
            "signal(SIGPIPE, SIG_DFL): {e}"
        );
        println!("SKIPPED: cannot reset SIGPIPE on this target\n{CHILD_DONE}");
        return;
    }
    // (Unix or TCP, chunks, chunk size): each must end in Closed(Some(Error::Closed)).
    let cases: &[(bool, usize, usize)] = match mode.to_str() {
        Some("single") => &[(true, 1, 2), (false, 1, 16 * 1024 * 1024)],
        Some("several") => &[(true, 2, 1), (false, 2, 8 * 1024 * 1024)],
        other => panic!("unknown mode {other:?}"),
    };
    for &(unix, chunks, size) in cases {
        let case = format!(
            "{} peer gone, {chunks} x {size} bytes",
            if unix { "Unix" } else { "TCP" }
        );
        println!("sigpipe child: {case}");
        let _dir;
        let (mut poller, id) = if unix {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("gone.sock");
            let mut poller = Poller::new(Framing::Lines);
            poller.add_server(UnixListener::bind(&path).unwrap());
            let client = tokio::net::UnixStream::connect(&path).await.unwrap();
            let id = match next_event(&mut poller).await {
                Event::Accepted { id, .. } => id,
                other => panic!("expected Accepted, got {other:?}"),
            };
            drop(client);
            _dir = dir;
            (poller, id)
        } else {
            poller_with_departed_client().await
        };
        poller.set_write_limits(64 * 1024, 256 * 1024, 64 * 1024 * 1024);
        let chunk = Bytes::from(vec![b'z'; size]);
        for _ in 0..chunks {
            poller.write(id, chunk.clone()).unwrap();
        }
        match next_event(&mut poller).await {
            Event::Closed {
                id: c,
                error: Some(Error::Closed),
            } => assert_eq!(c, id, "{case}"),
            other => panic!("{case}: expected Closed(Some(Closed)), got {other:?}"),
        }
    }
    println!("{CHILD_DONE}");
}
