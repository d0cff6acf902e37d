//! TLS accepting (feature `tls`) under bad clients: 1,000 clients that never
//! send a ClientHello do not delay a real one and are dropped at the
//! deadline; the cap on handshakes in flight pauses accepting; untrusted
//! certificates either way fail with clear errors while the server goes on;
//! EOF and garbage during the handshake; removing the server or dropping
//! the poller stops every handshake task. Real handshakes over 127.0.0.1.
#![cfg(feature = "tls")]

mod support;
mod tls_pki;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use iochannels::tls::{rustls, TlsListener};
use iochannels::{Channel, Error, Event, Framing, Poller};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use support::{bounded, within};
use tls_pki::{Ca, Pki};

/// A loopback listener with a backlog that holds a burst of connects.
fn listener(backlog: u32) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    socket.listen(backlog).expect("listen")
}

/// Runs `poller` in a task that echoes every frame and reports every event.
fn run_echo(mut poller: Poller) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = poller.next().await {
            if let Event::Data { id, data } = &event {
                let _ = poller.write(*id, data.clone());
            }
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    rx
}

/// One real TLS client: connect, one line echoed, close. Returns how long it took.
async fn served(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<Duration, Error> {
    let start = Instant::now();
    let mut framed = Channel::connect_tls(addr, "localhost", config)
        .await?
        .framed(Framing::Lines);
    framed.write("are you there?\n").await?;
    let echo = framed.read().await?;
    assert_eq!(echo.as_deref(), Some(&b"are you there?\n"[..]));
    let took = start.elapsed();
    framed.close().await?;
    Ok(took)
}

/// Reads one stalled client's socket until the server closes it; true
/// for an end (EOF or reset), false if it sent anything.
async fn closed_by_server(mut tcp: TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf).await {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
    }
}

