//! A line-based chat server on one [`Poller`]: TCP and Unix socket clients,
//! an admin console on stdin, and a `--demo` mode that runs many clients
//! in-process and checks that every line reaches every other client once.
//!
//! Shows `Poller` with `add_server` for two kinds of listener, `Framing::Lines`,
//! `Channel::stdio()` registered in the same poller as the clients, zero-copy
//! broadcast (one `Bytes` per line, cloned to each receiver), flow control
//! (`Error::QueueFull` disconnects a client that does not read), graceful
//! `close` and `close_all`, a `PollerHandle` replying from a spawned task
//! (`/slow`), and the poller's idle timeout (`--idle-timeout`).
//!
//! Run with: cargo run --example chat
//!  join with: nc 127.0.0.1 7878   (or: nc -U $TMPDIR/iochannels-chat.sock)
//!  self-test: cargo run --example chat -- --demo 50
//!
//! Clients send lines; each line goes to every other client as `NICK: line`.
//! Commands: `/nick NAME`, `/who`, `/slow TEXT` (answered a moment later,
//! from another task, as `* slow: TEXT`), `/quit`. The console (stdin) takes
//! `/who`, `/say TEXT`, `/kick NICK`, `/stats` (the poller's counters and
//! the busiest clients) and `/shutdown`. Lines starting with `*`
//! are notices from the server.
//!
//! Options: `--tcp ADDR` (default 127.0.0.1:7878), `--unix PATH` (default
//! `$TMPDIR/iochannels-chat.sock`), `--no-unix`, `--idle-timeout SECS` (a
//! client that sends nothing for that long is disconnected; the others get
//! `* NICK left (idle)`), `--stats-every SECS` (the `/stats` report on
//! stderr that often), `--tls ADDR --tls-cert PEM --tls-key PEM` (built
//! with `--features tls`: the same chat over TLS on ADDR too, so
//! `openssl s_client` and `nc` clients talk to each other), `--demo N`. At start the server prints
//! `chat: listening on tcp ADDR [and unix PATH]` on stderr.
//!
//! The idle timeout is the poller's, so it also closes a console left
//! silent that long (the server goes on); and the idle client gets no
//! goodbye line: the poller has begun closing it when the chat hears of it.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use iochannels::{
    Channel, ChannelId, Error, Event, FramedChannel, Framing, PeerAddr, Poller, UnixSocketListener,
};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: chat [--tcp ADDR] [--unix PATH | --no-unix] [--idle-timeout SECS] [--stats-every SECS] [--tls ADDR --tls-cert PEM --tls-key PEM] | chat --demo N";
const DEFAULT_TCP: &str = "127.0.0.1:7878";
const SOCKET_NAME: &str = "iochannels-chat.sock";
/// Longest line a client may send; a longer one ends that client.
const MAX_LINE: usize = 64 * 1024;
/// Longest nick, in characters.
const MAX_NICK: usize = 32;
/// How long closing may wait for a client that does not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/slow` takes to answer.
const SLOW_DELAY: Duration = Duration::from_millis(200);
/// Lines each demo client sends.
const DEMO_LINES: usize = 20;
/// The whole demo must finish within this.
const DEMO_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let code = match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chat: {e}");
            1
        }
    };
    // `run` has returned: the socket file's guard has removed it.
    std::process::exit(code);
}

async fn run() -> Result<i32, BoxError> {
    match Options::parse(std::env::args().skip(1))? {
        Options::Serve {
            tcp,
            unix,
            idle,
            stats_every,
            tls,
        } => {
            serve_forever(&tcp, unix.as_deref(), idle, stats_every, tls).await?;
            Ok(0)
        }
        Options::Demo { clients } => demo(clients).await,
    }
}

// ---------------------------------------------------------------------------
// Command line

/// Where to serve TLS, and with what certificate (read only with `tls`).
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
struct TlsOptions {
    addr: String,
    cert: PathBuf,
    key: PathBuf,
}

