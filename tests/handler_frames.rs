//! The frames a handler gets, in the Poller-based server (`serve`) and the
//! per-task drivers (`connect`, `drive`): `Conn::set_framing` cuts the very
//! next frame, a frame over the limit ends the connection with the error,
//! and the final partial frame is answered after the peer ends.

mod support;

use bytes::Bytes;
use iochannels::{
    connect, drive, serve, Channel, Conn, ConnInfo, Error, Framing, Handler, PeerAddr,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::handler::{
    logged_echo_server, read_exactly, read_to_eof, show_error, stop, Echo, Log,
};
use support::within;
use support::workers::start;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Reads `LEN n` header lines, each followed by a body of exactly n bytes.
#[derive(Default)]
struct Bodies {
    frames: Vec<Bytes>,
    end: Option<String>,
    log: Option<Log>,
}

impl Handler for Bodies {
    async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
        if let Some(log) = &self.log {
            log.push(format!("read {frame:?}"));
        }
        self.frames.push(frame.clone());
        match frame.strip_prefix(b"LEN ") {
            Some(len) => {
                let len = std::str::from_utf8(len).expect("utf-8").trim();
                conn.set_framing(Framing::Exact(len.parse().expect("a length")));
            }
            None if conn.framing() != &Framing::Lines => conn.set_framing(Framing::Lines),
            None => {}
        }
        let _ = conn.write(format!("{}\n", frame.len()));
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        let end = show_error(&error);
        if let Some(log) = &self.log {
            log.push(format!("close {end}"));
        }
        self.end = Some(end);
    }
}

#[tokio::test]
async fn client_set_framing_cuts_the_very_next_frame() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let peer = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        // One write: the client's first read buffers it all before any frame is cut.
        socket
            .write_all(b"LEN 5\nhe\nloNEXT\nLEN 3\nabcpartial")
            .await?;
        socket.shutdown().await?;
        let mut replies = Vec::new();
        socket.read_to_end(&mut replies).await?;
        Ok::<_, std::io::Error>(replies)
    });

    let bodies = within(connect(addr, Framing::Lines, Bodies::default())).await;
    let frames: Vec<&[u8]> = bodies.frames.iter().map(|f| &f[..]).collect();
    assert_eq!(
        frames,
        [
            &b"LEN 5\n"[..],
            b"he\nlo",
            b"NEXT\n",
            b"LEN 3\n",
            b"abc",
            b"partial"
        ]
    );
    assert_eq!(bodies.end.as_deref(), Some("None"));
    // Replies to every frame, the final partial one included, reached the peer.
    assert_eq!(within(peer).await??, b"6\n5\n5\n6\n3\n7\n");
    Ok(())
}

#[tokio::test]
async fn server_set_framing_cuts_the_very_next_frame() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let factory_log = log.clone();
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Bodies {
        log: Some(factory_log.clone()),
        ..Bodies::default()
    });
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    // One write: the poller reads it all at once, ahead of the handler.
    client
        .write_all(b"LEN 5\nhe\nloNEXT\nLEN 3\nabcLEN 1\n\n")
        .await?;
    assert_eq!(
        read_exactly(&mut client, 14).await,
        b"6\n5\n5\n6\n3\n6\n1\n"
    );
    client.shutdown().await?;
    let entries = log.wait_for("close None", 1).await;
    assert_eq!(
        entries,
        [
            r#"read b"LEN 5\n""#,
            r#"read b"he\nlo""#,
            r#"read b"NEXT\n""#,
            r#"read b"LEN 3\n""#,
            r#"read b"abc""#,
            r#"read b"LEN 1\n""#,
            r#"read b"\n""#,
            "close None",
        ]
    );
    stop(handle, running).await;
    Ok(())
}

#[tokio::test]
async fn too_long_a_frame_ends_the_connection_with_the_error() -> TestResult {
    let (addr, log, mut server) = logged_echo_server().await?;
    server.set_max_frame_len(8);
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    client
        .write_all(b"ok\nfar too long a line\nnever\n")
        .await?;
    // The reply to "ok" is still queued when the too-long frame is cut:
    // it goes out before the connection ends.
    let got = read_to_eof(&mut client).await;
    assert_eq!(got, b"ok\n");
    let entries = log.wait_for("close FrameTooLong 8", 1).await;
    assert_eq!(
        &entries[2..],
        ["connect", r#"read b"ok\n""#, "close FrameTooLong 8"]
    );
    stop(handle, running).await;

    // The per-task driver ends the same way.
    let (channel, mut peer) = Channel::test();
    peer.put("ok\nfar too long a line\nnever\n");
    let log = Log::default();
    struct Limited(Echo);
    impl Handler for Limited {
        async fn on_connect(&mut self, conn: &mut Conn<'_>) {
            conn.set_max_frame_len(8);
        }
        async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
            self.0.on_read(conn, frame).await;
        }
        async fn on_close(&mut self, info: &ConnInfo, error: Option<Error>) {
            self.0.on_close(info, error).await;
        }
    }
    within(drive(
        channel.framed(Framing::Lines),
        Limited(Echo { log: log.clone() }),
    ))
    .await;
    assert_eq!(log.entries(), [r#"read b"ok\n""#, "close FrameTooLong 8"]);
    assert_eq!(peer.get(), "ok\n");
    Ok(())
}

#[tokio::test]
async fn server_replies_to_the_final_partial_frame_after_the_peer_ends() -> TestResult {
    let (addr, log, server) = logged_echo_server().await?;
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"full\npartial").await?;
    client.shutdown().await?;
    // The poller yields the final partial frame as `Data` while the
    // connection is still open (its `Closed` comes after), so the reply to
    // it goes out too. (The old server cut frames itself and only found the
    // partial one at `Closed`, with the connection gone: "write failed".)
    assert_eq!(read_to_eof(&mut client).await, b"full\npartial");
    let entries = log.wait_for("close None", 1).await;
    let entries: Vec<_> = entries.iter().filter(|e| *e != "write").collect();
    assert_eq!(
        &entries[3..],
        [r#"read b"full\n""#, r#"read b"partial""#, "close None"]
    );
    stop(handle, running).await;
    Ok(())
}
