//! Descriptions given to `PipeChannel::new_shared` (and to an IoMonitor):
//! each made non-blocking while used, each given back exactly its own
//! flags, told apart even when they share an inode (both ends of a pipe,
//! a FIFO opened twice).

mod support;

use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::mpsc;
use std::time::Duration;

use iochannels::{Channel, Error, Framing, Interest, IoMonitor, PipeChannel};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use support::{is_nonblocking, within, STEP};

fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = std::io::pipe().expect("pipe");
    (r.into(), w.into())
}

fn flags(fd: impl AsFd) -> OFlags {
    fcntl_getfl(fd).expect("fcntl F_GETFL")
}

fn make_nonblocking(fd: impl AsFd) {
    let now = flags(&fd);
    fcntl_setfl(fd, now | OFlags::NONBLOCK).expect("fcntl F_SETFL");
}

#[test]
fn both_ends_of_one_pipe_given_shared_are_non_blocking() {
    // A blocking write(2) on the runtime's thread cannot be interrupted by
    // a tokio timeout: the runtime runs on a thread of its own, watched.
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = rt.block_on(async {
            let (r, w) = pipe();
            let channel = PipeChannel::new_shared(Some(r), Some(w))?;
            let mut framed = Channel::from(channel).framed(Framing::Bytes);
            let big = vec![b'x'; 1024 * 1024];
            // Nobody reads: the pipe fills, and the write must wait, not block.
            let write = tokio::time::timeout(Duration::from_millis(300), framed.write(&big)).await;
            assert!(
                write.is_err(),
                "1 MiB written with nobody reading: {write:?}"
            );
            Ok::<_, Error>(())
        });
        let _ = done.send(());
        outcome
    });
    if finished.recv_timeout(STEP).is_err() {
        panic!("writing to a full pipe blocked the runtime's thread: its end is not non-blocking");
    }
    worker
        .join()
        .expect("runtime thread")
        .expect("channel over the pipe");
}

#[tokio::test]
async fn both_ends_given_shared_get_exactly_their_own_flags_back() -> iochannels::Result<()> {
    let (r, w) = pipe();
    let (watch_r, watch_w) = (r.try_clone()?, w.try_clone()?);
    let (before_r, before_w) = (flags(&watch_r), flags(&watch_w));
    let channel = PipeChannel::new_shared(Some(r), Some(w))?;
    assert!(is_nonblocking(&watch_r), "read end not made non-blocking");
    assert!(is_nonblocking(&watch_w), "write end not made non-blocking");
    drop(channel);
    assert_eq!(flags(&watch_r), before_r, "read end's flags");
    assert_eq!(flags(&watch_w), before_w, "write end's flags");
    Ok(())
}

#[tokio::test]
async fn each_end_is_restored_when_its_own_channel_goes() -> iochannels::Result<()> {
    let (r, w) = pipe();
    let (watch_r, watch_w) = (r.try_clone()?, w.try_clone()?);
    let (before_r, before_w) = (flags(&watch_r), flags(&watch_w));
    let reader = PipeChannel::new_shared(Some(r), None)?;
    let writer = PipeChannel::new_shared(None, Some(w))?;
    drop(writer);
    assert_eq!(
        flags(&watch_w),
        before_w,
        "write end's flags after its channel"
    );
    assert!(
        is_nonblocking(&watch_r),
        "read end restored while still in use"
    );
    drop(reader);
    assert_eq!(
        flags(&watch_r),
        before_r,
        "read end's flags after its channel"
    );
    Ok(())
}

#[tokio::test]
async fn a_write_end_given_non_blocking_stays_so_and_the_read_end_is_restored(
) -> iochannels::Result<()> {
    let (r, w) = pipe();
    make_nonblocking(&w);
    let (watch_r, watch_w) = (r.try_clone()?, w.try_clone()?);
    let (before_r, before_w) = (flags(&watch_r), flags(&watch_w));
    let channel = PipeChannel::new_shared(Some(r), Some(w))?;
    assert!(is_nonblocking(&watch_r), "read end not made non-blocking");
    drop(channel);
    assert_eq!(flags(&watch_r), before_r, "read end's flags");
    assert_eq!(flags(&watch_w), before_w, "write end's flags");
    assert!(
        is_nonblocking(&watch_w),
        "the user's O_NONBLOCK was taken off"
    );
    Ok(())
}