enum Options {
    Serve {
        tcp: String,
        unix: Option<PathBuf>,
        idle: Option<Duration>,
        stats_every: Option<Duration>,
        /// `--tls ADDR --tls-cert PEM --tls-key PEM` (feature `tls`).
        tls: Option<TlsOptions>,
    },
    Demo {
        clients: usize,
    },
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut args = args;
        let mut tcp = None;
        let mut unix = None;
        let mut no_unix = false;
        let mut demo = None;
        let mut idle = None;
        let mut stats_every = None;
        let (mut tls_addr, mut tls_cert, mut tls_key) = (None, None, None);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--tcp" => tcp = Some(value("--tcp")?),
                "--unix" => unix = Some(PathBuf::from(value("--unix")?)),
                "--no-unix" => no_unix = true,
                "--idle-timeout" => {
                    idle = Some(seconds("--idle-timeout", &value("--idle-timeout")?)?)
                }
                "--tls" => tls_addr = Some(value("--tls")?),
                "--tls-cert" => tls_cert = Some(PathBuf::from(value("--tls-cert")?)),
                "--tls-key" => tls_key = Some(PathBuf::from(value("--tls-key")?)),
                "--stats-every" => {
                    stats_every = Some(seconds("--stats-every", &value("--stats-every")?)?)
                }
                "--demo" => {
                    let n = value("--demo")?;
                    match n.parse::<usize>() {
                        Ok(n) if n >= 1 => demo = Some(n),
                        _ => {
                            return Err(format!(
                                "--demo needs a number of clients >= 1, not {n:?}\n{USAGE}"
                            ))
                        }
                    }
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if no_unix && unix.is_some() {
            return Err(format!("--unix and --no-unix exclude each other\n{USAGE}"));
        }
        let tls = match (tls_addr, tls_cert, tls_key) {
            (None, None, None) => None,
            (Some(addr), Some(cert), Some(key)) if cfg!(feature = "tls") => {
                Some(TlsOptions { addr, cert, key })
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(format!(
                    "--tls needs the example built with `--features tls`\n{USAGE}"
                ))
            }
            _ => {
                return Err(format!(
                    "--tls, --tls-cert and --tls-key go together\n{USAGE}"
                ))
            }
        };
        if let Some(clients) = demo {
            if tcp.is_some() || unix.is_some() || no_unix || idle.is_some() || stats_every.is_some()
            {
                return Err(format!(
                    "--demo picks its own settings: no --tcp/--unix/--no-unix/--idle-timeout/--stats-every\n{USAGE}"
                ));
            }
            return Ok(Options::Demo { clients });
        }
        let unix = match (no_unix, unix) {
            (true, _) => None,
            (false, Some(path)) => Some(path),
            (false, None) => Some(std::env::temp_dir().join(SOCKET_NAME)),
        };
        Ok(Options::Serve {
            tcp: tcp.unwrap_or_else(|| DEFAULT_TCP.to_string()),
            unix,
            idle,
            stats_every,
            tls,
        })
    }
}

/// A positive number of seconds, for option `name`.
fn seconds(name: &str, secs: &str) -> Result<Duration, String> {
    match secs
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{name} needs a number of seconds > 0, not {secs:?}\n{USAGE}"
        )),
    }
}

// ---------------------------------------------------------------------------
// Listening

/// Binds a Unix listener at `path`. `UnixSocketListener` probes a socket
/// file left by a crashed run (removed only if nobody answers; a live
/// server or a non-socket file is left alone and this fails) and removes its
/// file when it is dropped — when the poller closes, on every way out.
/// Its errors name the path.
async fn bind_unix(path: &Path) -> Result<UnixSocketListener, BoxError> {
    UnixSocketListener::bind(path)
        .await
        .map_err(|e| e.to_string().into())
}

async fn bind_tcp(addr: &str) -> Result<TcpListener, BoxError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on tcp {addr}: {e}").into())
}

