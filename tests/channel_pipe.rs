//! PipeChannel over real fds: pipes, FIFOs, socketpairs, /dev/null, regular
//! files; flags restored; short writes; closed readers.

mod support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use iochannels::{Channel, Error, Framing};
use support::{is_nonblocking, within};

fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = std::io::pipe().expect("pipe");
    (r.into(), w.into())
}

#[tokio::test]
async fn pipe_carries_lines_both_ways() -> iochannels::Result<()> {
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let mut a = Channel::pipe(Some(r1), Some(w2))?.framed(Framing::Lines);
    let mut b = Channel::pipe(Some(r2), Some(w1))?.framed(Framing::Lines);
    within(a.write(b"to b\n")).await?;
    within(b.write(b"to a\n")).await?;
    assert_eq!(within(b.read()).await?.as_deref(), Some(&b"to b\n"[..]));
    assert_eq!(within(a.read()).await?.as_deref(), Some(&b"to a\n"[..]));
    Ok(())
}

#[tokio::test]
async fn large_write_completes_across_short_writes() -> iochannels::Result<()> {
    // 4 MiB is far beyond a pipe's 64 KiB buffer: every write(2) is short.
    let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (r, w) = pipe();
    let mut tx = Channel::pipe(None, Some(w))?.framed(Framing::Bytes);
    let mut rx = Channel::pipe(Some(r), None)?.framed(Framing::Bytes);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        tx.write(&data).await?;
        tx.close().await
    });
    let mut got = Vec::new();
    while let Some(chunk) = within(rx.read()).await? {
        got.extend_from_slice(&chunk);
    }
    writer.await.expect("writer task")?;
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "bytes differ");
    Ok(())
}

#[tokio::test]
async fn write_to_pipe_without_reader_is_closed_not_sigpipe() -> iochannels::Result<()> {
    let (r, w) = pipe();
    drop(r);
    let mut tx = Channel::pipe(None, Some(w))?.framed(Framing::Bytes);
    assert!(matches!(
        within(tx.write(b"nobody hears")).await,
        Err(Error::Closed)
    ));
    Ok(())
}

#[tokio::test]
async fn missing_sides_are_reported() -> iochannels::Result<()> {
    let (r, w) = pipe();
    let mut only_reads = Channel::pipe(Some(r), None)?.framed(Framing::Bytes);
    let mut only_writes = Channel::pipe(None, Some(w))?.framed(Framing::Bytes);
    assert!(matches!(
        only_reads.write(b"x").await,
        Err(Error::NotWritable)
    ));
    assert!(matches!(only_writes.read().await, Err(Error::NotReadable)));
    Ok(())
}

#[tokio::test]
async fn regular_file_is_read_whole_then_eof() -> iochannels::Result<()> {
    let mut file = tempfile::tempfile()?;
    let content: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    file.write_all(&content)?;
    std::io::Seek::rewind(&mut file)?;
    let mut framed = Channel::pipe(Some(file.into()), None)?.framed(Framing::Lines);
    let mut got = Vec::new();
    let mut lines = 0;
    while let Some(line) = within(framed.read()).await? {
        assert_eq!(line.last(), Some(&b'\n'));
        got.extend_from_slice(&line);
        lines += 1;
    }
    assert_eq!(lines, 200_000);
    assert!(got == content);
    Ok(())
}

#[tokio::test]
async fn regular_file_is_written() -> iochannels::Result<()> {
    let file = tempfile::NamedTempFile::new()?;
    let sink = std::fs::OpenOptions::new().write(true).open(file.path())?;
    let mut framed = Channel::pipe(None, Some(sink.into()))?.framed(Framing::Lines);
    within(framed.write(b"first\n")).await?;
    within(framed.write(b"second\n")).await?;
    framed.close().await?;
    assert_eq!(std::fs::read(file.path())?, b"first\nsecond\n");
    Ok(())
}

#[tokio::test]
async fn dev_null_reads_eof_and_swallows_writes() -> iochannels::Result<()> {
    let faucet = std::fs::File::open("/dev/null")?;
    let sink = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let mut framed = Channel::pipe(Some(faucet.into()), Some(sink.into()))?.framed(Framing::Lines);
    within(framed.write(b"into the void\n")).await?;
    assert_eq!(within(framed.read()).await?, None);
    assert!(matches!(framed.read().await, Err(Error::Closed)));
    Ok(())
}

#[tokio::test]
async fn fifo_carries_bytes() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .map_err(std::io::Error::from)?;
    // Open both ends without blocking: the read end first, non-blocking.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&path)?;
    let writer = std::fs::OpenOptions::new().write(true).open(&path)?;
    let mut rx = Channel::pipe(Some(reader.into()), None)?.framed(Framing::Lines);
    let mut tx = Channel::pipe(None, Some(writer.into()))?.framed(Framing::Lines);
    within(tx.write(b"through the fifo\n")).await?;
    tx.close().await?;
    drop(tx);
    assert_eq!(
        within(rx.read()).await?.as_deref(),
        Some(&b"through the fifo\n"[..])
    );
    assert_eq!(within(rx.read()).await?, None);
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;

