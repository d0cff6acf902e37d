//! The Poller under faults: peers that reset, half-close, vanish, or never
//! read, and a Unix socket path that is taken. What needs process-wide
//! state changed (the fd limit, the SIGPIPE disposition) is in
//! tests/poller_process_limits.rs.

mod support;

use support::poller_client::{poller_with_client, poller_with_departed_client};
use support::{bounded, next_event};

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{ChannelId, Error, Event, Framing, Poller};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// How long any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

/// Polls `poller` (discarding nothing silently: every event is returned)
/// until `fut` completes; returns its output and the events seen meanwhile.
async fn drive_until<F: std::future::Future>(
    poller: &mut Poller,
    fut: F,
) -> (F::Output, Vec<Event>) {
    let mut events = Vec::new();
    tokio::pin!(fut);
    let out = bounded(STEP, "driving the poller", async {
        loop {
            tokio::select! {
                out = &mut fut => break out,
                event = poller.next() => events.push(event.expect("poller ended")),
            }
        }
    })
    .await;
    (out, events)
}

// ---------------------------------------------------------------------------
// 1. Reset in the middle of a frame
// ---------------------------------------------------------------------------

/// The client sends half a line, which the poller buffers (no event), then
/// resets (linger 0, with unread data on its side): one `Closed` carrying
/// `Error::Io` of kind `ConnectionReset` that names both ends, and no
/// `Data` for the half line.
#[tokio::test]
async fn peer_reset_mid_frame_closes_with_error() {
    let (mut poller, mut client, id) = poller_with_client().await;
    let client_addr = client.local_addr().unwrap();
    let server_addr = client.peer_addr().unwrap();
    poller.write(id, "unread by the client\n").unwrap();
    client.write_all(b"half a li").await.unwrap();
    // The poller reads the half line (and sends its write): still no event.
    let events = poller.poll(Some(Duration::from_millis(100))).await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(poller.queued(id), Some(0));
    client.set_zero_linger().unwrap();
    drop(client);
    let e = next_reset(&mut poller, id).await;
    // Both ends: the peer's taken at registration, ours asked for now.
    let named = format!("tcp {server_addr} -> {client_addr}: ");
    assert!(e.to_string().starts_with(&named), "{e}");
    assert!(poller
        .poll(Some(Duration::from_millis(50)))
        .await
        .is_empty());
    assert_eq!(poller.len(), 0);
}

/// The same over a Unix socket registered by hand: the `Closed` error names
/// the socket's path, asked of the socket only now, after the reset (the
/// kernel keeps it; registering did not).
#[tokio::test]
async fn unix_peer_reset_names_the_socket_path() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reset.sock");
    let listener = UnixListener::bind(&path)?;
    let mut client = tokio::net::UnixStream::connect(&path).await?;
    let (server, _) = listener.accept().await?;
    let mut poller = Poller::new(Framing::Lines);
    let id = poller.register(iochannels::Channel::from(server).framed(Framing::Lines));
    poller.write(id, "unread by the client\n").unwrap();
    client.write_all(b"half a li").await?;
    let events = poller.poll(Some(Duration::from_millis(100))).await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(poller.queued(id), Some(0));
    drop(client);
    let e = next_reset(&mut poller, id).await;
    let named = format!("unix socket {}: ", path.display());
    assert!(e.to_string().starts_with(&named), "{e}");
    Ok(())
}