/// The interactive server: listens, takes the console, serves until
/// `/shutdown`, SIGINT or SIGTERM.
async fn serve_forever(
    tcp: &str,
    unix: Option<&Path>,
    idle: Option<Duration>,
    stats_every: Option<Duration>,
    tls: Option<TlsOptions>,
) -> Result<(), BoxError> {
    let mut poller = Poller::new(Framing::Lines);
    poller.set_max_frame_len(MAX_LINE);
    poller.set_close_timeout(CLOSE_TIMEOUT);
    // The poller closes a silent client: `Closed { error: Some(TimedOut) }`.
    poller.set_idle_timeout(idle);

    let unix = match unix {
        Some(path) => Some(bind_unix(path).await?),
        None => None,
    };
    let tcp = bind_tcp(tcp).await?;
    let tcp_addr = tcp.local_addr()?;
    poller.add_server(tcp);
    match unix {
        Some(listener) => {
            eprintln!(
                "chat: listening on tcp {tcp_addr} and unix {}",
                listener.path().display()
            );
            poller.add_server(listener);
        }
        None => eprintln!("chat: listening on tcp {tcp_addr}"),
    }

    if let Some(tls) = tls {
        serve_tls(&mut poller, &tls).await?;
    }

    let mut chat = Chat::new(poller, true);
    let console = Channel::stdio().map_err(|e| format!("cannot open the console: {e}"))?;
    chat.set_console(console.framed(Framing::Lines));
    eprintln!("chat: console on stdin: /who, /say TEXT, /kick NICK, /stats, /shutdown");

    chat.stats_every = stats_every;
    chat.run(stop_signal()).await;
    eprintln!("chat: shut down");
    Ok(())
}

/// Serves TLS on `tls.addr` in the same chat: the poller runs each
/// handshake in a task of its own and announces the client once it is done.
#[cfg(feature = "tls")]
async fn serve_tls(poller: &mut Poller, tls: &TlsOptions) -> Result<(), BoxError> {
    let config = iochannels::tls::server_config(&tls.cert, &tls.key)?;
    let listener = bind_tcp(&tls.addr).await?;
    eprintln!("chat: listening on tls {}", listener.local_addr()?);
    poller.add_tls_server(listener, iochannels::tls::TlsAcceptor::from(config));
    Ok(())
}

#[cfg(not(feature = "tls"))]
async fn serve_tls(_poller: &mut Poller, _tls: &TlsOptions) -> Result<(), BoxError> {
    Err("--tls needs the example built with `--features tls`".into())
}

/// Resolves on SIGINT or SIGTERM; never, if they cannot be caught.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("chat: cannot catch signals; stop with /shutdown");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => eprintln!("chat: interrupted"),
        _ = term.recv() => eprintln!("chat: terminated"),
    }
}

// ---------------------------------------------------------------------------
// The chat itself

/// Everything the server knows: the poller, who is who, and the console.
struct Chat {
    poller: Poller,
    /// Every client, by channel; the console is not in here.
    nicks: HashMap<ChannelId, String>,
    /// The admin console (stdin/stdout), while it is open.
    console: Option<ChannelId>,
    /// Number of the last default nick handed out.
    guests: u64,
    /// Log joins, leaves and nick changes on stderr.
    verbose: bool,
    /// Print the poller's counters to stderr this often (`--stats-every`).
    stats_every: Option<Duration>,
    /// `/shutdown` was given.
    shutting_down: bool,
}

impl Chat {
    fn new(poller: Poller, verbose: bool) -> Chat {
        Chat {
            poller,
            nicks: HashMap::new(),
            console: None,
            stats_every: None,
            guests: 0,
            verbose,
            shutting_down: false,
        }
    }

    fn set_console(&mut self, console: FramedChannel) {
        self.console = Some(self.poller.register(console));
    }

