//! The `resp` scenario's server contenders, each run alone in a server
//! process of its own (see `resp.rs`): accept `conns` connections on the
//! listener, answer every request, and return the number of requests
//! answered once all `conns` connections have closed.
//!
//! | contender | reads | cuts requests |
//! |-----------|-------|---------------|
//! | task per connection | `TcpStream::read_buf` into a `BytesMut`, one task per connection | `proto::parse_request` |
//! | Poller | `Poller::new(Framing::Bytes)`, `add_server`: `Event::Data` chunks appended to a per-connection `BytesMut` | `proto::parse_request` |
//! | Poller, framed | `Poller::new(Framing::Lines)`: the poller cuts the frames | `RespCutter`: a header line, then `poller.set_framing(id, Exact(LEN + 2))` for each bulk body and back |
//! | handler | `serve(listener, Framing::Lines, ..)`: a `Handler` per connection, on `.workers(n)` pollers | `RespCutter` through `conn.set_framing` |
//!
//! The replies to everything one read brought are written at once (one
//! `write_all` / `poller.write` per read), except in the handler, which only
//! sees one frame at a time: one `conn.write` per reply (the poller's write
//! queue then copies small writes into one buffer).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use iochannels::{
    serve, ChannelMap, Conn, ConnInfo, Error, Event, Framing, Handler, PeerAddr, Poller,
    ServerHandle,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::proto::{execute, parse_header, parse_request, Store};

/// Keeps at least this much room to read into, as tokio users do (a full
/// `BytesMut` would otherwise grow by 64 bytes per `read_buf`).
const READ_ROOM: usize = 4 * 1024;

/// Runs requests out of `buf` while complete ones are there.
fn answer(
    buf: &mut BytesMut,
    args: &mut Vec<Bytes>,
    store: &mut Store,
    out: &mut BytesMut,
) -> Result<usize, String> {
    let mut n = 0;
    while parse_request(buf, args)? {
        execute(store, args, out)?;
        n += 1;
    }
    Ok(n)
}

/// Contender 1 (the baseline), on whatever runtime it is given.
pub async fn task_per_connection(listener: TcpListener, conns: usize) -> Result<usize, String> {
    let mut tasks = JoinSet::new();
    for _ in 0..conns {
        let (stream, _) = listener
            .accept()
            .await
            .map_err(|e| format!("accept: {e}"))?;
        tasks.spawn(connection_task(stream));
    }
    let mut handled = 0;
    while let Some(joined) = tasks.join_next().await {
        handled += joined.map_err(|e| format!("a connection task: {e}"))??;
    }
    Ok(handled)
}

async fn connection_task(mut stream: TcpStream) -> Result<usize, String> {
    // Replies are written whole: let them go out at once.
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(2 * READ_ROOM);
    let mut out = BytesMut::with_capacity(READ_ROOM);
    let mut args = Vec::with_capacity(4);
    let mut store = Store::new();
    let mut handled = 0;
    loop {
        if buf.capacity() - buf.len() < READ_ROOM {
            buf.reserve(2 * READ_ROOM);
        }
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(handled)
            } else {
                Err("a partial request at the end".to_owned())
            };
        }
        handled += answer(&mut buf, &mut args, &mut store, &mut out)?;
        if !out.is_empty() {
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("write: {e}"))?;
            out.clear();
        }
    }
}

/// One connection of the Poller contender.
#[derive(Default)]
struct PollerConn {
    buf: BytesMut,
    store: Store,
}

