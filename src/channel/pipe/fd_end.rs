//! [`FdEnd`]: one fd of a [`PipeChannel`](super::PipeChannel) with the
//! backend its type calls for (the table in `pipe.rs`), and the private
//! reopen and the named-FIFO check that decide which description it uses.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

use crate::channel::nonblock::NonBlocking;
use crate::error::{io_at, MissingSide};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Read,
    Write,
}

/// Which open file description an [`FdEnd`] reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Description {
    /// A private reopen where that is possible and safe, else the given one.
    Private,
    /// Always the one given ([`PipeChannel::new_shared`](super::PipeChannel::new_shared)).
    Given,
}

/// `f_type` of pipefs, where anonymous pipes live; a named FIFO lives on
/// the file system that holds its name.
const PIPEFS_MAGIC: i128 = 0x5049_5045;

/// One fd of a [`PipeChannel`](super::PipeChannel), with the backend its type calls for.
pub(super) struct FdEnd {
    backend: Backend,
    /// Held when we set O_NONBLOCK on a shared description: dropping it
    /// takes the flag off again (through the table's own `dup`, so after
    /// the backend's fd is closed is fine).
    restore: Option<NonBlocking>,
}

enum Backend {
    /// Readiness from epoll via tokio's reactor; the fd is non-blocking.
    /// tokio's pipe types do plain `read(2)`/`write(2)` on any pollable fd.
    Reader(pipe::Receiver),
    Writer(pipe::Sender),
    /// Plain blocking calls; for fds epoll refuses (regular files, /dev/null).
    Direct(OwnedFd),
}

impl FdEnd {
    pub(super) fn new(fd: OwnedFd, dir: Direction, want: Description) -> io::Result<FdEnd> {
        let raw = fd.as_raw_fd();
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| io_at(format!("fstat fd {raw}"), e.into()))?;
        let file_type = FileType::from_raw_mode(stat.st_mode);
        if matches!(
            file_type,
            FileType::RegularFile | FileType::Directory | FileType::BlockDevice
        ) {
            return Ok(FdEnd::direct(fd));
        }
        // A private description when the fd can be reopened (pipes, ttys,
        // a FIFO's write end); otherwise a duplicate sharing the original
        // description. Either way `fd` itself stays untouched until
        // registration has worked, so it can still fall back to `Direct`.
        let reopenable = want == Description::Private
            && match file_type {
                FileType::CharacterDevice => true,
                // A named FIFO's read end opened non-blocking while no
                // writer is open does not report EPOLLHUP until a new
                // writer comes (Linux fifo_open): reopened after the last
                // writer left, it would never see EOF. The given
                // description reports hangups as its opener expects.
                FileType::Fifo => dir == Direction::Write || is_anonymous_pipe(&fd),
                _ => false,
            };
        let (candidate, restore) = match reopenable.then(|| reopen_nonblocking(&fd, dir)).flatten()
        {
            Some(private) => (private, None),
            None => {
                let copy = fd
                    .try_clone()
                    .map_err(|e| io_at(format!("dup fd {raw}"), e))?;
                let nonblocking = NonBlocking::set(copy.as_fd())?;
                (copy, Some(nonblocking))
            }
        };
        let registered = match dir {
            Direction::Read => {
                pipe::Receiver::from_owned_fd_unchecked(candidate).map(Backend::Reader)
            }
            Direction::Write => {
                pipe::Sender::from_owned_fd_unchecked(candidate).map(Backend::Writer)
            }
        };
        match registered {
            Ok(backend) => Ok(FdEnd { backend, restore }),
            Err(err) => {
                if let Some(nonblocking) = restore {
                    nonblocking.restore()?;
                }
                if err.raw_os_error() == Some(Errno::PERM.raw_os_error()) {
                    // epoll refuses it (e.g. /dev/null): it never blocks either.
                    Ok(FdEnd::direct(fd))
                } else {
                    Err(io_at(format!("registering fd {raw} with the runtime"), err))
                }
            }
        }
    }

    fn direct(fd: OwnedFd) -> FdEnd {
        FdEnd {
            backend: Backend::Direct(fd),
            restore: None,
        }
    }

    /// `shutdown(SHUT_WR)` if the fd is a socket (a no-op for anything
    /// else, and for a socket whose peer is already gone).
    pub(super) fn shutdown_socket(&self) -> io::Result<()> {
        let fd = self.fd();
        let is_socket = rustix::fs::fstat(fd)
            .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Socket);
        if !is_socket {
            return Ok(());
        }
        match rustix::net::shutdown(fd, rustix::net::Shutdown::Write) {
            Ok(()) | Err(Errno::NOTCONN) => Ok(()),
            Err(e) => Err(io_at(
                format!("shutting down socket fd {}", fd.as_raw_fd()),
                e.into(),
            )),
        }
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        match &self.backend {
            Backend::Reader(r) => r.as_fd(),
            Backend::Writer(w) => w.as_fd(),
            Backend::Direct(fd) => fd.as_fd(),
        }
    }

    /// The sink as tokio's pipe `Sender`, when it is polled.
    pub(super) fn polled_sender(&self) -> Option<&pipe::Sender> {
        match &self.backend {
            Backend::Writer(sender) => Some(sender),
            _ => None,
        }
    }

    pub(super) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.backend {
            Backend::Reader(r) => Pin::new(r).poll_read(cx, buf),
            Backend::Direct(fd) => {
                // A blocking call is never `Pending`: without spending
                // tokio's budget, a long file would hold the thread from
                // every other task until its end.
                let coop = ready!(tokio::task::coop::poll_proceed(cx));
                let read = retry_eintr(|| rustix::io::read(&*fd, buf.initialize_unfilled()));
                coop.made_progress();
                buf.advance(read?);
                Poll::Ready(Ok(()))
            }
            Backend::Writer(_) => Poll::Ready(Err(MissingSide::Read.into_io())),
        }
    }

    pub(super) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.backend {
            Backend::Writer(w) => Pin::new(w).poll_write(cx, data),
            Backend::Direct(fd) => {
                // As for reads: spend the budget, or a run of writes starves the thread.
                let coop = ready!(tokio::task::coop::poll_proceed(cx));
                let written = retry_eintr(|| rustix::io::write(&*fd, data));
                coop.made_progress();
                Poll::Ready(written)
            }
            Backend::Reader(_) => Poll::Ready(Err(MissingSide::Write.into_io())),
        }
    }
}

