//! The real-socket scenarios (issue #15): `poller_net` (many connections
//! into one consumer) and `lines_net` (one connection cut into lines), over
//! TCP on 127.0.0.1 and over a Unix socket, with the senders in another
//! process (this bench binary again, `sender.rs`) so that each side holds
//! only its own N fds.
//!
//! The connections of a case are made once and reused by every contender
//! and repetition: the sender process connects N sockets to a listener of
//! the bench process (backlog 4096), which accepts them all. A run hands
//! the accepted sockets to a contender, has the sender make its lines
//! (`prepare`, untimed), tells it to write them (`send`) and starts the
//! clock; the clock covers the
//! contender registering the sockets (with its reactor) and reading every
//! line; then (untimed) the contender gives the sockets back (deregistered) and the
//! sender confirms it wrote everything. Each run reads exactly what was
//! sent, so no byte is left for the next one. Every contender's frames are
//! tallied and checked, the ceiling's newlines and bytes.
//!
//! Files: `sender.rs` (the sender process), `ceiling.rs` (the raw epoll read
//! loop), `poller.rs` and `lines.rs` (the scenarios); `instructions_per_line.sh`
//! counts one row's instructions per line under callgrind.

mod ceiling;
mod lines;
mod poller;
mod sender;

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use iochannels::Channel;
use tokio::io::AsyncRead;

use crate::harness::{raise_nofile, Harness, Kid};
use crate::lines::{make_lines, Tally};

pub use self::sender::child_role;

/// The sender process's role variable.
const ROLE: &str = "IOCHANNELS_BENCH_NET_ROLE";
/// Fds a process needs besides the connections.
const SPARE_FDS: u64 = 64;
/// Any single run still reading after this is stuck.
const GUARD: Duration = Duration::from_secs(60);

pub fn run(h: &Harness) {
    poller::run(h);
    lines::run(h);
}

/// TCP or Unix, as `IOCHANNELS_BENCH_NET=tcp` or `=unix` narrows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Unix,
}

impl Transport {
    fn wanted() -> Vec<Transport> {
        let only = std::env::var("IOCHANNELS_BENCH_NET").unwrap_or_default();
        [Transport::Tcp, Transport::Unix]
            .into_iter()
            .filter(|t| only.is_empty() || only.split(',').any(|w| w == t.key()))
            .collect()
    }

    fn key(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP 127.0.0.1",
            Transport::Unix => "Unix socket",
        }
    }
}

/// A socket type of the bench: its std form (held between runs), its
/// tokio form and its `Channel`.
pub trait Sock: AsRawFd + Sized + Send + 'static {
    type Tokio: AsyncRead + Unpin + Send + 'static;
    /// Registers with the current tokio runtime.
    fn into_tokio(self) -> Self::Tokio;
    /// Deregisters from the tokio runtime.
    fn from_tokio(io: Self::Tokio) -> Self;
    fn into_channel(self) -> Channel {
        Self::tokio_channel(self.into_tokio())
    }
    fn tokio_channel(io: Self::Tokio) -> Channel;
    fn from_channel(channel: Channel) -> Self;
    /// One non-blocking read.
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn nonblocking(&self) -> io::Result<()>;
}

/// `Sock` for a std socket type, its tokio type and its `Channel` variant:
/// the same calls on each.
macro_rules! sock {
    ($std:ty, $tokio:ty, $variant:ident, $what:literal) => {
        impl Sock for $std {
            type Tokio = $tokio;
            fn into_tokio(self) -> Self::Tokio {
                <$tokio>::from_std(self).expect(concat!("registering a ", $what))
            }
            fn from_tokio(io: Self::Tokio) -> Self {
                io.into_std().expect(concat!("deregistering a ", $what))
            }
            fn tokio_channel(io: Self::Tokio) -> Channel {
                Channel::from(io)
            }
            fn from_channel(channel: Channel) -> Self {
                match channel {
                    Channel::$variant(io) => Self::from_tokio(io),
                    other => panic!("not a {} channel: {other:?}", $what),
                }
            }
            fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
                io::Read::read(&mut &*self, buf)
            }
            fn nonblocking(&self) -> io::Result<()> {
                self.set_nonblocking(true)
            }
        }
    };
}

