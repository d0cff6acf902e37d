//! The sender process of the real-socket scenarios: one thread that
//! connects N sockets to the bench process and, on each `send`, writes
//! every active socket's lines as fast as the receiver takes them.
//!
//! Commands on stdin, one per line; replies on stdout:
//!
//! | command | reply |
//! |---------|-------|
//! | `connect tcp ADDR N` / `connect unix PATH N` | `connected N` once all are made |
//! | `prepare LINES LEN` | `ready` once the lines are made (kept for the sends that follow) |
//! | `send ACTIVE` | `sent BYTES` once every byte is written |
//!
//! stdin's end (the bench process gone) ends the process. Sockets are
//! non-blocking and registered once for writability (edge-triggered) with
//! one epoll set: each active socket takes as much of its remaining lines
//! per `write` as its buffer holds, and waits for room only when full, so
//! the sender pays one syscall per buffer-full, not per line.

use std::io::{self, BufRead, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use bytes::Bytes;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::lines::make_lines;

/// A connected socket of either transport.
enum Out {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Out {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Tcp(s) => (&*s).write(buf),
            Out::Unix(s) => (&*s).write(buf),
        }
    }

    fn fd(&self) -> i32 {
        match self {
            Out::Tcp(s) => s.as_raw_fd(),
            Out::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// In the sender process: plays the role and returns true (the caller then
/// exits); false in the bench process itself.
pub fn child_role() -> bool {
    let Ok(role) = std::env::var(super::ROLE) else {
        return false;
    };
    if let Err(e) = serve() {
        eprintln!("net bench sender ({role}): {e}");
        println!("error {e}");
        std::process::exit(1);
    }
    true
}

fn serve() -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
    let mut outs: Vec<Out> = Vec::new();
    // The lines each active socket gets, made before the bench's clock starts.
    let mut block = Bytes::new();
    let stdin = io::stdin();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["connect", kind, addr, n] => {
                let n: usize = n.parse().map_err(|_| format!("bad count in {line:?}"))?;
                outs = connect(&poll, kind, addr, n)?;
                format!("connected {}", outs.len())
            }
            ["prepare", lines, len] => {
                let num = |w: &str| w.parse().map_err(|_| format!("bad number in {line:?}"));
                let (lines, len) = (num(lines)?, num(len)?);
                if block.len() != lines * len {
                    block = make_lines(lines, len);
                }
                "ready".to_owned()
            }
            ["send", active] => {
                let active = active
                    .parse()
                    .map_err(|_| format!("bad number in {line:?}"))?;
                let sent = send(&mut poll, &outs, active, &block)?;
                format!("sent {sent}")
            }
            _ => return Err(format!("unknown command {line:?}")),
        };
        println!("{reply}");
        io::stdout().flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn connect(poll: &Poll, kind: &str, addr: &str, n: usize) -> Result<Vec<Out>, String> {
    let mut outs = Vec::with_capacity(n);
    for i in 0..n {
        let out = match kind {
            "tcp" => std::net::TcpStream::connect(addr).map(Out::Tcp),
            "unix" => std::os::unix::net::UnixStream::connect(addr).map(Out::Unix),
            _ => return Err(format!("unknown transport {kind}")),
        }
        .map_err(|e| format!("connection {i} of {n} to {addr}: {e}"))?;
        match &out {
            Out::Tcp(s) => s.set_nonblocking(true),
            Out::Unix(s) => s.set_nonblocking(true),
        }
        .map_err(|e| e.to_string())?;
        poll.registry()
            .register(&mut SourceFd(&out.fd()), Token(i), Interest::WRITABLE)
            .map_err(|e| format!("epoll add: {e}"))?;
        outs.push(out);
    }
    Ok(outs)
}

/// Writes `block` on `active` of `outs` (every `outs.len() / active`-th);
/// returns the bytes written in all.
fn send(poll: &mut Poll, outs: &[Out], active: usize, block: &[u8]) -> Result<u64, String> {
    let step = (outs.len() / active.max(1)).max(1);
    // Bytes written so far, per socket; `None` for the idle ones.
    let mut written: Vec<Option<usize>> = vec![None; outs.len()];
    let mut ready: Vec<usize> = Vec::with_capacity(active);
    for i in (0..outs.len()).step_by(step).take(active) {
        written[i] = Some(0);
        ready.push(i);
    }
    let count = ready.len();
    let mut left = count;
    let mut events = Events::with_capacity(1024);
    while left > 0 {
        while let Some(i) = ready.pop() {
            let Some(at) = written[i].as_mut() else {
                continue;
            };
            while *at < block.len() {
                match outs[i].write(&block[*at..]) {
                    Ok(n) => *at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("writing connection {i}: {e}")),
                }
            }
            if *at == block.len() {
                written[i] = None;
                left -= 1;
            }
        }
        if left == 0 {
            break;
        }
        // A socket full for this long means the bench process stopped reading.
        poll.poll(&mut events, Some(Duration::from_secs(120)))
            .map_err(|e| format!("epoll wait: {e}"))?;
        if events.is_empty() {
            return Err("no socket writable for 120 s".to_owned());
        }
        ready.extend(events.iter().map(|e| e.token().0));
    }
    Ok((block.len() * count) as u64)
}