#[tokio::test]
async fn a_read_end_given_non_blocking_stays_so_and_the_write_end_is_restored(
) -> iochannels::Result<()> {
    let (r, w) = pipe();
    make_nonblocking(&r);
    let (watch_r, watch_w) = (r.try_clone()?, w.try_clone()?);
    let (before_r, before_w) = (flags(&watch_r), flags(&watch_w));
    let channel = PipeChannel::new_shared(Some(r), Some(w))?;
    assert!(is_nonblocking(&watch_w), "write end not made non-blocking");
    drop(channel);
    assert_eq!(flags(&watch_r), before_r, "read end's flags");
    assert_eq!(flags(&watch_w), before_w, "write end's flags");
    assert!(
        is_nonblocking(&watch_r),
        "the user's O_NONBLOCK was taken off"
    );
    Ok(())
}

#[tokio::test]
async fn a_dropped_read_end_is_closed_even_while_the_write_end_lives() -> iochannels::Result<()> {
    // Nothing may keep a description open after its channel is gone: the
    // writer must see the reader go (EPIPE), not a pipe that fills for ever.
    let (r, w) = pipe();
    make_nonblocking(&w);
    let reader = PipeChannel::new_shared(Some(r), None)?;
    let mut writer = Channel::from(PipeChannel::new_shared(None, Some(w))?).framed(Framing::Bytes);
    drop(reader);
    let big = vec![b'x'; 1024 * 1024];
    assert!(matches!(
        within(writer.write(&big)).await,
        Err(Error::Closed)
    ));
    Ok(())
}

#[tokio::test]
async fn two_descriptions_of_one_fifo_are_told_apart() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .map_err(std::io::Error::from)?;
    let open_reader = || {
        OpenOptions::new()
            .read(true)
            .custom_flags(OFlags::NONBLOCK.bits() as i32)
            .open(&path)
    };
    // Two read ends of one inode with equal flags: one ours, one the user's.
    let ours = open_reader()?;
    fcntl_setfl(&ours, OFlags::empty()).map_err(std::io::Error::from)?;
    let theirs = open_reader()?;
    let _writer = OpenOptions::new().write(true).open(&path)?;
    let (watch_ours, watch_theirs) = (ours.try_clone()?, theirs.try_clone()?);
    let first = PipeChannel::new_shared(Some(ours.into()), None)?;
    let second = PipeChannel::new_shared(Some(theirs.into()), None)?;
    // A third use of our description counts as one more user of it.
    let third = PipeChannel::new_shared(Some(watch_ours.try_clone()?.into()), None)?;
    drop(first);
    assert!(is_nonblocking(&watch_ours), "restored while still in use");
    drop(third);
    assert!(
        !is_nonblocking(&watch_ours),
        "O_NONBLOCK left on our description"
    );
    drop(second);
    assert!(
        is_nonblocking(&watch_theirs),
        "the user's O_NONBLOCK was taken off"
    );
    Ok(())
}

#[tokio::test]
async fn a_description_used_by_a_channel_and_a_monitor_is_restored_by_the_last(
) -> iochannels::Result<()> {
    let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    let watcher = a.try_clone()?;
    let channel = Channel::pipe(Some(a.try_clone()?.into()), None)?;
    let monitor = IoMonitor::new(a.into(), Interest::Readable)?;
    drop(channel);
    assert!(
        is_nonblocking(&watcher),
        "restored under the monitor's feet"
    );
    drop(monitor.into_inner());
    assert!(!is_nonblocking(&watcher), "O_NONBLOCK left after both");
    Ok(())
}