/// Contender 2: one Poller in this task, the same parser over its `Data`
/// chunks.
pub async fn poller(listener: TcpListener, conns: usize) -> Result<usize, String> {
    let mut poller = Poller::new(Framing::Bytes);
    poller.add_server(listener);
    let mut open = ChannelMap::new();
    let mut args = Vec::with_capacity(4);
    let mut out = BytesMut::with_capacity(READ_ROOM);
    let (mut handled, mut closed) = (0, 0);
    while closed < conns {
        match poller.next().await {
            Some(Event::Accepted { id, .. }) => {
                open.insert(id, PollerConn::default());
            }
            Some(Event::Data { id, data }) => {
                let conn = open.get_mut(id).ok_or("data from an unknown channel")?;
                if conn.buf.is_empty() {
                    // No copy when the chunk's allocation is ours alone.
                    conn.buf = BytesMut::from(data);
                } else {
                    conn.buf.extend_from_slice(&data);
                }
                handled += answer(&mut conn.buf, &mut args, &mut conn.store, &mut out)?;
                if !out.is_empty() {
                    poller
                        .write(id, out.split().freeze())
                        .map_err(|e| format!("write: {e}"))?;
                }
            }
            Some(Event::Closed { id, error }) => {
                let conn = open.remove(id).ok_or("an unknown channel closed")?;
                if let Some(e) = error {
                    return Err(format!("a connection failed: {e}"));
                }
                if !conn.buf.is_empty() {
                    return Err("a partial request at the end".to_owned());
                }
                closed += 1;
            }
            Some(other) => return Err(format!("unexpected event {other:?}")),
            None => return Err("the poller ended".to_owned()),
        }
    }
    Ok(handled)
}

/// Contender 4: one Poller in this task cutting the requests itself: a
/// header line, then `set_framing(id, Exact(LEN + 2))` for each bulk body
/// and back, the same cutter as the handler's; after a `Data`, the rest of
/// that connection's burst through `take_frame`.
pub async fn poller_framed(listener: TcpListener, conns: usize) -> Result<usize, String> {
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let mut open = ChannelMap::new();
    let (mut handled, mut closed) = (0, 0);
    while closed < conns {
        match poller.next().await {
            Some(Event::Accepted { id, .. }) => {
                open.insert(id, RespCutter::new(Framing::Lines));
            }
            Some(Event::Data { id, data }) => {
                let cutter = open.get_mut(id).ok_or("data from an unknown channel")?;
                // This frame, then the rest of the burst already read.
                let mut frame = Some(data);
                while let Some(data) = frame {
                    let Reaction { framing, reply } = cutter.on_frame(data)?;
                    if let Some(framing) = framing {
                        poller
                            .set_framing(id, framing)
                            .map_err(|e| format!("set_framing: {e}"))?;
                    }
                    if let Some(reply) = reply {
                        poller.write(id, reply).map_err(|e| format!("write: {e}"))?;
                    }
                    frame = poller.take_frame(id);
                }
            }
            Some(Event::Closed { id, error }) => {
                let cutter = open.remove(id).ok_or("an unknown channel closed")?;
                if let Some(e) = error {
                    return Err(format!("a connection failed: {e}"));
                }
                handled += cutter.handled;
                closed += 1;
            }
            Some(other) => return Err(format!("unexpected event {other:?}")),
            None => return Err("the poller ended".to_owned()),
        }
    }
    Ok(handled)
}

/// What the handler contender's connections share: the request count and
/// the way to stop the server once every connection has gone.
struct Shared {
    conns: usize,
    closed: AtomicUsize,
    handled: AtomicUsize,
    handle: std::sync::OnceLock<ServerHandle>,
}

/// Where a connection is in a request.
#[derive(Clone, Copy)]
enum Step {
    /// Waiting for `*N`.
    Header,
    /// Waiting for `$LEN` of one of `left` bulk strings.
    BulkLen { left: usize },
    /// Waiting for a body of `len` bytes and its `\r\n`; `left` strings to go with it.
    Body { len: usize, left: usize },
}

/// What one frame asks of its connection: a framing for the next frame,
/// a reply to write.
struct Reaction {
    framing: Option<Framing>,
    reply: Option<Bytes>,
}

/// Cuts requests out of frames as Pants' read delimiter does: header lines
/// by `lines`, each bulk body by `Exact(LEN + 2)`. Contenders 3 and 4.
struct RespCutter {
    /// What cuts header lines (Lines, or Delimited(["\r\n"])).
    lines: Framing,
    step: Step,
    args: Vec<Bytes>,
    store: Store,
    out: BytesMut,
    handled: usize,
}

impl RespCutter {
    fn new(lines: Framing) -> RespCutter {
        RespCutter {
            lines,
            step: Step::Header,
            args: Vec::with_capacity(4),
            store: Store::new(),
            out: BytesMut::new(),
            handled: 0,
        }
    }

