//! A tiny socat: joins this process's stdin/stdout to a TCP address, a Unix
//! socket or a child process, both ways, until both directions have ended.
//!
//! Shows `Channel::stdio`, the three kinds of other end, `FramedChannel` with
//! `Framing::Bytes`, and a half-close: when stdin ends, the other end gets EOF
//! (`shutdown_write`) and its answer still comes back.
//!
//! Run with: cargo run --example relay -- exec tr a-z A-Z
//!       or: cargo run --example relay -- tcp 127.0.0.1:7878
//!       or: cargo run --example relay -- unix /tmp/chat.sock

use iochannels::{Channel, FramedChannel, Framing};

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
    let stdio = Channel::stdio()?.framed(Framing::Bytes);
    relay(stdio, other.framed(Framing::Bytes)).await?;
    Ok(())
}

/// Copies each side's input to the other side's output; when one input ends,
/// sends EOF on the other output, and returns once both inputs have ended.
async fn relay(mut local: FramedChannel, mut remote: FramedChannel) -> iochannels::Result<()> {
    let (mut local_open, mut remote_open) = (true, true);
    while local_open || remote_open {
        tokio::select! {
            frame = local.read(), if local_open => match frame? {
                Some(data) => remote.write(&data).await?,
                None => {
                    local_open = false;
                    remote.shutdown_write().await?;
                }
            },
            frame = remote.read(), if remote_open => match frame? {
                Some(data) => local.write(&data).await?,
                None => {
                    remote_open = false;
                    local.shutdown_write().await?;
                }
            },
        }
    }
    Ok(())
}
