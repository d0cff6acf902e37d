//! The Poller-based server's frames and `on_write`: `Conn::set_framing`
//! through the poller (a header line, an `Exact` body, lines again; Pants'
//! `read_delimiter`) with the input at once, byte by byte and split at
//! every point; `on_write` once, after the queue drained to a slow reader,
//! and never for a handler whose `WANTS_ON_WRITE` is false.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iochannels::{serve, Conn, ConnInfo, Error, Framing, Handler, PeerAddr, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use support::{within, STEP};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What a connection's frames change the framing to.
type Rule = fn(&Framing, &[u8]) -> Option<Framing>;

/// Applies `rule` to each frame, replies with its length, closes on `END\n`;
/// at its close hands its frames (and how it ended) to the test.
struct Cutter {
    rule: Rule,
    start: Option<Framing>,
    frames: Vec<Bytes>,
    done: Done,
}

impl Handler for Cutter {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        if let Some(framing) = self.start.take() {
            conn.set_framing(framing);
        }
    }

    async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
        if let Some(next) = (self.rule)(conn.framing(), &frame) {
            conn.set_framing(next.clone());
            assert_eq!(conn.framing(), &next);
        }
        conn.write(format!("{}\n", frame.len())).expect("open");
        if &frame[..] == b"END\n" {
            conn.close();
        }
        self.frames.push(frame);
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        let end = error.map_or("None".to_owned(), |e| e.to_string());
        let frames = std::mem::take(&mut self.frames);
        self.done.lock().expect("lock").push((frames, end));
    }
}

/// `LEN n` switches to `Exact(n)`; a body switches back to lines.
fn header_body(framing: &Framing, frame: &[u8]) -> Option<Framing> {
    match framing {
        Framing::Lines => {
            let text = std::str::from_utf8(frame).ok()?;
            let len = text.strip_prefix("LEN ")?.trim().parse().ok()?;
            Some(Framing::Exact(len))
        }
        _ => Some(Framing::Lines),
    }
}

/// `SWITCH` changes the delimiter from CRLF to `|`.
fn switch_delimiter(_framing: &Framing, frame: &[u8]) -> Option<Framing> {
    (frame == b"SWITCH\r\n").then(|| Framing::Delimited(vec!["|".into()]))
}

type Done = Arc<Mutex<Vec<(Vec<Bytes>, String)>>>;

async fn cutting_server(
    rule: Rule,
    start: Option<Framing>,
) -> std::io::Result<(std::net::SocketAddr, Done, ServerHandle)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let done = Done::default();
    let factory_done = Arc::clone(&done);
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Cutter {
        rule,
        start: start.clone(),
        frames: Vec::new(),
        done: Arc::clone(&factory_done),
    });
    let handle = server.handle();
    tokio::spawn(server.run());
    Ok((addr, done, handle))
}

