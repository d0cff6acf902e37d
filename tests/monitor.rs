//! IoMonitor over real fds: a pipe's read end becoming readable, its write
//! end writable until full and again once drained, closed directions ending
//! the stream, a socket watched both ways, and fds epoll cannot watch.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use futures::StreamExt;
use iochannels::{Error, Interest, IoMonitor, Readiness};
use rustix::io::Errno;
use support::{is_nonblocking, within};

/// How long "no event" is watched for.
const QUIET: Duration = Duration::from_millis(150);

async fn next_event(monitor: &mut IoMonitor) -> Readiness {
    match within(monitor.next()).await {
        Some(Ok(event)) => event,
        other => panic!("expected a readiness event, got {other:?}"),
    }
}

async fn assert_quiet(monitor: &mut IoMonitor) {
    if let Ok(event) = tokio::time::timeout(QUIET, monitor.next()).await {
        panic!("expected no event within {QUIET:?}, got {event:?}");
    }
}

/// (readable, writable, read_closed, write_closed)
fn flags(event: Readiness) -> (bool, bool, bool, bool) {
    (
        event.is_readable(),
        event.is_writable(),
        event.is_read_closed(),
        event.is_write_closed(),
    )
}

#[tokio::test]
async fn pipe_read_end_becomes_readable_when_written() -> iochannels::Result<()> {
    let (reader, mut writer) = std::io::pipe()?;
    let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    assert_quiet(&mut monitor).await;

    writer.write_all(b"hello")?;
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (true, false, false, false)
    );
    let mut buf = [0u8; 64];
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Err(Errno::AGAIN));
    // Drained: nothing until new data comes.
    assert_quiet(&mut monitor).await;

    writer.write_all(b"again")?;
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (true, false, false, false)
    );
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"again");
    Ok(())
}

#[tokio::test]
async fn pipe_write_end_is_writable_until_full_then_not_until_drained() -> iochannels::Result<()> {
    let (mut reader, writer) = std::io::pipe()?;
    let mut monitor = IoMonitor::new(writer.into(), Interest::Writable)?;
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (false, true, false, false)
    );

    let chunk = [0x5au8; 16 * 1024];
    let mut written = 0;
    loop {
        match rustix::io::write(monitor.fd(), &chunk) {
            Ok(n) => written += n,
            Err(Errno::AGAIN) => break,
            Err(e) => panic!("writing to the pipe: {e}"),
        }
        assert!(written < 64 << 20, "the pipe never filled up");
    }
    assert!(written >= 4096, "only {written} bytes fit");
    assert_quiet(&mut monitor).await;

    let mut drained = vec![0u8; written];
    reader.read_exact(&mut drained)?;
    assert!(drained.iter().all(|&b| b == 0x5a));
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (false, true, false, false)
    );
    assert_eq!(rustix::io::write(monitor.fd(), b"room"), Ok(4));
    Ok(())
}