impl fmt::Debug for FdEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.backend {
            Backend::Reader(_) | Backend::Writer(_) if self.restore.is_some() => {
                "polled, shared description"
            }
            Backend::Reader(_) | Backend::Writer(_) => "polled, private description",
            Backend::Direct(_) => "direct (blocking calls)",
        };
        f.debug_struct("FdEnd")
            .field("fd", &self.fd().as_raw_fd())
            .field("backend", &kind)
            .finish()
    }
}

/// Whether `fd` is an anonymous pipe (on pipefs) rather than a named FIFO.
/// Unknown counts as named: the shared description is the one that is
/// always correct, the private one only avoids leaking O_NONBLOCK.
fn is_anonymous_pipe(fd: &OwnedFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|fs| i128::from(fs.f_type) == PIPEFS_MAGIC)
}

/// Opens `/proc/self/fd/N` non-blocking: a new open file description for the
/// same pipe or tty, whose flags nobody else sees. `None` where that fails
/// (no /proc, a FIFO with no reader yet, permissions): the caller falls back.
fn reopen_nonblocking(fd: &OwnedFd, dir: Direction) -> Option<OwnedFd> {
    let access = match dir {
        Direction::Read => OFlags::RDONLY,
        Direction::Write => OFlags::WRONLY,
    };
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let private = rustix::fs::open(
        path.as_str(),
        access | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .ok()?;
    // Only keep it if it is the same object (a tty path could name another device).
    let (a, b) = (
        rustix::fs::fstat(fd).ok()?,
        rustix::fs::fstat(&private).ok()?,
    );
    (a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_rdev == b.st_rdev).then_some(private)
}

fn retry_eintr<T>(mut op: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}