    /// Serves until `/shutdown` or `stop`, then closes every channel.
    async fn run(&mut self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let every = self.stats_every.unwrap_or(Duration::from_secs(3600));
        let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        while !self.shutting_down {
            tokio::select! {
                event = self.poller.next() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
                _ = stats.tick(), if self.stats_every.is_some() => eprint!("{}", self.stats_report()),
                () = &mut stop => {
                    self.broadcast(None, Bytes::from_static(b"* server shutting down\n"));
                    break;
                }
            }
        }
        self.poller.close_all().await;
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Accepted { id, peer, .. } => self.on_join(id, &peer),
            Event::Data { id, data } if Some(id) == self.console => self.on_console(&data),
            Event::Data { id, data } => self.on_line(id, &data),
            Event::Closed { id, error } if Some(id) == self.console => {
                self.console = None;
                match error {
                    None => eprintln!("chat: console closed (stdin ended); still serving"),
                    Some(e) => eprintln!("chat: console failed ({e}); still serving"),
                }
            }
            Event::Closed { id, error } => self.on_leave(id, error),
            _ => {}
        }
    }

    fn on_join(&mut self, id: ChannelId, peer: &PeerAddr) {
        let nick = loop {
            self.guests += 1;
            let nick = format!("guest{}", self.guests);
            if self.find(&nick).is_none() {
                break nick;
            }
        };
        if self.verbose {
            eprintln!("chat: {nick} joined from {peer}");
        }
        let notice = Bytes::from(format!("* {nick} joined\n"));
        self.broadcast(Some(id), notice);
        self.reply(
            id,
            format!("* welcome, you are {nick} (commands: /nick NAME, /who, /slow TEXT, /quit)\n"),
        );
        self.nicks.insert(id, nick);
    }

    fn on_leave(&mut self, id: ChannelId, error: Option<Error>) {
        let Some(nick) = self.nicks.remove(&id) else {
            return;
        };
        if self.verbose {
            match &error {
                None => eprintln!("chat: {nick} left"),
                Some(e) => eprintln!("chat: {nick} left ({e})"),
            }
        }
        let why = match error {
            Some(Error::TimedOut) => " (idle)",
            _ => "",
        };
        self.broadcast(None, Bytes::from(format!("* {nick} left{why}\n")));
    }

    /// One line from a client: a command, or a message for the others.
    fn on_line(&mut self, id: ChannelId, data: &[u8]) {
        let line = trim_line(data);
        if line.is_empty() {
            return;
        }
        if line[0] == b'/' {
            let line = String::from_utf8_lossy(line);
            let (command, arg) = split_command(&line);
            match command {
                "/nick" => self.cmd_nick(id, arg),
                "/who" => self.reply(id, self.who_line()),
                "/slow" => self.cmd_slow(id, arg),
                "/quit" => {
                    self.reply(id, "* bye\n");
                    let _ = self.poller.close(id);
                }
                _ => self.reply(id, format!("* unknown command {command}\n")),
            }
            return;
        }
        let Some(nick) = self.nicks.get(&id) else {
            return;
        };
        // One buffer per line, shared by every receiver.
        let mut out = BytesMut::with_capacity(nick.len() + 2 + line.len() + 1);
        out.put_slice(nick.as_bytes());
        out.put_slice(b": ");
        out.put_slice(line);
        out.put_u8(b'\n');
        self.broadcast(Some(id), out.freeze());
    }

    /// Answers from a spawned task, later, through a `PollerHandle`: how
    /// long work (here a sleep) replies without holding up the poller's
    /// task. If the client has left meanwhile, the write fails with
    /// `Closed` and the answer is dropped.
    fn cmd_slow(&mut self, id: ChannelId, text: &str) {
        let handle = self.poller.handle();
        let answer = Bytes::from(format!("* slow: {text}\n"));
        tokio::spawn(async move {
            tokio::time::sleep(SLOW_DELAY).await;
            let _ = handle.write(id, answer);
        });
    }

    fn cmd_nick(&mut self, id: ChannelId, name: &str) {
        if let Err(why) = check_nick(name) {
            self.reply(id, format!("* invalid nick: {why}\n"));
            return;
        }
        match self.find(name) {
            Some(owner) if owner == id => {
                self.reply(id, format!("* you are now {name}\n"));
                return;
            }
            Some(_) => {
                self.reply(id, format!("* {name} is taken\n"));
                return;
            }
            None => {}
        }
        let Some(old) = self.nicks.insert(id, name.to_string()) else {
            return;
        };
        if self.verbose {
            eprintln!("chat: {old} is now {name}");
        }
        self.reply(id, format!("* you are now {name}\n"));
        self.broadcast(Some(id), Bytes::from(format!("* {old} is now {name}\n")));
    }

    /// One line from the admin console.
    fn on_console(&mut self, data: &[u8]) {
        let line = String::from_utf8_lossy(trim_line(data));
        if line.is_empty() {
            return;
        }
        let (command, arg) = split_command(&line);
        match command {
            "/who" => {
                let who = self.who_line();
                self.tell_console(who);
            }
            "/say" if !arg.is_empty() => {
                self.broadcast(None, Bytes::from(format!("* admin: {arg}\n")));
                let n = self.nicks.len();
                let plural = if n == 1 { "" } else { "s" };
                self.tell_console(format!("* said to {n} client{plural}\n"));
            }
            "/kick" if !arg.is_empty() => match self.find(arg) {
                Some(id) => {
                    self.reply(id, "* you were kicked by the admin\n");
                    let _ = self.poller.close(id);
                    self.tell_console(format!("* kicked {arg}\n"));
                }
                None => self.tell_console(format!("* no such nick {arg}\n")),
            },
            "/stats" => {
                let report = self.stats_report();
                self.tell_console(report);
            }
            "/shutdown" => {
                self.tell_console("* shutting down\n");
                self.broadcast(None, Bytes::from_static(b"* server shutting down\n"));
                self.shutting_down = true;
            }
            _ => self.tell_console("* commands: /who, /say TEXT, /kick NICK, /stats, /shutdown\n"),
        }
    }

    /// The poller's totals and the three busiest clients, as `* stats:` lines.
    fn stats_report(&self) -> String {
        let t = self.poller.totals();
        let c = t.closed;
        let mut report = format!(
            "* stats: {} channels ({} registered, {} accepted, {} accept errors), \
             {} paused now ({} pauses), {} events, {} turns; closed: {} by peers, \
             {} here, {} too long, {} not reading, {} idle, {} failed\n",
            t.channels,
            t.registered,
            t.accepted,
            t.accept_errors,
            t.paused,
            t.pauses,
            t.events,
            t.turns,
            c.peer_eof,
            c.local,
            c.frame_too_long,
            c.queue_full,
            c.idle_timeout,
            c.error
        );
        let mut busiest: Vec<(u64, &str, iochannels::ChannelStats)> = self
            .nicks
            .iter()
            .filter_map(|(id, nick)| {
                let s = self.poller.stats(*id)?;
                Some((s.bytes_in + s.bytes_out, nick.as_str(), s))
            })
            .collect();
        busiest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        for (_, nick, s) in busiest.into_iter().take(3) {
            report.push_str(&format!(
                "* stats: {nick}: {} lines ({} B) in, {} writes ({} B) out, {} B queued\n",
                s.frames_in, s.bytes_in, s.frames_out, s.bytes_out, s.queued
            ));
        }
        report
    }

    /// `* online (N): nick nick ...`, sorted.
    fn who_line(&self) -> String {
        let mut nicks: Vec<&str> = self.nicks.values().map(String::as_str).collect();
        nicks.sort_unstable();
        format!("* online ({}): {}\n", nicks.len(), nicks.join(" "))
    }

    fn find(&self, nick: &str) -> Option<ChannelId> {
        self.nicks
            .iter()
            .find_map(|(&id, n)| (n == nick).then_some(id))
    }

    fn tell_console(&mut self, text: impl Into<Bytes>) {
        if let Some(console) = self.console {
            self.send(console, text.into());
        }
    }

    fn reply(&mut self, id: ChannelId, text: impl Into<Bytes>) {
        self.send(id, text.into());
    }

    /// Sends `line` to every client but `except`: the same `Bytes` to all,
    /// so the line is never copied.
    fn broadcast(&mut self, except: Option<ChannelId>, line: Bytes) {
        let receivers: Vec<ChannelId> = self
            .nicks
            .keys()
            .copied()
            .filter(|&id| Some(id) != except)
            .collect();
        for id in receivers {
            self.send(id, line.clone());
        }
    }

    /// Queues `data` for `id`. A client whose queue is full is not reading:
    /// it is disconnected. Other failures mean it is already going.
    fn send(&mut self, id: ChannelId, data: Bytes) {
        match self.poller.write(id, data) {
            Ok(()) => {}
            Err(Error::QueueFull { limit }) => {
                let who = self.nicks.get(&id).map_or("the console", String::as_str);
                eprintln!("chat: disconnecting {who}: not reading ({limit} bytes queued)");
                // Not gracefully: it would not read what is queued anyway.
                let _ = self.poller.abort(id);
            }
            Err(_) => {}
        }
    }
}

