//! The `tracing` feature: the poller's debug events (accepted, registered,
//! closed with the reason, flow control paused and resumed) and trace-level
//! frames inside a `channel` span (id, kind and addresses), with their
//! fields, in a test subscriber.
#![cfg(feature = "tracing")]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use iochannels::{Channel, Event, Framing, Poller};
use support::within;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Everything the subscriber writes, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn poller_events_appear_with_their_fields() -> iochannels::Result<()> {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::Lines);
    poller.set_write_limits(8, 16, 1024);
    poller.add_server(listener);
    let (test_channel, _peer) = Channel::test();
    let registered = poller.register(test_channel.framed(Framing::Lines));
    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"hello\n").await?;
    let (long, mut long_peer) = Channel::test();
    let mut long_framed = long.framed(Framing::Lines);
    long_framed.set_max_frame_len(4);
    let long = poller.register(long_framed);
    long_peer.put("far too long\n");
    let mut accepted = None;
    let mut seen_data = false;
    let mut seen_long = false;
    while !(seen_data && seen_long) {
        match within(poller.next()).await.expect("event") {
            Event::Accepted { id, .. } => accepted = Some(id),
            Event::Data { id, data } => {
                assert_eq!(Some(id), accepted);
                assert_eq!(&data[..], b"hello\n");
                // Past the high-water mark: reading pauses.
                poller.write(id, vec![b'x'; 64])?;
                seen_data = true;
            }
            Event::Closed { id, error } => {
                assert_eq!(id, long);
                assert!(error.is_some());
                seen_long = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let id = accepted.expect("accepted");
    // The client reads the 64 bytes: reading resumes.
    let mut buf = [0u8; 64];
    let reader = tokio::spawn(async move {
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut buf)
            .await
            .map(|_| client)
    });
    poller.notify_flushed(id)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    let client = within(reader).await.expect("reader")?;
    let _ = poller
        .poll(Some(std::time::Duration::from_millis(20)))
        .await;

    let text = captured.text();
    let has = |needle: &str| assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    has(&format!("registered id={registered}"));
    has("accepted server=");
    has(&format!("id={id} peer=127.0.0.1:"));
    has("frame len=6");
    // The channel's span: its id, kind and both addresses (the client's port is ours).
    let client_port = client.local_addr()?.port();
    has(&format!(
        "channel{{id={id} endpoint=tcp {addr} -> 127.0.0.1:{client_port}}}"
    ));
    has("paused reading (flow control)");
    has("resumed reading");
    has(&format!("closed id={long}"));
    has("frame longer than the limit of 4 bytes");
    Ok(())
}
