//! Idle timeouts: a channel that receives nothing for the timeout is closed
//! with `Closed { error: Some(TimedOut) }`; busy ones are served throughout,
//! whatever the idle ones do — with tokio's paused clock and in real time
//! over TCP (slowloris clients that drip a byte now and then); a channel
//! exempted from the timeout is never closed for it.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use iochannels::{Channel, Error, Event, Framing, Poller};
use support::within;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn an_idle_channel_is_closed_with_timed_out_after_the_timeout() {
    let mut poller = Poller::new(Framing::Lines);
    poller.set_idle_timeout(Some(Duration::from_secs(30)));
    let started = Instant::now();
    let (channel, _silent) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    match poller.next().await {
        Some(Event::Closed {
            id: closed,
            error: Some(Error::TimedOut),
        }) => assert_eq!(closed, id),
        other => panic!("unexpected {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );
    assert_eq!(poller.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn drips_slower_than_the_timeout_are_closed_while_a_busy_client_is_served() {
    let mut poller = Poller::new(Framing::Lines);
    poller.set_idle_timeout(Some(Duration::from_secs(30)));
    let (busy, mut busy_peer) = Channel::test();
    let busy = poller.register(busy.framed(Framing::Lines));
    let mut drips = HashSet::new();
    let mut drip_peers = Vec::new();
    for _ in 0..100 {
        let (channel, peer) = Channel::test();
        drips.insert(poller.register(channel.framed(Framing::Lines)));
        drip_peers.push(peer);
    }
    let started = Instant::now();
    let mut next_busy = started;
    let mut next_drip = started + Duration::from_secs(60);
    let mut echoed = 0;
    let mut closed = HashSet::new();
    while started.elapsed() < Duration::from_secs(120) {
        let now = Instant::now();
        if now >= next_busy {
            busy_peer.put(format!("line {echoed}\n"));
            next_busy += Duration::from_secs(1);
        }
        if now >= next_drip {
            for peer in &mut drip_peers {
                peer.put("x");
            }
            next_drip += Duration::from_secs(60);
        }
        let wake = next_busy.min(next_drip);
        match tokio::time::timeout_at(wake, poller.next()).await {
            Ok(Some(Event::Data { id, data })) => {
                assert_eq!(id, busy);
                poller.write(id, data).expect("echo");
                echoed += 1;
            }
            Ok(Some(Event::Closed {
                id,
                error: Some(Error::TimedOut),
            })) => {
                assert!(drips.contains(&id), "the busy channel timed out");
                assert!(
                    started.elapsed() >= Duration::from_secs(30)
                        && started.elapsed() < Duration::from_secs(31),
                    "closed at {:?}",
                    started.elapsed()
                );
                closed.insert(id);
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => {}
        }
    }
    assert_eq!(closed, drips);
    assert!(echoed >= 119, "busy client served {echoed} times in 120 s");
    let mut expected = String::new();
    for n in 0..echoed {
        expected.push_str(&format!("line {n}\n"));
    }
    assert_eq!(busy_peer.get(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_set_later_applies_to_registered_channels_and_none_turns_it_off() {
    let mut poller = Poller::new(Framing::Lines);
    let (first, _p1) = Channel::test();
    let first = poller.register(first.framed(Framing::Lines));
    poller.set_idle_timeout(Some(Duration::from_secs(5)));
    match within(poller.next()).await {
        Some(Event::Closed {
            id,
            error: Some(Error::TimedOut),
        }) => assert_eq!(id, first),
        other => panic!("unexpected {other:?}"),
    }
    poller.set_idle_timeout(None);
    let (second, _p2) = Channel::test();
    poller.register(second.framed(Framing::Lines));
    let nothing = tokio::time::timeout(Duration::from_secs(3600), poller.next()).await;
    assert!(nothing.is_err(), "no timeout is set: {nothing:?}");
}

#[tokio::test(start_paused = true)]
async fn an_exempt_channel_is_never_closed_for_idling_even_under_a_timeout_set_later() {
    let mut poller = Poller::new(Framing::Lines);
    let (console, mut operator) = Channel::test();
    let console = poller.register(console.framed(Framing::Lines));
    poller
        .exempt_from_idle_timeout(console)
        .expect("registered");
    let (client, _silent) = Channel::test();
    let client = poller.register(client.framed(Framing::Lines));
    // Set after the exemption: it watches the client only.
    poller.set_idle_timeout(Some(Duration::from_secs(30)));
    let started = Instant::now();
    match poller.next().await {
        Some(Event::Closed {
            id,
            error: Some(Error::TimedOut),
        }) => assert_eq!(id, client),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    // Ten timeouts later the console, silent all along, is still open.
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(poller.len(), 1);
    operator.put("/stats\n");
    match poller.next().await {
        Some(Event::Data { id, data }) => assert_eq!((id, &data[..]), (console, &b"/stats\n"[..])),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        poller.exempt_from_idle_timeout(client),
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn silent_and_dripping_tcp_clients_time_out_in_real_time_while_a_busy_one_is_served() {
    const TIMEOUT: Duration = Duration::from_millis(400);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.set_idle_timeout(Some(TIMEOUT));
    poller.add_server(listener);
    let server = tokio::spawn(async move {
        let mut timed_out = 0;
        let mut echoed = 0;
        // Until the busy client leaves (a clean end).
        loop {
            match within(poller.next()).await.expect("poller ended") {
                Event::Accepted { .. } => {}
                Event::Data { id, data } => {
                    if data.ends_with(b"\n") {
                        poller.write(id, data).expect("echo");
                        echoed += 1;
                    }
                }
                Event::Closed {
                    error: Some(Error::TimedOut),
                    ..
                } => timed_out += 1,
                Event::Closed { error: None, .. } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        (timed_out, echoed)
    });
    // 10 silent clients, 10 that drip a byte every 2 timeouts.
    let mut idle_clients = Vec::new();
    for i in 0..20 {
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let drips = i % 2 == 1;
        idle_clients.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut buf = [0u8; 8];
            loop {
                if drips {
                    let _ = client.write_all(b"x").await;
                }
                match tokio::time::timeout(TIMEOUT * 2, client.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                    Ok(Ok(n)) => panic!("an idle client got {n} bytes"),
                    Err(_) => assert!(started.elapsed() < TIMEOUT * 10, "never closed"),
                }
            }
        }));
    }
    let busy = TcpStream::connect(addr).await.expect("connect");
    let (rx, mut tx) = busy.into_split();
    let mut rx = BufReader::new(rx);
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < TIMEOUT * 3 {
        tx.write_all(format!("busy {n}\n").as_bytes())
            .await
            .expect("send");
        let mut line = String::new();
        within(rx.read_line(&mut line)).await.expect("echo");
        assert_eq!(line, format!("busy {n}\n"));
        n += 1;
        tokio::time::sleep(TIMEOUT / 8).await;
    }
    for client in idle_clients {
        let closed_after = within(client).await.expect("client task");
        assert!(closed_after >= TIMEOUT / 2, "closed after {closed_after:?}");
    }
    drop((rx, tx));
    let (timed_out, echoed) = within(server).await.expect("server task");
    assert_eq!(timed_out, 20);
    assert!(echoed >= n, "{echoed} echoes for {n} lines");
}