/// The line without its `\n` or `\r\n`.
fn trim_line(data: &[u8]) -> &[u8] {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.strip_suffix(b"\r").unwrap_or(data)
}

/// `"/cmd  rest "` → `("/cmd", "rest")`.
fn split_command(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((command, arg)) => (command, arg.trim()),
        None => (line, ""),
    }
}

fn check_nick(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NICK {
        return Err(format!("it must be 1 to {MAX_NICK} characters"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("no spaces or control characters".to_string());
    }
    if name.starts_with('*') || name.contains(':') {
        return Err("no ':' and no leading '*'".to_string());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// --demo N: the server and N clients in one process

/// What one demo client did.
struct ClientReport {
    sent: usize,
    received: usize,
    /// When it started sending (all clients had joined).
    started: Instant,
    /// When it had received every line it expected.
    finished: Instant,
}

async fn demo(clients: usize) -> Result<i32, BoxError> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let path = dir.path().join(SOCKET_NAME);
    let unix = bind_unix(&path).await?;
    let tcp = bind_tcp("127.0.0.1:0").await?;
    let tcp_addr = tcp.local_addr()?;
    eprintln!(
        "chat: listening on tcp {tcp_addr} and unix {}",
        path.display()
    );

    let mut poller = Poller::new(Framing::Lines);
    poller.set_max_frame_len(MAX_LINE);
    poller.set_close_timeout(CLOSE_TIMEOUT);
    poller.add_server(tcp);
    poller.add_server(unix);
    let mut chat = Chat::new(poller, false);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        chat.run(async move {
            let _ = stop_rx.await;
        })
        .await;
    });

    let started = Instant::now();
    let joined = Arc::new(tokio::sync::Barrier::new(clients));
    let tasks: Vec<_> = (0..clients)
        .map(|k| {
            let joined = Arc::clone(&joined);
            let path = path.clone();
            tokio::spawn(async move {
                let channel = if k % 2 == 0 {
                    Channel::connect_tcp(tcp_addr).await
                } else {
                    Channel::connect_unix(&path).await
                };
                let channel = channel.map_err(|e| format!("client{k}: {e}"))?;
                demo_client(k, clients, channel.framed(Framing::Lines), &joined)
                    .await
                    .map_err(|e| format!("client{k}: {e}"))
            })
        })
        .collect();

    let outcome = tokio::time::timeout(DEMO_TIMEOUT, futures::future::join_all(tasks)).await;
    let _ = stop_tx.send(());
    let server_done = tokio::time::timeout(CLOSE_TIMEOUT * 2, server).await;
    let elapsed = started.elapsed();

    let Ok(results) = outcome else {
        println!("demo FAILED: not finished within {DEMO_TIMEOUT:?}");
        return Ok(1);
    };
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(Ok(report)) => reports.push(report),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("client task failed: {e}")),
        }
    }
    match server_done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => errors.push(format!("server task failed: {e}")),
        Err(_) => errors.push("server did not shut down in time".to_string()),
    }

    let sent: usize = reports.iter().map(|r| r.sent).sum();
    let received: usize = reports.iter().map(|r| r.received).sum();
    let expected = clients * (clients - 1) * DEMO_LINES;
    let exchange = match (
        reports.iter().map(|r| r.started).min(),
        reports.iter().map(|r| r.finished).max(),
    ) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    };
    let tcp_clients = clients.div_ceil(2);
    println!(
        "clients: {clients} ({tcp_clients} tcp, {} unix)",
        clients - tcp_clients
    );
    println!("lines sent: {sent} ({DEMO_LINES} each)");
    println!("lines received: {received} (expected {expected})");
    println!("elapsed: {:.3} s", elapsed.as_secs_f64());
    println!(
        "exchange: {:.3} s, {:.0} lines/s delivered",
        exchange.as_secs_f64(),
        received as f64 / exchange.as_secs_f64().max(1e-9)
    );
    if !errors.is_empty() || received != expected || sent != clients * DEMO_LINES {
        println!("demo FAILED: {} client(s) went wrong", errors.len());
        for e in errors.iter().take(10) {
            println!("  {e}");
        }
        return Ok(1);
    }
    println!("demo OK");
    Ok(0)
}