sock!(
    std::net::TcpStream,
    tokio::net::TcpStream,
    Tcp,
    "TCP socket"
);
sock!(
    std::os::unix::net::UnixStream,
    tokio::net::UnixStream,
    Unix,
    "Unix socket"
);

/// What a contender gives back: the connections, what it read, and when
/// it had read the last line (the end of the timed part).
pub type Got<S> = (Vec<S>, Tally, Instant);

/// One case's connections and the sender process on their other ends.
pub struct Net<S> {
    conns: Vec<S>,
    /// Always there but while dropping.
    sender: Option<Kid>,
    /// The last load's (lines, len) and the tally its lines make.
    expected: ((usize, usize), Tally),
    /// Keeps the Unix socket's directory until the connections go.
    _dir: Option<tempfile::TempDir>,
}

/// What one run asks of the sender: `active` of the connections (spread
/// evenly) each get `per_active` lines of `len` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub active: usize,
    pub per_active: usize,
    pub len: usize,
}

impl Load {
    pub fn lines(&self) -> u64 {
        (self.active * self.per_active) as u64
    }

    /// The tally of one active connection's lines.
    fn expected(&self) -> Tally {
        Tally::of_delimited(&make_lines(self.per_active, self.len), b'\n')
    }

    /// The tally every contender must reach, from one connection's.
    fn scaled(&self, one: Tally) -> Tally {
        let k = self.active as u64;
        Tally {
            frames: one.frames * k,
            bytes: one.bytes * k,
            first_bytes: one.first_bytes * k,
        }
    }
}

/// Whether this process (and so the sender, which inherits the limit) may
/// hold `n` connections; prints why not when it may not.
fn fds_for(n: usize) -> bool {
    let want = n as u64 + SPARE_FDS;
    let limit = raise_nofile(want);
    if limit < want {
        println!("(skipped: {n} connections need {want} fds, RLIMIT_NOFILE allows {limit})");
    }
    limit >= want
}

impl Net<std::net::TcpStream> {
    fn tcp(rt: &tokio::runtime::Runtime, n: usize) -> Result<Self, String> {
        // The longest accept queue the kernel allows by default: a full
        // queue drops SYNs, and each drop costs the sender a 1 s retry.
        let listener = rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
            socket
                .bind("127.0.0.1:0".parse().expect("an address"))
                .map_err(|e| format!("bind: {e}"))?;
            let listener = socket.listen(4096).map_err(|e| format!("listen: {e}"))?;
            listener.into_std().map_err(|e| format!("listener: {e}"))
        })?;
        listener.set_nonblocking(false).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        Net::connected(&format!("tcp {addr}"), n, None, || {
            listener.accept().map(|(s, _)| s)
        })
    }
}

impl Net<std::os::unix::net::UnixStream> {
    fn unix(n: usize) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let path = dir.path().join("bench.sock");
        let listener =
            std::os::unix::net::UnixListener::bind(&path).map_err(|e| format!("bind: {e}"))?;
        let target = format!("unix {}", path.display());
        Net::connected(&target, n, Some(dir), || listener.accept().map(|(s, _)| s))
    }
}

impl<S: Sock> Net<S> {
    /// A sender process that connects `n` sockets to `target` (`tcp ADDR`
    /// or `unix PATH`), and those `n` accepted by `accept`.
    fn connected(
        target: &str,
        n: usize,
        dir: Option<tempfile::TempDir>,
        accept: impl Fn() -> io::Result<S>,
    ) -> Result<Self, String> {
        let mut sender = Kid::spawn(ROLE, "sender")?;
        sender.say(&format!("connect {target} {n}"))?;
        let conns = accept_all(n, accept)?;
        sender.expect("connected")?;
        Ok(Net {
            conns,
            sender: Some(sender),
            expected: ((0, 0), Tally::default()),
            _dir: dir,
        })
    }
}

