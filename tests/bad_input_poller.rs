//! The Poller and a 4 GiB length prefix, over the test channel and TCP
//! loopback: only the hostile channel ends, with the error, and the others
//! go on; no 4 GiB reservation is made.

mod support;

use std::io;

use futures::StreamExt;
use iochannels::{Channel, ChannelId, Error, Event, Framing, Poller, DEFAULT_MAX_FRAME_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use support::bad_input::{assert_no_huge_reservation, bs, lp, vm_peak_kib, within};
use support::next_event;

// ---------------------------------------------------------------------------
// The Poller and a 4 GiB length prefix
// ---------------------------------------------------------------------------

/// Two `LengthPrefixed` test channels; one sends a frame and then a 4 GiB
/// length prefix (and some of its payload): that channel, and only it, ends
/// with `Closed { error: Some(FrameTooLong { limit: 8 MiB }) }`, after the
/// `Data` of its good frame; the other's frames all come, before and after,
/// and it stays registered. No 4 GiB reservation is made.
#[tokio::test]
async fn poller_closes_only_the_channel_with_a_4_gib_prefix() -> iochannels::Result<()> {
    let peak_before = vm_peak_kib();
    let mut poller = Poller::new(Framing::LengthPrefixed);
    let (bad, mut bad_peer) = Channel::test();
    let (good, mut good_peer) = Channel::test();
    let bad_id = poller.register(bad.framed(Framing::LengthPrefixed));
    let good_id = poller.register(good.framed(Framing::LengthPrefixed));
    let mut bad_input = lp(b"fine first");
    bad_input.extend([0xff; 4]);
    bad_input.extend(vec![0u8; 256 * 1024]);
    bad_peer.put(&bad_input);
    good_peer.put([lp(b"g1"), lp(b""), lp(b"g2")].concat());

    let (mut bad_events, mut good_frames) = (Vec::new(), Vec::new());
    while bad_events.len() < 2 || good_frames.len() < 3 {
        match next_event(&mut poller).await {
            Event::Data { id, data } if id == good_id => good_frames.push(data),
            Event::Data { id, data } if id == bad_id => bad_events.push(format!("Data({data:?})")),
            Event::Closed {
                id,
                error: Some(Error::FrameTooLong { limit }),
            } if id == bad_id => bad_events.push(format!("Closed(FrameTooLong({limit}))")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        bad_events,
        [
            "Data(b\"fine first\")".to_string(),
            format!("Closed(FrameTooLong({DEFAULT_MAX_FRAME_LEN}))")
        ]
    );
    assert_eq!(good_frames, ["g1", "", "g2"].map(bs));
    assert_eq!(poller.len(), 1);
    assert!(matches!(poller.write(bad_id, "x"), Err(Error::Closed)));
    assert!(poller.unregister(bad_id).is_none());

    good_peer.put(lp(b"g3"));
    match next_event(&mut poller).await {
        Event::Data { id, data } => assert_eq!((id, &data[..]), (good_id, &b"g3"[..])),
        other => panic!("unexpected {other:?}"),
    }
    assert_no_huge_reservation(peak_before, "4 GiB length prefix in a poller");
    Ok(())
}

/// What the echo server of the TCP test saw, per channel, in order.
type Seen = Vec<(ChannelId, String)>;

/// Echoes every `LengthPrefixed` frame back (re-encoded) and records every
/// event, until `stop` fires.
async fn echo_lp_server(mut poller: Poller, mut stop: oneshot::Receiver<()>) -> Seen {
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            event = poller.next() => match event {
                Some(Event::Accepted { id, .. }) => seen.push((id, "Accepted".to_string())),
                Some(Event::Data { id, data }) => {
                    seen.push((id, format!("Data({data:?})")));
                    poller.write(id, lp(&data)).expect("echo");
                }
                Some(Event::Closed { id, error }) => seen.push((id, format!("Closed({error:?})"))),
                other => panic!("unexpected {other:?}"),
            },
        }
    }
    seen
}

/// Reads one `LengthPrefixed` frame from a raw TCP client.
async fn read_lp(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    let mut payload = vec![0; u32::from_be_bytes(header) as usize];
    stream.read_exact(&mut payload).await?;
    Ok(payload)
}

/// A TCP echo server on a `LengthPrefixed` poller. Client A sends a frame
/// (echoed), then a 4 GiB length prefix and 64 KiB of payload: A's channel
/// ends with `Closed(FrameTooLong { limit: 8 MiB })` after its one `Data`,
/// and A's socket is closed under it (EOF or reset, depending on whether
/// the poller had read all of A's bytes). Client B, connected before and
/// served after, gets every echo and ends cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_tcp_client_with_a_4_gib_prefix_is_closed_others_echoed() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::LengthPrefixed);
    poller.add_server(listener);
    let (stop_tx, stop_rx) = oneshot::channel();
    let server = tokio::spawn(echo_lp_server(poller, stop_rx));

    let mut a = TcpStream::connect(addr).await?;
    a.write_all(&lp(b"a1")).await?;
    assert_eq!(within("echo a1", read_lp(&mut a)).await?, b"a1");
    let mut b = TcpStream::connect(addr).await?;
    b.write_all(&lp(b"b1")).await?;
    assert_eq!(within("echo b1", read_lp(&mut b)).await?, b"b1");

    let mut hostile = vec![0xff; 4];
    hostile.extend(vec![b'z'; 64 * 1024]);
    // The poller may close A before all of it is written.
    let _ = a.write_all(&hostile).await;
    let mut rest = Vec::new();
    match within("A's end", a.read_to_end(&mut rest)).await {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("A: expected EOF or a reset, got {other:?} after {rest:?}"),
    }

    b.write_all(&[lp(b"b2"), lp(b"")].concat()).await?;
    assert_eq!(within("echo b2", read_lp(&mut b)).await?, b"b2");
    assert_eq!(within("echo empty", read_lp(&mut b)).await?, b"");
    b.shutdown().await?;
    let mut tail = Vec::new();
    within("B's end", b.read_to_end(&mut tail)).await?;
    assert!(tail.is_empty());

    stop_tx.send(()).expect("server running");
    let seen = within("server", server).await.expect("server task");
    let ids: Vec<ChannelId> = seen
        .iter()
        .filter(|(_, e)| e == "Accepted")
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids.len(), 2, "two clients accepted: {seen:?}");
    let of = |id: ChannelId| -> Vec<&str> {
        seen.iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, e)| e.as_str())
            .collect()
    };
    let too_long = format!("Closed(Some(FrameTooLong {{ limit: {DEFAULT_MAX_FRAME_LEN} }}))");
    assert_eq!(of(ids[0]), ["Accepted", "Data(b\"a1\")", too_long.as_str()]);
    assert_eq!(
        of(ids[1]),
        [
            "Accepted",
            "Data(b\"b1\")",
            "Data(b\"b2\")",
            "Data(b\"\")",
            "Closed(None)"
        ]
    );
    Ok(())
}
