//! A line-based chat server on a [`PollerGroup`](iochannels::PollerGroup)
//! of N shards (`--workers N`, default 1): TCP and Unix socket clients, an
//! admin console on stdin, and a `--demo` mode that runs many clients
//! in-process and checks that every line reaches every other client once,
//! whichever shards they are on.
//!
//! Shows `PollerGroup` with `add_server` for two kinds of listener (three
//! with TLS), each `Shard` on its own task of the multi-thread runtime,
//! cross-shard writes by `GroupId`, `Framing::Lines`, `Channel::stdio()`
//! registered in shard 0's poller beside the clients, zero-copy broadcast
//! (one `Bytes` per line, cloned to each receiver), flow control
//! (`Error::QueueFull` disconnects a client that does not read), graceful
//! `close` and group shutdown, a `GroupHandle` replying from a spawned task
//! (`/slow`), and the pollers' idle timeout (`--idle-timeout`).
//!
//! Run with: cargo run --example chat -- --workers 4
//!  join with: nc 127.0.0.1 7878   (or: nc -U $TMPDIR/iochannels-chat.sock)
//!  self-test: cargo run --example chat -- --demo 50 --workers 4
//!
//! Clients send lines; each line goes to every other client as `NICK: line`.
//! Commands: `/nick NAME`, `/who`, `/slow TEXT` (answered a moment later,
//! from another task, as `* slow: TEXT`), `/quit`. The console (stdin) takes
//! `/who`, `/say TEXT`, `/kick NICK`, `/stats` (the pollers' counters summed
//! over the shards, and the busiest clients) and `/shutdown`. Lines starting
//! with `*` are notices from the server.
//!
//! Options: `--workers N` (shards, default 1), `--tcp ADDR` (default
//! 127.0.0.1:7878), `--unix PATH` (default `$TMPDIR/iochannels-chat.sock`),
//! `--no-unix`, `--idle-timeout SECS` (a client that sends nothing for that
//! long is disconnected; the others get `* NICK left (idle)`),
//! `--stats-every SECS` (the `/stats` report on stderr that often),
//! `--tls ADDR --tls-cert PEM --tls-key PEM` (built with `--features tls`:
//! the same chat over TLS on ADDR too, its clients spread over the shards
//! like the others, so `openssl s_client` and `nc` clients talk to each
//! other), `--demo N`. At start the server prints
//! `chat: listening on tcp ADDR [and unix PATH]` on stderr.
//!
//! The idle timeout is the pollers'; the console is exempted from it
//! (`Poller::exempt_from_idle_timeout`). The idle client gets no goodbye
//! line: the poller has begun closing it when the chat hears of it.
//!
//! # How the shards share the room
//!
//! Each shard's task owns its clients: their nicks (`members`), their
//! reads and writes. What the shards share is `room::Room`:
//!
//! - **Lines: no shared lock.** A line is fanned out by its sender's shard
//!   to its own members (plain `Poller::write`s), and handed to every other
//!   shard as *one* message on that shard's bus (an unbounded tokio
//!   `mpsc`, lock-free, one per receiving shard), which that shard fans out
//!   to its members. So a line costs one queue push per other shard, not
//!   one per remote client, and no lock shared by all shards is taken on
//!   the way. Each bus is FIFO per sending shard, so every receiver gets a
//!   sender's lines in the order sent, each once.
//! - **Nicks: one mutex, off the hot path.** Nick uniqueness across shards
//!   needs one authority, so the nick table (nick → `GroupId`) is a
//!   `Mutex` that only joins, leaves, `/nick`, `/who` and `/kick` take:
//!   rare events next to lines.
//! - **Notices: numbered.** Shards hear of a join, rename or leave at
//!   different times, so each such change takes a number under the nick
//!   table's lock, each member keeps the number of its join, and a notice
//!   goes only to members that joined before its change: nobody is told
//!   of a join older than their own, as on one shard. Lines need no
//!   number: they reach whoever is in the room when they arrive.
//! - **Replies to one client** on another shard (`/kick`, `/slow`) go
//!   through `Shard::write` / `GroupHandle::write` by `GroupId`.
//! - **`/stats` and shutdown** ask every shard over its bus; a shard answers
//!   with its own poller's counters, and the notice of a shutdown is queued
//!   by every shard before the group is shut down, so no client misses it.
//!
//! A shard takes up to 64 waiting bus messages at a time, so the writes
//! of many lines leave in one turn of its poller rather than one each.
//!
//! The buses are unbounded so that two shards fanning out to each other can
//! never wait on each other (bounded ones could deadlock); a client that
//! does not read is still cut off by its own poller's write-queue limit.
//!
//! Shards are tasks, not threads with runtimes of their own: the accept
//! task, the `/slow` timers and the demo's clients share the one runtime,
//! whose worker threads take whichever shard has work; a shard's state is
//! only ever touched by its own task, so it needs no lock.

mod args;
mod console;
mod demo;
mod room;
mod serve;
mod shard;

use std::time::Duration;

use args::Options;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: chat [--workers N] [--tcp ADDR] [--unix PATH | --no-unix] [--idle-timeout SECS] [--stats-every SECS] [--tls ADDR --tls-cert PEM --tls-key PEM] | chat --demo N [--workers N]";
const DEFAULT_TCP: &str = "127.0.0.1:7878";
const SOCKET_NAME: &str = "iochannels-chat.sock";
/// Longest line a client may send; a longer one ends that client.
const MAX_LINE: usize = 64 * 1024;
/// Longest nick, in characters.
const MAX_NICK: usize = 32;
/// How long closing may wait for a client that does not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the runtime's shutdown may wait for a blocking read of stdin.
const RUNTIME_GRACE: Duration = Duration::from_secs(1);
/// How long `/slow` takes to answer.
const SLOW_DELAY: Duration = Duration::from_millis(200);

fn main() {
    let code = match tokio::runtime::Runtime::new() {
        Ok(runtime) => {
            let code = runtime.block_on(run()).unwrap_or_else(|e| {
                eprintln!("chat: {e}");
                1
            });
            // Shutting the runtime down drops every task, the group's
            // accept task with its listeners included: the Unix socket's
            // guard removes the file before the process exits.
            runtime.shutdown_timeout(RUNTIME_GRACE);
            code
        }
        Err(e) => {
            eprintln!("chat: cannot start the runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}

async fn run() -> Result<i32, BoxError> {
    match Options::parse(std::env::args().skip(1))? {
        Options::Serve(serve) => {
            serve::serve_forever(serve).await?;
            Ok(0)
        }
        Options::Demo { clients, workers } => demo::demo(clients, workers).await,
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