/// One demo client: takes nick `client{k}`, waits for all to join, sends
/// its lines, checks it gets every other client's lines exactly once and in
/// order, then quits.
async fn demo_client(
    k: usize,
    clients: usize,
    mut chat: FramedChannel,
    joined: &tokio::sync::Barrier,
) -> Result<ClientReport, String> {
    let me = format!("client{k}");
    chat.write(format!("/nick {me}\n"))
        .await
        .map_err(|e| e.to_string())?;
    let confirm = format!("* you are now {me}\n");
    loop {
        let line = next_line(&mut chat).await?;
        if line == confirm {
            break;
        }
        if !line.starts_with('*') {
            return Err(format!("got {line:?} before joining"));
        }
    }
    joined.wait().await;

    let started = Instant::now();
    for i in 0..DEMO_LINES {
        chat.write(format!("msg {k}.{i}\n"))
            .await
            .map_err(|e| e.to_string())?;
    }

    // next[j]: the number of the line expected next from client j.
    let mut next = vec![0usize; clients];
    let expected = (clients - 1) * DEMO_LINES;
    let mut received = 0;
    while received < expected {
        let line = next_line(&mut chat).await?;
        if line.starts_with('*') {
            continue;
        }
        let (j, i) = parse_demo_line(&line).ok_or_else(|| format!("unexpected line {line:?}"))?;
        if j == k || j >= clients {
            return Err(format!("got {line:?}: not from another client"));
        }
        if i != next[j] {
            return Err(format!(
                "got {line:?} when line {j}.{} was due: lost, repeated or reordered",
                next[j]
            ));
        }
        next[j] += 1;
        received += 1;
    }
    let finished = Instant::now();

    chat.write("/quit\n").await.map_err(|e| e.to_string())?;
    loop {
        match chat.read().await.map_err(|e| e.to_string())? {
            Some(line) if &line[..] == b"* bye\n" => break,
            Some(line) if line.starts_with(b"*") => {}
            Some(line) => return Err(format!("extra line {:?}", String::from_utf8_lossy(&line))),
            None => return Err("closed before * bye".to_string()),
        }
    }
    match chat.read().await {
        Ok(None) => {}
        Ok(Some(line)) => {
            return Err(format!(
                "got {:?} after * bye",
                String::from_utf8_lossy(&line)
            ))
        }
        Err(e) => return Err(format!("after * bye: {e}")),
    }
    Ok(ClientReport {
        sent: DEMO_LINES,
        received,
        started,
        finished,
    })
}

async fn next_line(chat: &mut FramedChannel) -> Result<String, String> {
    match chat.read().await {
        Ok(Some(line)) => Ok(String::from_utf8_lossy(&line).into_owned()),
        Ok(None) => Err("server closed the connection".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `"clientJ: msg J.I\n"` → `(J, I)`, with the nick checked against J.
fn parse_demo_line(line: &str) -> Option<(usize, usize)> {
    let (nick, text) = line.strip_suffix('\n')?.split_once(": ")?;
    let (j, i) = text.strip_prefix("msg ")?.split_once('.')?;
    let (j, i) = (j.parse().ok()?, i.parse().ok()?);
    (nick.strip_prefix("client")?.parse::<usize>().ok()? == j).then_some((j, i))
}
