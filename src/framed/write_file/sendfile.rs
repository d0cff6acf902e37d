//! The sendfile(2) half of [`write_file`](super): which sinks take it
//! ([`Target::of`]: sockets only while SIGPIPE is ignored, pipes always),
//! and the loop that drives it by the sink's write readiness. May touch
//! only a [`Transfer`] and the channel's sink; the copy and the counting are
//! the parent's.

use std::fs::File;
use std::io;

use tokio::net::unix::pipe;
use tokio::net::{TcpStream, UnixStream};

use super::Transfer;
use crate::{Channel, Error, Result};

/// Most bytes asked of one sendfile(2) call. A non-blocking socket or pipe
/// takes what fits in its buffer and returns; this only bounds how much one
/// call (and so one progress step) may move when the reader keeps up.
const SENDFILE_CHUNK: usize = 4 * 1024 * 1024;

/// Transfers to a socket of at most this many bytes are copied: sendfile(2)
/// would save little, and checking SIGPIPE first costs tens of microseconds.
const SOCKET_SENDFILE_ABOVE: u64 = 1024 * 1024;

/// How the sendfile(2) loop ended without an error.
pub(super) enum Sendfile {
    /// Everything asked for, or up to the file's end, was sent.
    Done,
    /// The kernel cannot sendfile from this file to this sink: copy instead.
    Unsupported,
}

/// A sink sendfile(2) can write to, with the readiness to drive it.
pub(super) enum Target<'a> {
    Tcp(&'a TcpStream),
    Unix(&'a UnixStream),
    Pipe(&'a pipe::Sender),
}

impl<'a> Target<'a> {
    /// The sendfile(2) target for `channel`, if it has one and, for a
    /// socket, the transfer is worth it and SIGPIPE cannot kill us.
    pub(super) fn of(channel: &'a Channel, transfer: &Transfer<'_>) -> Option<Target<'a>> {
        let socket_ok = || transfer.remaining() > SOCKET_SENDFILE_ABOVE && sigpipe_ignored();
        match channel {
            Channel::Tcp(s) if socket_ok() => Some(Target::Tcp(s)),
            Channel::Unix(s) if socket_ok() => Some(Target::Unix(s)),
            Channel::Pipe(p) => p.polled_sink().map(Target::Pipe),
            _ => None,
        }
    }

    async fn writable(&self) -> io::Result<()> {
        match self {
            Target::Tcp(s) => s.writable().await,
            Target::Unix(s) => s.writable().await,
            Target::Pipe(s) => s.writable().await,
        }
    }

    /// Sends until done, the file's end, an error, or a refusal by the kernel.
    pub(super) async fn send(
        &self,
        transfer: &mut Transfer<'_>,
        progress: &mut impl FnMut(u64),
    ) -> Result<Sendfile> {
        loop {
            let want = transfer.want(SENDFILE_CHUNK);
            if want == 0 {
                return Ok(Sendfile::Done);
            }
            // Also where a long transfer yields: readiness spends the task's coop budget.
            self.writable().await.map_err(Error::from_io_write)?;
            let mut offset = transfer.offset;
            match self.try_sendfile(transfer.file, &mut offset, want) {
                Ok(0) => return Ok(Sendfile::Done),
                Ok(n) => transfer.advance(n, progress),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) if is_unsupported(&e) => return Ok(Sendfile::Unsupported),
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SPIPE.raw_os_error()) => {
                    return Err(Error::Io(transfer.read_error(e)))
                }
                Err(e) => return Err(Error::from_io_write(e)),
            }
        }
    }

    /// One sendfile(2) call if the sink is ready; `WouldBlock` (clearing the
    /// readiness) if it is full.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn try_sendfile(&self, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        use tokio::io::Interest;
        match self {
            Target::Tcp(s) => s.try_io(Interest::WRITABLE, || {
                Ok(rustix::fs::sendfile(s, file, Some(offset), count)?)
            }),
            Target::Unix(s) => s.try_io(Interest::WRITABLE, || {
                Ok(rustix::fs::sendfile(s, file, Some(offset), count)?)
            }),
            Target::Pipe(s) => s.try_io(|| Ok(rustix::fs::sendfile(s, file, Some(offset), count)?)),
        }
    }

    /// No sendfile(2) here: always the copy.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn try_sendfile(&self, _file: &File, _offset: &mut u64, _count: usize) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Whether SIGPIPE is ignored in this process (the `SigIgn` mask of
/// `/proc/thread-self/status`); `false` if that cannot be read.
fn sigpipe_ignored() -> bool {
    let bit = 1u64 << (rustix::process::Signal::PIPE.as_raw() - 1);
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|ignored| ignored & bit != 0)
}

/// sendfile(2) refusing this pair of fds, rather than failing to write.
fn is_unsupported(e: &io::Error) -> bool {
    use rustix::io::Errno;
    e.kind() == io::ErrorKind::Unsupported
        || [Errno::INVAL, Errno::NOSYS, Errno::OPNOTSUPP]
            .iter()
            .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_programs_ignore_sigpipe_and_we_can_tell() {
        // The std runtime sets SIGPIPE to SIG_IGN before the test harness runs.
        assert!(super::sigpipe_ignored());
    }
}