#[tokio::test]
async fn read_closed_when_the_writer_is_dropped_then_the_stream_ends() -> iochannels::Result<()> {
    let (reader, mut writer) = std::io::pipe()?;
    let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    writer.write_all(b"tail")?;
    drop(writer);
    // Data left and the end after it: both in one event.
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (true, false, true, false)
    );
    let mut buf = [0u8; 64];
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"tail");
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(0));
    assert!(within(monitor.next()).await.is_none());
    assert!(within(monitor.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn read_closed_without_data_is_readable_too_as_a_read_returns_at_once(
) -> iochannels::Result<()> {
    let (reader, writer) = std::io::pipe()?;
    let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    drop(writer);
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (true, false, true, false)
    );
    let mut buf = [0u8; 8];
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(0));
    assert!(within(monitor.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn write_closed_when_the_reader_is_dropped() -> iochannels::Result<()> {
    let (reader, writer) = std::io::pipe()?;
    let mut monitor = IoMonitor::new(writer.into(), Interest::Writable)?;
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (false, true, false, false)
    );
    drop(reader);
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (false, true, false, true)
    );
    assert_eq!(rustix::io::write(monitor.fd(), b"x"), Err(Errno::PIPE));
    assert!(within(monitor.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn a_socket_watched_both_ways() -> iochannels::Result<()> {
    let (ours, mut theirs) = std::os::unix::net::UnixStream::pair()?;
    let mut monitor = IoMonitor::new(ours.into(), Interest::Both)?;
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (false, true, false, false)
    );
    assert_quiet(&mut monitor).await;

    theirs.write_all(b"ping")?;
    assert_eq!(
        flags(next_event(&mut monitor).await),
        (true, false, false, false)
    );
    let mut buf = [0u8; 16];
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(4));
    assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Err(Errno::AGAIN));

    // The peer goes: both directions close, in one event or two, then the end.
    drop(theirs);
    let (mut read_closed, mut write_closed) = (false, false);
    while let Some(event) = within(monitor.next()).await {
        let event = event?;
        read_closed |= event.is_read_closed();
        write_closed |= event.is_write_closed();
    }
    assert!(read_closed && write_closed);
    Ok(())
}

#[tokio::test]
async fn into_inner_gives_the_fd_back_with_its_flags() -> iochannels::Result<()> {
    let (reader, mut writer) = std::io::pipe()?;
    let raw = reader.as_raw_fd();
    assert!(!is_nonblocking(&reader));
    let monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    assert!(is_nonblocking(monitor.fd()));
    let fd: OwnedFd = monitor.into_inner();
    assert_eq!(fd.as_raw_fd(), raw);
    assert!(!is_nonblocking(&fd));
    // Still the same pipe, now blocking.
    writer.write_all(b"back")?;
    let mut reader = std::io::PipeReader::from(fd);
    let mut buf = [0u8; 4];
    reader.read_exact(&mut buf)?;
    assert_eq!(&buf, b"back");
    Ok(())
}

#[tokio::test]
async fn dropping_the_monitor_restores_a_shared_description() -> iochannels::Result<()> {
    let (reader, _writer) = std::io::pipe()?;
    let kept = reader.try_clone()?; // shares the open file description
    let monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    assert!(is_nonblocking(&kept));
    drop(monitor);
    assert!(!is_nonblocking(&kept));
    Ok(())
}

fn expect_io(result: iochannels::Result<IoMonitor>, kind: ErrorKind, fd: i32, says: &str) {
    match result {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), kind, "{e}");
            let text = e.to_string();
            assert!(text.contains(&format!("fd {fd}")), "{text}");
            assert!(text.contains(says), "{text}");
        }
        other => panic!("expected an {kind:?} error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_regular_file_is_a_clear_error_naming_the_fd() -> iochannels::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("plain.txt");
    std::fs::write(&path, b"contents")?;
    let file = std::fs::File::open(&path)?;
    let raw = file.as_raw_fd();
    let result = IoMonitor::new(file.into(), Interest::Readable);
    expect_io(result, ErrorKind::Unsupported, raw, "regular file");
    assert_eq!(std::fs::read(&path)?, b"contents");
    Ok(())
}

#[tokio::test]
async fn dev_null_is_refused_by_epoll_with_a_clear_error() -> iochannels::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    let raw = null.as_raw_fd();
    let result = IoMonitor::new(null.into(), Interest::Readable);
    expect_io(result, ErrorKind::Unsupported, raw, "epoll");
    Ok(())
}

#[tokio::test]
async fn a_direction_the_fd_is_not_open_for_is_refused() -> iochannels::Result<()> {
    let (reader, writer) = std::io::pipe()?;
    let raw = writer.as_raw_fd();
    let result = IoMonitor::new(writer.into(), Interest::Readable);
    expect_io(result, ErrorKind::InvalidInput, raw, "write-only");
    let raw = reader.as_raw_fd();
    let result = IoMonitor::new(reader.into(), Interest::Both);
    expect_io(result, ErrorKind::InvalidInput, raw, "read-only");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_wakeup_is_lost_against_a_writer_on_another_thread() -> iochannels::Result<()> {
    // Each event is drained to WouldBlock; if the monitor ever lost an edge
    // the loop would stall with bytes in the pipe, and `within` would fail.
    const BYTES: usize = 5_000;
    let (reader, mut writer) = std::io::pipe()?;
    let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    let feeder = std::thread::spawn(move || -> std::io::Result<()> {
        for i in 0..BYTES {
            writer.write_all(&[(i % 251) as u8])?;
            if i % 64 == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        Ok(())
    });
    let mut got = Vec::with_capacity(BYTES);
    let mut buf = [0u8; 1024];
    'events: while let Some(event) = within(monitor.next()).await {
        assert!(event?.is_readable());
        loop {
            match rustix::io::read(monitor.fd(), &mut buf) {
                Ok(0) => break 'events,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Errno::AGAIN) => break,
                Err(e) => panic!("reading the pipe: {e}"),
            }
        }
    }
    feeder.join().expect("feeder thread")?;
    assert_eq!(got.len(), BYTES);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    Ok(())
}