/// Raises the soft fd limit to `want` if the hard one allows; the number
/// of stalled clients the limit leaves room for (2 fds each, plus slack).
fn room_for_clients(want: usize) -> usize {
    let need = (2 * want + 256) as u64;
    let (soft, hard) = support::nofile_limits();
    if soft < need {
        let _ = support::set_nofile_soft(need.min(hard));
    }
    let (soft, _) = support::nofile_limits();
    let room = (soft.saturating_sub(256) / 2) as usize;
    if room < want {
        println!("fd limit {soft}: {room} stalled clients instead of {want}");
    }
    room.min(want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_do_not_delay_a_real_client_and_are_dropped_at_the_deadline() {
    let stalled_count = room_for_clients(1000);
    let pki = Pki::new();
    let tcp = listener(2048);
    let addr = tcp.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(
        TlsListener::new(tcp, pki.acceptor()).handshake_timeout(Duration::from_millis(500)),
    );
    let mut events = run_echo(poller);

    // Clients that connect and never send a ClientHello.
    let connected_at = Instant::now();
    let mut stalled = Vec::with_capacity(stalled_count);
    for _ in 0..stalled_count {
        stalled.push(
            within(TcpStream::connect(addr))
                .await
                .expect("stalled connect"),
        );
    }
    let connects_took = connected_at.elapsed();

    // A real client behind them all is served at once.
    let took = bounded(
        Duration::from_secs(5),
        "real client",
        served(addr, pki.client_config()),
    )
    .await
    .expect("the real client is served");
    println!(
        "{stalled_count} stalled clients connected in {connects_took:?}; a real client served in {took:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "real client took {took:?} behind stalled handshakes"
    );

    // Every stalled client is closed by the server, at the deadline.
    let ends = bounded(
        Duration::from_secs(10),
        "stalled clients closed",
        futures::future::join_all(stalled.into_iter().map(closed_by_server)),
    )
    .await;
    let dropped_after = connected_at.elapsed();
    assert!(
        ends.iter().all(|&closed| closed),
        "a stalled client got bytes"
    );
    assert!(
        dropped_after >= Duration::from_millis(450),
        "stalled clients dropped too early: {dropped_after:?}"
    );
    println!("stalled clients all closed {dropped_after:?} after the first connect");

    // The server reported each as timed out, and accepted only the real client.
    let mut timed_out = 0;
    let mut accepted = 0;
    while timed_out < stalled_count {
        match bounded(Duration::from_secs(5), "events", events.recv()).await {
            Some(Event::AcceptError {
                error: Error::TimedOut,
                retry_in: None,
                ..
            }) => timed_out += 1,
            Some(Event::Accepted { .. }) => accepted += 1,
            Some(Event::Data { .. } | Event::Closed { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 1, "only the real client is accepted");
}

#[tokio::test]
async fn the_cap_on_handshakes_pauses_accepting_until_one_ends() {
    let pki = Pki::new();
    let tcp = listener(128);
    let addr = tcp.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(
        TlsListener::new(tcp, pki.acceptor())
            .handshake_timeout(Duration::from_millis(400))
            .max_handshakes(1),
    );
    let _events = run_echo(poller);
    let _stalled = within(TcpStream::connect(addr))
        .await
        .expect("stalled connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // One handshake in flight is the cap: the real client waits for the deadline.
    let took = bounded(
        Duration::from_secs(5),
        "real client",
        served(addr, pki.client_config()),
    )
    .await
    .expect("served after the stalled one timed out");
    assert!(
        took >= Duration::from_millis(250),
        "the cap did not hold: served in {took:?}"
    );
}

/// The next event that is not about data, within a bound.
/// A client with the right certificate is served, and announced.
async fn a_good_client_is_served(
    addr: SocketAddr,
    pki: &Pki,
    events: &mut mpsc::UnboundedReceiver<Event>,
) {
    within(served(addr, pki.client_config()))
        .await
        .expect("a good client is served");
    assert!(matches!(next_event(events).await, Event::Accepted { .. }));
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    bounded(Duration::from_secs(5), "next event", events.recv())
        .await
        .expect("the poller task runs")
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_server_fails_clearly_and_others_are_served() {
    let pki = Pki::new();
    let tcp = listener(128);
    let addr = tcp.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_tls_server(tcp, pki.acceptor());
    let mut events = run_echo(poller);

    match within(Channel::connect_tls(
        addr,
        "localhost",
        tls_pki::untrusting_client(),
    ))
    .await
    {
        Err(Error::Io(e)) => {
            let text = e.to_string();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{text}");
            assert!(text.contains("TLS handshake with localhost"), "{text}");
            assert!(text.contains(&addr.to_string()), "{text}");
            assert!(text.to_lowercase().contains("certificate"), "{text}");
        }
        other => panic!("expected a rejected certificate, got {other:?}"),
    }
    // The server saw the client's alert: an error of that one connection.
    match next_event(&mut events).await {
        Event::AcceptError {
            error: Error::Io(e),
            retry_in: None,
            ..
        } => {
            assert!(
                e.to_string().contains("TLS handshake with 127.0.0.1"),
                "{e}"
            );
        }
        other => panic!("expected an AcceptError, got {other:?}"),
    }
    a_good_client_is_served(addr, &pki, &mut events).await;
}

#[tokio::test]
async fn a_client_certificate_the_server_does_not_trust_fails_and_others_are_served() {
    let pki = Pki::new();
    let client_ca = Ca::new("client CA");
    let tcp = listener(128);
    let addr = tcp.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_tls_server(tcp, pki.mtls_acceptor(&client_ca));
    let mut events = run_echo(poller);

    // In TLS 1.3 the client may finish before the server rejects its
    // certificate: the rejection then comes as the first read's error.
    let stranger = pki.client_with_cert(&Ca::new("stranger CA"));
    let attempt = async {
        let mut framed = Channel::connect_tls(addr, "localhost", stranger)
            .await?
            .framed(Framing::Lines);
        framed.write("let me in\n").await?;
        framed.read().await
    };
    match within(attempt).await {
        // rustls names the alert the server sent (UnknownCA).
        Err(Error::Io(e)) => assert!(e.to_string().contains("alert"), "{e}"),
        Err(Error::Closed) => {}
        other => panic!("an untrusted client certificate must fail, got {other:?}"),
    }
    match next_event(&mut events).await {
        Event::AcceptError {
            error: Error::Io(e),
            retry_in: None,
            ..
        } => {
            let text = e.to_string();
            assert!(text.contains("TLS handshake with 127.0.0.1"), "{text}");
            assert!(text.to_lowercase().contains("certificate"), "{text}");
        }
        other => panic!("expected an AcceptError, got {other:?}"),
    }
    // A client with a trusted certificate is served.
    within(served(addr, pki.client_with_cert(&client_ca)))
        .await
        .expect("trusted client served");
    assert!(matches!(
        next_event(&mut events).await,
        Event::Accepted { .. }
    ));
}

#[tokio::test]
async fn eof_and_garbage_during_the_handshake_are_errors_of_one_connection() {
    let pki = Pki::new();
    let tcp = listener(128);
    let addr = tcp.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_tls_server(tcp, pki.acceptor());
    let mut events = run_echo(poller);

    // Connect and hang up at once (EOF before any byte).
    drop(within(TcpStream::connect(addr)).await.expect("connect"));
    // Connect, send half a ClientHello's header, hang up.
    let mut half = within(TcpStream::connect(addr)).await.expect("connect");
    half.write_all(&[0x16, 0x03, 0x01]).await.expect("write");
    drop(half);
    // Not TLS at all.
    let mut http = within(TcpStream::connect(addr)).await.expect("connect");
    http.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    // rustls answers with an alert, then the server closes.
    let mut answer = Vec::new();
    let end = bounded(
        Duration::from_secs(5),
        "garbage dropped",
        http.read_to_end(&mut answer),
    )
    .await;
    match end {
        Ok(_) => assert!(answer.len() < 64, "more than an alert: {answer:?}"),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }

    for _ in 0..3 {
        match next_event(&mut events).await {
            Event::AcceptError { retry_in: None, .. } => {}
            other => panic!("expected an AcceptError of one connection, got {other:?}"),
        }
    }
    a_good_client_is_served(addr, &pki, &mut events).await;
}

#[tokio::test]
async fn remove_server_and_dropping_the_poller_stop_the_handshakes() {
    let pki = Pki::new();
    for how in ["remove_server", "drop"] {
        let tcp = listener(128);
        let addr = tcp.local_addr().expect("addr");
        let mut poller = Poller::new(Framing::Lines);
        // A deadline far away: only stopping the server can end these.
        let server = poller.add_server(
            TlsListener::new(tcp, pki.acceptor()).handshake_timeout(Duration::from_secs(60)),
        );
        let mut stalled = Vec::new();
        for _ in 0..20 {
            stalled.push(within(TcpStream::connect(addr)).await.expect("connect"));
        }
        // Let the poller accept them all and start their handshakes.
        assert!(poller
            .poll(Some(Duration::from_millis(200)))
            .await
            .is_empty());
        match how {
            "remove_server" => assert!(poller.remove_server(server)),
            _ => drop(poller),
        }
        let ends = bounded(
            Duration::from_secs(5),
            how,
            futures::future::join_all(stalled.into_iter().map(closed_by_server)),
        )
        .await;
        assert!(
            ends.iter().all(|&closed| closed),
            "{how}: a stalled client got bytes"
        );
        // The listening socket went too: new clients are refused.
        let refused = TcpStream::connect(addr).await;
        assert!(refused.is_err(), "{how}: the listener is still open");
    }
}