/// Sends `parts` (a pause between them, so each arrives on its own), ends
/// the input, and returns what came back until EOF with the connection's
/// frames and end.
async fn exchange(
    addr: std::net::SocketAddr,
    done: &Done,
    parts: &[&[u8]],
) -> std::io::Result<(Vec<u8>, Vec<Bytes>, String)> {
    let before = done.lock().expect("lock").len();
    let mut client = TcpStream::connect(addr).await?;
    client.set_nodelay(true)?;
    for part in parts {
        client.write_all(part).await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    client.shutdown().await?;
    let mut replies = Vec::new();
    within(client.read_to_end(&mut replies)).await?;
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Some((frames, end)) = done.lock().expect("lock").get(before) {
            return Ok((replies, frames.clone(), end.clone()));
        }
        assert!(tokio::time::Instant::now() < deadline, "no on_close");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Every way of cutting `input` in time: at once, byte by byte, and in two
/// at each point.
fn deliveries(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut ways = vec![vec![input], input.chunks(1).collect()];
    for at in 1..input.len() {
        ways.push(vec![&input[..at], &input[at..]]);
    }
    ways
}

#[tokio::test]
async fn set_framing_through_the_poller_header_body_lines_however_the_bytes_arrive() -> TestResult {
    let (addr, done, stop) = cutting_server(header_body, None).await?;
    let input: &[u8] = b"LEN 5\nhe\nloNEXT\nLEN 3\nabcEND\n";
    let frames: [&[u8]; 6] = [
        b"LEN 5\n", b"he\nlo", b"NEXT\n", b"LEN 3\n", b"abc", b"END\n",
    ];
    for parts in deliveries(input) {
        let (replies, got, end) = exchange(addr, &done, &parts).await?;
        let got: Vec<&[u8]> = got.iter().map(|f| &f[..]).collect();
        assert_eq!(got, frames, "delivered as {parts:?}");
        assert_eq!(replies, b"6\n5\n5\n6\n3\n4\n", "delivered as {parts:?}");
        assert_eq!(end, "None");
    }
    stop.shutdown();
    Ok(())
}

#[tokio::test]
async fn read_delimiter_set_in_on_connect_and_changed_mid_stream() -> TestResult {
    let start = Framing::Delimited(vec!["\r\n".into()]);
    let (addr, done, stop) = cutting_server(switch_delimiter, Some(start)).await?;
    let input: &[u8] = b"a\nb\r\nSWITCH\r\nx\r\n|y|";
    let frames: [&[u8]; 4] = [b"a\nb\r\n", b"SWITCH\r\n", b"x\r\n|", b"y|"];
    for parts in deliveries(input) {
        let (replies, got, end) = exchange(addr, &done, &parts).await?;
        let got: Vec<&[u8]> = got.iter().map(|f| &f[..]).collect();
        assert_eq!(got, frames, "delivered as {parts:?}");
        assert_eq!(replies, b"5\n8\n4\n2\n", "delivered as {parts:?}");
        assert_eq!(end, "None");
    }
    stop.shutdown();
    Ok(())
}

/// Writes `total` bytes at once; at `on_write` notes how many the reader
/// had received, then closes.
struct Bulk {
    total: usize,
    received: Arc<AtomicUsize>,
    at_on_write: Arc<Mutex<Vec<usize>>>,
}

impl Handler for Bulk {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        let body: Vec<u8> = (0..self.total).map(|i| (i % 251) as u8).collect();
        conn.write(body).expect("within the queue limit");
    }

    async fn on_write(&mut self, conn: &mut Conn<'_>) {
        let received = self.received.load(Ordering::Acquire);
        self.at_on_write.lock().expect("lock").push(received);
        assert_eq!(conn.queued(), 0);
        conn.close();
    }
}

#[tokio::test]
async fn on_write_comes_once_after_a_slow_reader_took_all_but_the_socket_buffers() -> TestResult {
    const TOTAL: usize = 8 * 1024 * 1024;
    const BUFFER: u32 = 32 * 1024;
    // What can still be in flight at `on_write`: the server's send buffer
    // and the client's receive buffer (the kernel doubles what is asked),
    // and one read of the client's, with a wide margin.
    const SLACK: usize = 512 * 1024;

    let socket = TcpSocket::new_v4()?;
    socket.set_send_buffer_size(BUFFER)?; // inherited by accepted sockets
    socket.bind("127.0.0.1:0".parse()?)?;
    let listener = socket.listen(16)?;
    let addr = listener.local_addr()?;
    let received = Arc::new(AtomicUsize::new(0));
    let at_on_write = Arc::new(Mutex::new(Vec::new()));
    let (r, a) = (Arc::clone(&received), Arc::clone(&at_on_write));
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Bulk {
        total: TOTAL,
        received: Arc::clone(&r),
        at_on_write: Arc::clone(&a),
    });
    let stop = server.handle();
    let running = tokio::spawn(server.run());

    let client = TcpSocket::new_v4()?;
    client.set_recv_buffer_size(BUFFER)?;
    let mut client = within(client.connect(addr)).await?;
    let mut body = Vec::with_capacity(TOTAL);
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = within(client.read(&mut buf)).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        received.store(body.len(), Ordering::Release);
        // A slow reader: the server's queue drains only as fast as this.
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    assert_eq!(body.len(), TOTAL);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    stop.shutdown();
    within(running).await?;
    let at = at_on_write.lock().expect("lock").clone();
    assert_eq!(at.len(), 1, "on_write once: {at:?}");
    assert!(
        at[0] + SLACK >= TOTAL,
        "on_write came with {} bytes received of {TOTAL}",
        at[0]
    );
    Ok(())
}

/// Echoes lines; the server's frame limit is 8.
#[tokio::test]
async fn too_long_a_frame_after_a_reply_keeps_the_reply() -> TestResult {
    struct Echo;
    impl Handler for Echo {
        async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
            let _ = conn.write(frame);
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut server = serve(listener, Framing::Lines, |_: &PeerAddr| Echo);
    server.set_max_frame_len(8);
    let stop = server.handle();
    let running = tokio::spawn(server.run());
    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"ok\nfar too long a line\n").await?;
    let mut got = Vec::new();
    within(client.read_to_end(&mut got)).await?;
    assert_eq!(got, b"ok\n");
    stop.shutdown();
    within(running).await?;
    Ok(())
}

/// Echoes lines and counts its `on_write` calls; `ON_WRITE` is its
/// `WANTS_ON_WRITE`.
struct CountingEcho<const ON_WRITE: bool>(Arc<AtomicUsize>);

impl<const ON_WRITE: bool> Handler for CountingEcho<ON_WRITE> {
    const WANTS_ON_WRITE: bool = ON_WRITE;

    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        conn.write(line).expect("within the queue limit");
    }

    async fn on_write(&mut self, _conn: &mut Conn<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Echoes 100 lines sent one at a time through a server of
/// `CountingEcho<ON_WRITE>`; how many times `on_write` was called.
async fn on_write_calls<const ON_WRITE: bool>() -> Result<usize, Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| {
        CountingEcho::<ON_WRITE>(Arc::clone(&c))
    });
    let stop = server.handle();
    let running = tokio::spawn(server.run());
    let mut client = within(TcpStream::connect(addr)).await?;
    for i in 0..100 {
        let line = format!("line {i}\n");
        client.write_all(line.as_bytes()).await?;
        let mut echo = vec![0; line.len()];
        within(client.read_exact(&mut echo)).await?;
        assert_eq!(echo, line.as_bytes());
    }
    stop.shutdown();
    within(running).await?;
    Ok(calls.load(Ordering::Relaxed))
}

#[tokio::test]
async fn a_handler_that_wants_no_on_write_gets_none_and_every_reply() -> TestResult {
    assert_eq!(on_write_calls::<false>().await?, 0);
    // The default: one per reply here, as each is flushed before the next line.
    assert_eq!(on_write_calls::<true>().await?, 100);
    Ok(())
}
