//! TCP and Unix stream channels: connect, framed traffic, connect errors,
//! peers that go away, and how each is described for error messages.

mod support;

use std::io::ErrorKind;

use iochannels::{Channel, Error, Framing};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

#[tokio::test]
async fn tcp_lines_round_trip() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut framed = Channel::from(stream).framed(Framing::Lines);
        while let Some(line) = framed.read().await? {
            framed.write(&line).await?;
        }
        Ok::<(), iochannels::Error>(())
    });
    let mut client = within(Channel::connect_tcp(addr))
        .await?
        .framed(Framing::Lines);
    for i in 0..100 {
        let line = format!("line {i}\n");
        within(client.write(&line)).await?;
        assert_eq!(
            within(client.read()).await?.as_deref(),
            Some(line.as_bytes())
        );
    }
    within(client.close()).await?;
    within(server).await.expect("server task")?;
    Ok(())
}

#[tokio::test]
async fn unix_lines_round_trip() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("echo.sock");
    let listener = UnixListener::bind(&path)?;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        stream.write_all(&buf).await?;
        std::io::Result::Ok(())
    });
    let mut client = within(Channel::connect_unix(&path))
        .await?
        .framed(Framing::Lines);
    within(client.write(b"one\ntwo\npartial")).await?;
    within(client.shutdown_write()).await?;
    assert_eq!(within(client.read()).await?.as_deref(), Some(&b"one\n"[..]));
    assert_eq!(within(client.read()).await?.as_deref(), Some(&b"two\n"[..]));
    assert_eq!(
        within(client.read()).await?.as_deref(),
        Some(&b"partial"[..])
    );
    assert_eq!(within(client.read()).await?, None);
    within(server).await.expect("server task")?;
    Ok(())
}

#[tokio::test]
async fn refused_tcp_connect_names_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    match within(Channel::connect_tcp(addr)).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
            assert!(e.to_string().contains(&addr.to_string()), "{e}");
        }
        other => panic!("expected ConnectionRefused, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_unix_socket_names_the_path() {
    let (_dir, path) = support::socket_path("absent.sock");
    match within(Channel::connect_unix(&path)).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::NotFound);
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn write_after_peer_reset_is_closed() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut client = within(Channel::connect_tcp(addr))
        .await?
        .framed(Framing::Bytes);
    let (server, _) = within(listener.accept()).await?;
    // Linger 0: closing sends RST instead of FIN.
    server.set_zero_linger()?;
    drop(server);
    // The first writes may still be accepted by the kernel; within a few the
    // RST is seen and the write fails as Closed.
    let mut outcome = Ok(());
    for _ in 0..100 {
        outcome = within(client.write(&[0u8; 1024])).await;
        if outcome.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(matches!(outcome, Err(Error::Closed)), "got {outcome:?}");
    Ok(())
}

#[tokio::test]
async fn reset_while_reading_is_an_io_error_naming_the_endpoint() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut client = within(Channel::connect_tcp(addr))
        .await?
        .framed(Framing::Lines);
    let (mut server, _) = within(listener.accept()).await?;
    server.write_all(b"complete\nincompl").await?;
    // Unread data in the server's receive queue plus linger 0: RST.
    within(client.write(b"unread by the server\n")).await?;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    server.set_zero_linger()?;
    drop(server);
    assert_eq!(
        within(client.read()).await?.as_deref(),
        Some(&b"complete\n"[..])
    );
    match within(client.read()).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionReset);
            assert!(e.to_string().contains(&addr.to_string()), "{e}");
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn fd_is_the_socket() -> iochannels::Result<()> {
    use std::os::fd::AsRawFd;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let stream = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
    let raw = stream.as_raw_fd();
    let channel = Channel::from(stream);
    assert_eq!(channel.fd(), Some(raw));
    assert_eq!(channel.framed(Framing::Bytes).fd(), Some(raw));
    Ok(())
}

#[tokio::test]
async fn unresolvable_tcp_address_names_the_address() {
    // No port: tokio refuses it while resolving, before any connect.
    match within(Channel::connect_tcp("no-port.example")).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            let text = e.to_string();
            assert!(text.contains("\"no-port.example\""), "{text}");
            assert!(text.starts_with("resolving"), "{text}");
        }
        other => panic!("expected a resolution error, got {other:?}"),
    }
}

#[tokio::test]
async fn address_resolving_to_nothing_names_the_address() {
    let nothing: &[std::net::SocketAddr] = &[];
    match within(Channel::connect_tcp(nothing)).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::NotFound);
            assert_eq!(e.to_string(), "[] resolved to no address to connect to");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn describe_names_the_kind_and_both_ends() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let client = tokio::net::TcpStream::connect(addr).await?;
    let ours = client.local_addr()?;
    let (server, _) = listener.accept().await?;
    assert_eq!(
        Channel::from(client).describe(),
        format!("tcp {ours} -> {addr}")
    );
    assert_eq!(
        Channel::from(server).describe(),
        format!("tcp {addr} -> {ours}")
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("described.sock");
    let listener = tokio::net::UnixListener::bind(&path)?;
    let client = tokio::net::UnixStream::connect(&path).await?;
    let (server, _) = listener.accept().await?;
    let expected = format!("unix socket {}", path.display());
    // The client names the server's path; the server's side, whose peer
    // has none, names its own.
    assert_eq!(Channel::from(client).describe(), expected);
    assert_eq!(Channel::from(server).describe(), expected);
    let (pair, _) = tokio::net::UnixStream::pair()?;
    assert_eq!(Channel::from(pair).describe(), "unix socket");
    Ok(())
}