    fn on_frame(&mut self, frame: Bytes) -> Result<Reaction, String> {
        let mut reaction = Reaction {
            framing: None,
            reply: None,
        };
        self.step = match self.step {
            Step::Header => {
                self.args.clear();
                let left = parse_header(strip_crlf(&frame)?, b'*')?;
                Step::BulkLen { left }
            }
            Step::BulkLen { left } => {
                let len = parse_header(strip_crlf(&frame)?, b'$')?;
                reaction.framing = Some(Framing::Exact(len + 2));
                Step::Body { len, left }
            }
            Step::Body { len, left } => {
                if frame.len() != len + 2 || &frame[len..] != b"\r\n" {
                    return Err("a bulk string not followed by \\r\\n".to_owned());
                }
                self.args.push(frame.slice(..len));
                reaction.framing = Some(self.lines.clone());
                if left > 1 {
                    Step::BulkLen { left: left - 1 }
                } else {
                    if self.out.capacity() < 512 {
                        // Replies are split off one shared buffer, not allocated each.
                        self.out.reserve(8 * 1024);
                    }
                    execute(&mut self.store, &self.args, &mut self.out)?;
                    self.handled += 1;
                    reaction.reply = Some(self.out.split().freeze());
                    Step::Header
                }
            }
        };
        Ok(reaction)
    }
}

/// Contender 3's connection: the cutter, driven through `Conn`. A RESP
/// server has no use for `on_write`: `ON_WRITE` false says so (the rows),
/// true keeps the default (one row, to show what asking costs).
struct RespHandler<const ON_WRITE: bool> {
    cutter: RespCutter,
    shared: Arc<Shared>,
}

impl<const ON_WRITE: bool> RespHandler<ON_WRITE> {
    fn on_frame(&mut self, conn: &mut Conn<'_>, frame: Bytes) -> Result<(), String> {
        let Reaction { framing, reply } = self.cutter.on_frame(frame)?;
        if let Some(framing) = framing {
            conn.set_framing(framing);
        }
        if let Some(reply) = reply {
            conn.write(reply).map_err(|e| format!("write: {e}"))?;
        }
        Ok(())
    }
}

fn strip_crlf(line: &[u8]) -> Result<&[u8], String> {
    line.strip_suffix(b"\r\n").ok_or_else(|| {
        format!(
            "a header line without \\r\\n: {:?}",
            String::from_utf8_lossy(line)
        )
    })
}

impl<const ON_WRITE: bool> Handler for RespHandler<ON_WRITE> {
    const WANTS_ON_WRITE: bool = ON_WRITE;

    async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
        if let Err(e) = self.on_frame(conn, frame) {
            eprintln!("resp handler server: {e}");
            conn.abort();
        }
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        if let Some(e) = error {
            eprintln!("resp handler server: a connection failed: {e}");
        }
        self.shared
            .handled
            .fetch_add(self.cutter.handled, Ordering::Relaxed);
        if self.shared.closed.fetch_add(1, Ordering::Relaxed) + 1 == self.shared.conns {
            if let Some(handle) = self.shared.handle.get() {
                handle.shutdown();
            }
        }
    }
}

/// Contender 3: the handler server, header lines cut by `lines`, on
/// `workers` pollers; `ON_WRITE`: whether its handler asks for `on_write`.
pub async fn handler<const ON_WRITE: bool>(
    listener: TcpListener,
    conns: usize,
    lines: Framing,
    workers: usize,
) -> Result<usize, String> {
    let shared = Arc::new(Shared {
        conns,
        closed: AtomicUsize::new(0),
        handled: AtomicUsize::new(0),
        handle: std::sync::OnceLock::new(),
    });
    let for_accept = Arc::clone(&shared);
    let first = lines.clone();
    let server = serve(
        listener,
        first,
        move |_: &PeerAddr| RespHandler::<ON_WRITE> {
            cutter: RespCutter::new(lines.clone()),
            shared: Arc::clone(&for_accept),
        },
    )
    .workers(workers);
    let _ = shared.handle.set(server.handle());
    server.run().await;
    if shared.closed.load(Ordering::Relaxed) != conns {
        return Err("the handler server stopped early".to_owned());
    }
    Ok(shared.handled.load(Ordering::Relaxed))
}
