//! Starting the chat: binding the listeners, the group and one task per
//! shard ([`spawn_chat`]), the interactive server, and its stop signals.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use iochannels::{Channel, FramedChannel, Framing, PollerGroup, UnixSocketListener};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::args::{ServeOptions, TlsOptions};
use crate::room::Room;
use crate::shard::ChatShard;
use crate::{BoxError, MAX_LINE};

/// Binds a Unix listener at `path`. `UnixSocketListener` probes a socket
/// file left by a crashed run (removed only if nobody answers; a live
/// server or a non-socket file is left alone and this fails) and removes its
/// file when it is dropped — when the group's accept task ends, on every
/// way out. Its errors name the path.
pub async fn bind_unix(path: &Path) -> Result<UnixSocketListener, BoxError> {
    UnixSocketListener::bind(path)
        .await
        .map_err(|e| e.to_string().into())
}

pub async fn bind_tcp(addr: &str) -> Result<TcpListener, BoxError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on tcp {addr}: {e}").into())
}

/// A group of `shards` for the chat's clients.
pub fn chat_group(shards: usize) -> PollerGroup {
    let mut group = PollerGroup::new(shards, Framing::Lines);
    group.set_max_frame_len(MAX_LINE);
    group
}

/// Starts one chat task per shard of `group`. Shard 0 also takes the
/// console, starts the shutdown when `stop` resolves, and prints `/stats`
/// on stderr every `stats_every`. Each task ends once the group has shut
/// down, with the number of clients its shard was handed.
pub fn spawn_chat<F: Future<Output = ()> + Send + 'static>(
    group: PollerGroup,
    idle: Option<Duration>,
    verbose: bool,
    mut console: Option<FramedChannel>,
    stats_every: Option<Duration>,
    stop: F,
) -> Vec<JoinHandle<u64>> {
    let (room, buses) = Room::new(group.handle());
    let room = Arc::new(room);
    let mut stop = Some(stop);
    group
        .into_shards()
        .into_iter()
        .zip(buses)
        .map(|(shard, bus)| {
            // Shards come in index order: shard 0 takes the console and `stop`.
            let first = shard.index() == 0;
            let mut chat = ChatShard::new(shard, Arc::clone(&room), bus, verbose, idle);
            if let Some(console) = console.take() {
                chat.set_console(console);
            }
            let every = stats_every.filter(|_| first);
            tokio::spawn(chat.run(stop.take(), every))
        })
        .collect()
}

/// The interactive server: listens, takes the console, serves until
/// `/shutdown`, SIGINT or SIGTERM.
pub async fn serve_forever(options: ServeOptions) -> Result<(), BoxError> {
    let mut group = chat_group(options.workers);
    let unix = match &options.unix {
        Some(path) => Some(bind_unix(path).await?),
        None => None,
    };
    let tcp = bind_tcp(&options.tcp).await?;
    let tcp_addr = tcp.local_addr()?;
    group.add_server(tcp);
    match unix {
        Some(listener) => {
            eprintln!(
                "chat: listening on tcp {tcp_addr} and unix {}",
                listener.path().display()
            );
            group.add_server(listener);
        }
        None => eprintln!("chat: listening on tcp {tcp_addr}"),
    }
    if let Some(tls) = &options.tls {
        serve_tls(&mut group, tls).await?;
    }
    if options.workers > 1 {
        eprintln!("chat: {} shards", options.workers);
    }

    let console = Channel::stdio().map_err(|e| format!("cannot open the console: {e}"))?;
    eprintln!("chat: console on stdin: /who, /say TEXT, /kick NICK, /stats, /shutdown");
    let tasks = spawn_chat(
        group,
        options.idle,
        true,
        Some(console.framed(Framing::Lines)),
        options.stats_every,
        stop_signal(),
    );
    for task in tasks {
        if let Err(e) = task.await {
            eprintln!("chat: a shard failed: {e}");
        }
    }
    eprintln!("chat: shut down");
    Ok(())
}

/// Serves TLS on `tls.addr` in the same chat: the group's accept task takes
/// a client once its handshake (run in a task of its own, under a
/// deadline) is done, and hands it to a shard like any other.
#[cfg(feature = "tls")]
async fn serve_tls(group: &mut PollerGroup, tls: &TlsOptions) -> Result<(), BoxError> {
    let config = iochannels::tls::server_config(&tls.cert, &tls.key)?;
    let listener = bind_tcp(&tls.addr).await?;
    eprintln!("chat: listening on tls {}", listener.local_addr()?);
    let acceptor = iochannels::tls::TlsAcceptor::from(config);
    group.add_server(iochannels::TlsListener::new(listener, acceptor));
    Ok(())
}

#[cfg(not(feature = "tls"))]
async fn serve_tls(_group: &mut PollerGroup, _tls: &TlsOptions) -> Result<(), BoxError> {
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
