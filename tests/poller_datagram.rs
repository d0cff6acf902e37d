//! Datagram channels in a Poller: each packet one Event::Datagram with its
//! sender, queued sends, per-packet errors that do not end the channel,
//! close and close_all.

mod support;

use std::time::Duration;

use futures::StreamExt;
use iochannels::{DatagramAddr, DatagramChannel, Error, Event, Framing, Poller};
use support::within;

async fn next(poller: &mut Poller) -> Event {
    within(poller.next()).await.expect("poller ended")
}

#[tokio::test]
async fn each_packet_is_one_event_with_its_sender() -> iochannels::Result<()> {
    let server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let server_addr = server.local_addr()?;
    let mut poller = Poller::new(Framing::Lines);
    let id = poller.register_datagram(server);
    let mut client = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let client_addr = client.local_addr()?;
    // Lines framing is for streams: packets are never merged or split.
    for packet in [&b"one\ntwo\n"[..], b"", b"three"] {
        client.send_to(packet, server_addr.clone()).await?;
    }
    for packet in [&b"one\ntwo\n"[..], b"", b"three"] {
        match next(&mut poller).await {
            Event::Datagram {
                id: from,
                data,
                peer,
            } => {
                assert_eq!(from, id);
                assert_eq!(&data[..], packet);
                assert_eq!(peer, client_addr);
            }
            other => panic!("expected a datagram, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn queued_sends_go_out_in_order_as_the_poller_is_polled() -> iochannels::Result<()> {
    let server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let mut poller = Poller::new(Framing::Bytes);
    let id = poller.register_datagram(server);
    let mut client = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let to = client.local_addr()?;
    for i in 0..50u32 {
        poller.send_to(id, i.to_be_bytes().to_vec(), to.clone())?;
    }
    let _ = poller.poll(Some(Duration::from_millis(20))).await;
    for i in 0..50u32 {
        let (data, _) = within(client.recv_from()).await?;
        assert_eq!(&data[..], &i.to_be_bytes());
    }
    Ok(())
}

#[tokio::test]
async fn overlong_packet_is_an_error_event_and_the_channel_goes_on() -> iochannels::Result<()> {
    let mut server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    server.set_max_datagram_len(8);
    let server_addr = server.local_addr()?;
    let mut poller = Poller::new(Framing::Bytes);
    let id = poller.register_datagram(server);
    let mut client = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    client
        .send_to(b"far too long for eight", server_addr.clone())
        .await?;
    client.send_to(b"fits", server_addr).await?;
    match next(&mut poller).await {
        Event::DatagramError {
            id: from,
            error: Error::FrameTooLong { limit: 8 },
        } => assert_eq!(from, id),
        other => panic!("expected FrameTooLong, got {other:?}"),
    }
    match next(&mut poller).await {
        Event::Datagram { data, .. } => assert_eq!(&data[..], b"fits"),
        other => panic!("expected the next datagram, got {other:?}"),
    }
    assert_eq!(poller.len(), 1);
    Ok(())
}

#[tokio::test]
async fn send_to_a_wrong_family_address_is_an_error_event() -> iochannels::Result<()> {
    let server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let mut poller = Poller::new(Framing::Bytes);
    let id = poller.register_datagram(server);
    poller.send_to(
        id,
        &b"lost"[..],
        DatagramAddr::Unix(Some("/nonexistent.sock".into())),
    )?;
    match next(&mut poller).await {
        Event::DatagramError {
            id: from,
            error: Error::Io(e),
        } => {
            assert_eq!(from, id);
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        }
        other => panic!("expected an error event, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn close_sends_queued_packets_then_closed_and_ids_are_checked() -> iochannels::Result<()> {
    let (a, mut b) = DatagramChannel::unix_pair()?;
    let mut poller = Poller::new(Framing::Bytes);
    let id = poller.register_datagram(a);
    poller.write(id, &b"connected send"[..])?;
    poller.close(id)?;
    assert!(matches!(
        poller.write(id, &b"refused"[..]),
        Err(Error::Closed)
    ));
    match next(&mut poller).await {
        Event::Closed { id: c, error: None } => assert_eq!(c, id),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(&within(b.recv()).await?[..], b"connected send");
    assert_eq!(poller.len(), 0);
    // A datagram id is not a stream id and the other way round.
    assert!(poller.unregister(id).is_none());
    assert!(poller.unregister_datagram(id).is_none());
    Ok(())
}

#[tokio::test]
async fn close_all_closes_datagram_channels_too() -> iochannels::Result<()> {
    let server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let mut poller = Poller::new(Framing::Bytes);
    let id = poller.register_datagram(server);
    within(poller.close_all()).await;
    assert_eq!(poller.len(), 0);
    match within(poller.next()).await {
        Some(Event::Closed { id: c, error: None }) => assert_eq!(c, id),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(within(poller.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn unregister_datagram_gives_the_channel_back() -> iochannels::Result<()> {
    let (a, mut b) = DatagramChannel::unix_pair()?;
    let mut poller = Poller::new(Framing::Bytes);
    let id = poller.register_datagram(a);
    let mut a = poller.unregister_datagram(id).expect("registered");
    a.send(b"still mine").await?;
    assert_eq!(&within(b.recv()).await?[..], b"still mine");
    assert_eq!(poller.len(), 0);
    Ok(())
}