#[tokio::test]
async fn socketpair_as_pipe_channel() -> iochannels::Result<()> {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    let a2 = a.try_clone()?;
    let mut framed = Channel::pipe(Some(a.into()), Some(a2.into()))?.framed(Framing::Lines);
    let mut b = b;
    b.write_all(b"hello socket\n")?;
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"hello socket\n"[..])
    );
    within(framed.write(b"back\n")).await?;
    let mut buf = [0u8; 5];
    b.read_exact(&mut buf)?;
    assert_eq!(&buf, b"back\n");
    Ok(())
}

#[tokio::test]
async fn shared_description_flags_are_restored_on_drop() -> iochannels::Result<()> {
    // A socket cannot be reopened privately: O_NONBLOCK goes on the shared
    // description while the channel lives, and must be gone after.
    let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    let watcher = a.try_clone()?;
    assert!(!is_nonblocking(&watcher));
    let channel = Channel::pipe(Some(a.into()), None)?;
    assert!(is_nonblocking(&watcher));
    drop(channel);
    assert!(!is_nonblocking(&watcher), "O_NONBLOCK leaked after drop");
    Ok(())
}

#[tokio::test]
async fn pipe_flags_never_leak_to_other_holders() -> iochannels::Result<()> {
    // A pipe is reopened privately: other holders of the original
    // description never see O_NONBLOCK, not even while the channel lives.
    let (r, w) = pipe();
    let watch_r = r.try_clone()?;
    let watch_w = w.try_clone()?;
    let channel = Channel::pipe(Some(r), Some(w))?;
    assert!(!is_nonblocking(&watch_r));
    assert!(!is_nonblocking(&watch_w));
    drop(channel);
    assert!(!is_nonblocking(&watch_r));
    assert!(!is_nonblocking(&watch_w));
    Ok(())
}

#[tokio::test]
async fn shutdown_write_sends_eof_and_keeps_reading() -> iochannels::Result<()> {
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let mut ours = Channel::pipe(Some(r1), Some(w2))?.framed(Framing::Bytes);
    let mut theirs = Channel::pipe(Some(r2), Some(w1))?.framed(Framing::Bytes);
    within(ours.write(b"request")).await?;
    within(ours.shutdown_write()).await?;
    assert_eq!(
        within(theirs.read()).await?.as_deref(),
        Some(&b"request"[..])
    );
    assert_eq!(within(theirs.read()).await?, None);
    within(theirs.write(b"answer after EOF")).await?;
    assert_eq!(
        within(ours.read()).await?.as_deref(),
        Some(&b"answer after EOF"[..])
    );
    assert!(matches!(ours.write(b"more").await, Err(Error::Closed)));
    Ok(())
}

#[test]
fn pipe_outside_a_runtime_is_an_error_not_a_panic() {
    let (r, _w) = pipe();
    match Channel::pipe(Some(r), None) {
        Err(Error::Io(e)) => assert!(e.to_string().contains("tokio runtime"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn shared_description_is_restored_by_its_last_user_whatever_the_order(
) -> iochannels::Result<()> {
    let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    let watcher = a.try_clone()?;
    let first = Channel::pipe(Some(a.try_clone()?.into()), None)?;
    let second = Channel::pipe(None, Some(a.into()))?;
    assert!(is_nonblocking(&watcher));
    drop(first);
    // `second` still needs the flag.
    assert!(is_nonblocking(&watcher));
    drop(second);
    assert!(
        !is_nonblocking(&watcher),
        "O_NONBLOCK leaked after both dropped"
    );
    Ok(())
}

#[tokio::test]
async fn shutdown_write_on_one_socket_as_both_sides_sends_eof() -> iochannels::Result<()> {
    // What a program started by inetd or systemd's Accept=yes has: stdin
    // and stdout are one socket.
    use tokio::io::AsyncReadExt;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let faucet = ours.try_clone()?;
    let mut framed = Channel::pipe(Some(faucet.into()), Some(ours.into()))?.framed(Framing::Lines);
    framed.write(b"bye\n").await?;
    framed.shutdown_write().await?;
    theirs.set_nonblocking(true)?;
    let mut peer = tokio::net::UnixStream::from_std(theirs)?;
    let mut got = Vec::new();
    within(peer.read_to_end(&mut got)).await?;
    assert_eq!(got, b"bye\n");
    // Reading goes on after the half-close.
    tokio::io::AsyncWriteExt::write_all(&mut peer, b"answer\n").await?;
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"answer\n"[..])
    );
    Ok(())
}