/// The next event, which must be `id`'s `Closed` with a reset.
async fn next_reset(poller: &mut Poller, id: ChannelId) -> io::Error {
    match next_event(poller).await {
        Event::Closed {
            id: closed,
            error: Some(Error::Io(e)),
        } => {
            assert_eq!(closed, id);
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
            e
        }
        other => panic!("expected Closed with a reset, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// 2. Half-close
// ---------------------------------------------------------------------------

fn reply(n: usize) -> Bytes {
    let mut r = format!("reply {n:03} ").into_bytes();
    r.extend((0..16 * 1024).map(|i| b'a' + ((i + n) % 26) as u8));
    r.push(b'\n');
    Bytes::from(r)
}

/// The client sends 100 lines and shuts down its write side before the
/// server has read any of them; the server then writes a 16 KiB reply to
/// each (1.6 MB, far past the 256 KiB high-water mark, so the writing goes
/// on over many turns after the peer's EOF): the client gets every reply,
/// in order, then EOF. The poller reports the 100 frames, then
/// `Closed { error: None }`; the id is unknown from then on (writes fail
/// with `Error::Closed`), yet what was queued still goes out.
#[tokio::test]
async fn peer_half_close_while_we_still_write() {
    const LINES: usize = 100;
    let (mut poller, client, id) = poller_with_client().await;
    let (mut rd, mut wr) = client.into_split();
    let mut sent = Vec::new();
    for n in 0..LINES {
        sent.extend_from_slice(format!("line {n}\n").as_bytes());
    }
    wr.write_all(&sent).await.unwrap();
    wr.shutdown().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.map(|_| got)
    });

    let mut frames = 0;
    loop {
        match next_event(&mut poller).await {
            Event::Data { id: from, data } => {
                assert_eq!(from, id);
                assert_eq!(data, Bytes::from(format!("line {frames}\n")));
                poller.write(id, reply(frames)).unwrap();
                frames += 1;
            }
            Event::Closed {
                id: closed,
                error: None,
            } => {
                assert_eq!(closed, id);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(frames, LINES, "Closed came before every frame");
    assert!(matches!(poller.write(id, "too late\n"), Err(Error::Closed)));
    assert_eq!(poller.len(), 0);
    // The queued replies are still flushed as the poller is polled.
    let (got, events) = drive_until(&mut poller, reader).await;
    assert!(events.is_empty(), "{events:?}");
    let got = got.unwrap().expect("client read");
    let expected: Vec<u8> = (0..LINES).flat_map(|n| reply(n).to_vec()).collect();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "replies differ");
}

// ---------------------------------------------------------------------------
// 3. Writing to a peer that is gone
// ---------------------------------------------------------------------------

/// The client closes completely, then the poller writes to it:
/// - a small write is taken by the kernel (the peer's RST comes only in
///   answer to it), then the peer's EOF is read: `Closed { error: None }`;
/// - 16 MB, as one chunk or as 256 chunks of 64 KiB (vectored writes), fail
///   at the socket (EPIPE, after the peer's RST): `Closed { error:
///   Some(Error::Closed) }`.
///
/// Either way later writes fail with `Error::Closed` and the process lives
/// (here SIGPIPE is ignored, as the Rust runtime sets it; for the default
/// action see `write_to_gone_peer_with_default_sigpipe_*` in
/// tests/poller_process_limits.rs).
#[tokio::test]
async fn write_to_peer_that_closed_is_closed_event_not_crash() {
    // (chunks, chunk size, the Closed error expected)
    let cases: [(usize, usize, Option<&str>); 3] = [
        (1, 2, None),
        (1, 16 * 1024 * 1024, Some("Closed")),
        (256, 64 * 1024, Some("Closed")),
    ];
    for (chunks, size, expected) in cases {
        let (mut poller, id) = poller_with_departed_client().await;
        let chunk = Bytes::from(vec![b'z'; size]);
        for _ in 0..chunks {
            poller.write(id, chunk.clone()).unwrap();
        }
        let case = format!("{chunks} x {size} bytes");
        match (next_event(&mut poller).await, expected) {
            (Event::Closed { id: c, error: None }, None) => assert_eq!(c, id, "{case}"),
            (
                Event::Closed {
                    id: c,
                    error: Some(Error::Closed),
                },
                Some("Closed"),
            ) => assert_eq!(c, id, "{case}"),
            (other, _) => panic!("{case}: expected Closed with {expected:?}, got {other:?}"),
        }
        assert!(
            matches!(poller.write(id, "again\n"), Err(Error::Closed)),
            "{case}"
        );
        assert_eq!(poller.len(), 0, "{case}");
        assert!(poller
            .poll(Some(Duration::from_millis(20)))
            .await
            .is_empty());
    }
}
// ---------------------------------------------------------------------------
// 4. A graceful close with a deadline
// ---------------------------------------------------------------------------

/// A client that never reads, 16 MB queued (the queue limit raised to
/// 32 MiB), a close timeout of 200 ms, then `close(id)`: `Closed` comes
/// after 200 ms (and well within 1 s) with `Error::Io` of kind `TimedOut`
/// whose message gives the bytes left unsent; the client, reading at last,
/// gets exactly the other bytes — a correct prefix — then EOF.
#[tokio::test]
async fn close_deadline_aborts_graceful_close_to_a_peer_that_never_reads() {
    const TOTAL: usize = 16 * 1024 * 1024;
    let (mut poller, mut client, id) = poller_with_client().await;
    poller.set_close_timeout(Duration::from_millis(200));
    poller.set_write_limits(64 * 1024, 256 * 1024, 32 * 1024 * 1024);
    let mut payload = Vec::with_capacity(TOTAL);
    let mut n = 0u64;
    while payload.len() < TOTAL {
        payload.extend_from_slice(format!("{n:015}\n").as_bytes());
        n += 1;
    }
    for chunk in payload.chunks(1024 * 1024) {
        poller.write(id, Bytes::copy_from_slice(chunk)).unwrap();
    }
    let started = Instant::now();
    poller.close(id).unwrap();
    let error = match next_event(&mut poller).await {
        Event::Closed {
            id: c,
            error: Some(Error::Io(e)),
        } if c == id => e,
        other => panic!("expected Closed with a timeout, got {other:?}"),
    };
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(1),
        "Closed after {took:?}"
    );
    assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
    let message = error.to_string();
    let unsent: usize = message
        .split_once(" with ")
        .and_then(|(_, rest)| rest.split_once(" bytes unsent"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no unsent byte count in {message:?}"));
    assert!(unsent > 0 && unsent < TOTAL, "{message}");
    assert_eq!(poller.len(), 0);

    let mut got = Vec::new();
    bounded(STEP, "reading what was sent", client.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got.len(), TOTAL - unsent, "{message}");
    assert!(got[..] == payload[..got.len()], "the bytes received differ");
}

// ---------------------------------------------------------------------------
// 5. A Unix socket path that is taken
// ---------------------------------------------------------------------------

/// Binding a Unix listener on a path that is a regular file fails with
/// `AddrInUse` (what users meet before they can hand the listener to a
/// poller), and leaves the file alone.
#[tokio::test]
async fn unix_socket_path_that_exists_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken.sock");
    std::fs::write(&path, b"not a socket").unwrap();
    let err = UnixListener::bind(&path).expect_err("bound over a regular file");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}