/// Accepts `n` connections (blocking; the sender connects meanwhile), each
/// made non-blocking for the contenders.
fn accept_all<S: Sock>(n: usize, accept: impl Fn() -> io::Result<S>) -> Result<Vec<S>, String> {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let s = accept().map_err(|e| format!("accepting connection {i} of {n}: {e}"))?;
        s.nonblocking().map_err(|e| e.to_string())?;
        conns.push(s);
    }
    Ok(conns)
}

impl<S: Sock> Net<S> {
    /// One timed run: `read` gets the connections, must read every line of
    /// `load` (returning its tally) and give the connections back.
    fn run(&mut self, load: Load, read: impl FnOnce(Vec<S>, u64) -> Got<S>) -> Duration {
        let conns = std::mem::take(&mut self.conns);
        assert!(!conns.is_empty(), "a previous run lost the connections");
        if self.expected.0 != (load.per_active, load.len) {
            self.expected = ((load.per_active, load.len), load.expected());
        }
        let expected = load.scaled(self.expected.1);
        let sender = self.sender.as_mut().expect("the sender");
        sender
            .say(&format!("prepare {} {}", load.per_active, load.len))
            .and_then(|()| sender.expect("ready"))
            .expect("preparing the sender");
        sender
            .say(&format!("send {}", load.active))
            .expect("starting the sender");
        let start = Instant::now();
        let (conns, got, done) = read(conns, expected.frames);
        let elapsed = done - start;
        let sent = sender.expect("sent").expect("the sender's report");
        assert_eq!(sent, expected.bytes.to_string(), "the sender's byte count");
        got.check_lines(&expected);
        self.conns = conns;
        elapsed
    }
}

impl<S> Drop for Net<S> {
    fn drop(&mut self) {
        // The bench's ends first, then the sender's go with its process,
        // which exits when its stdin closes.
        self.conns.clear();
        if let Some(sender) = self.sender.take() {
            sender.wait();
        }
    }
}

/// The `first_bytes` of a tally that counts only lines and bytes (the ceiling's).
const NOT_COUNTED: u64 = u64::MAX;

/// A tally whose first bytes were `NOT_COUNTED` is checked on lines and bytes only.
trait CheckLines {
    fn check_lines(&self, expected: &Tally);
}

impl CheckLines for Tally {
    fn check_lines(&self, expected: &Tally) {
        if self.first_bytes == NOT_COUNTED {
            assert_eq!(
                (self.frames, self.bytes),
                (expected.frames, expected.bytes),
                "the ceiling counted other lines than were sent"
            );
        } else {
            expected.check("a net contender", self);
        }
    }
}

/// Runs `fut` on `rt`, failing the bench if it is stuck.
pub fn on<F: std::future::Future>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output {
    rt.block_on(async {
        tokio::time::timeout(GUARD, fut)
            .await
            .expect("a run stuck: not every line came")
    })
}

/// One case's connections shared by the closures of a table.
type Shared<S> = RefCell<Net<S>>;

/// Runs `f` on the connections of a new case of `n` connections over
/// `transport`, or prints why the case is skipped.
fn with_net(
    rt: &tokio::runtime::Runtime,
    transport: Transport,
    n: usize,
    f: &mut dyn FnMut(Conns<'_>),
) {
    if !fds_for(n) {
        return;
    }
    match transport {
        Transport::Tcp => match Net::tcp(rt, n) {
            Ok(net) => f(Conns::Tcp(&RefCell::new(net))),
            Err(e) => println!("(skipped: {e})"),
        },
        Transport::Unix => match Net::unix(n) {
            Ok(net) => f(Conns::Unix(&RefCell::new(net))),
            Err(e) => println!("(skipped: {e})"),
        },
    }
}

/// A case's connections, of either transport.
enum Conns<'a> {
    Tcp(&'a Shared<std::net::TcpStream>),
    Unix(&'a Shared<std::os::unix::net::UnixStream>),
}
