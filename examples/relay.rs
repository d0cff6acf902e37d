//! A tiny socat: joins this process's stdin/stdout to a TCP address, a Unix
//! socket or a child process, both ways at once, until both directions have
//! ended.
//!
//! Shows `Channel::stdio`, the three kinds of other end, and a relay with
//! half-close: each `Channel` is `AsyncRead + AsyncWrite`, split into halves
//! so both directions run concurrently. When stdin ends, the other end gets
//! EOF (its write side is shut down) and its answer still comes back; when
//! the other end's output ends, our stdout is shut down.
//!
//! Run with: cargo run --example relay -- exec tr a-z A-Z
//!       or: cargo run --example relay -- tcp 127.0.0.1:7878
//!       or: cargo run --example relay -- unix /tmp/chat.sock

use iochannels::Channel;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const USAGE: &str = "usage: relay (tcp HOST:PORT | unix PATH | exec PROGRAM [ARGS...])";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("relay: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let other = match args.split_first() {
        Some((kind, rest)) if kind == "tcp" && rest.len() == 1 => {
            Channel::connect_tcp(rest[0].as_str()).await?
        }
        Some((kind, rest)) if kind == "unix" && rest.len() == 1 => {
            Channel::connect_unix(&rest[0]).await?
        }
        Some((kind, rest)) if kind == "exec" && !rest.is_empty() => {
            let mut cmd = tokio::process::Command::new(&rest[0]);
            cmd.args(&rest[1..]);
            Channel::spawn(&mut cmd)?
        }
        _ => return Err(USAGE.into()),
    };
    let name = other.describe();
    let (stdin, stdout) = tokio::io::split(Channel::stdio()?);
    let (other_in, other_out) = tokio::io::split(other);
    // Both directions at once: awaiting one write while the other direction
    // waits would deadlock with any peer that answers as it reads (`cat`).
    // The first error ends the relay.
    tokio::try_join!(
        pass(stdin, "stdin", other_out, &name),
        pass(other_in, &name, stdout, "stdout"),
    )?;
    Ok(())
}

/// Copies `from` to `to` until `from` ends, then shuts `to` down so that
/// whoever reads it sees the end too. Errors name the side that failed.
async fn pass(
    mut from: impl AsyncRead + Unpin,
    from_name: &str,
    mut to: impl AsyncWrite + Unpin,
    to_name: &str,
) -> Result<(), String> {
    // 64 KiB: a whole pipe buffer per read (tokio::io::copy reads 8 KiB).
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading {from_name}: {e}"))?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])
            .await
            .map_err(|e| format!("writing to {to_name}: {e}"))?;
    }
    to.shutdown()
        .await
        .map_err(|e| format!("closing {to_name}: {e}"))
}
