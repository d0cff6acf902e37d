//! Getting an fd ready for an [`IoMonitor`](crate::IoMonitor): what epoll
//! cannot watch, which directions the fd is open for, and putting its
//! O_NONBLOCK back afterwards. Every error names the fd.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use rustix::fs::OFlags;

use super::Interest;
use crate::channel::nonblock::NonBlocking;
use crate::error::io_at;

/// Puts a description's original flags back when dropped, through its own
/// duplicate so it can outlive the monitor's fd inside `into_inner`.
pub(super) struct RestoreFlags {
    pub(super) fd: OwnedFd,
    /// Shared with the channels: a description used by a channel and a
    /// monitor at once gets its flags back from whichever goes last.
    pub(super) guard: Option<NonBlocking>,
}

impl Drop for RestoreFlags {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            // Best effort: nobody to report to while dropping.
            let _ = guard.restore(self.fd.as_fd());
        }
    }
}

pub(super) fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    fd.try_clone()
        .map_err(|e| io_at(format!("watching fd {}: dup", fd.as_raw_fd()), e))
}

pub(super) fn unwatchable(raw: RawFd, kind: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "fd {raw} is {kind}: epoll cannot watch it (it is always ready; read or write it directly)"
        ),
    )
}

pub(super) fn check_access(raw: RawFd, flags: OFlags, interest: Interest) -> io::Result<()> {
    let access = flags & OFlags::RWMODE;
    let refused = if interest.is_readable() && access == OFlags::WRONLY {
        Some("readable, but it is open write-only")
    } else if interest.is_writable() && access == OFlags::RDONLY {
        Some("writable, but it is open read-only")
    } else {
        None
    };
    match refused {
        Some(why) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("watching fd {raw} for becoming {why}"),
        )),
        None => Ok(()),
    }
}

pub(super) fn registration_error(raw: RawFd, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) {
        // epoll refuses it: `/dev/null` and other always-ready character devices.
        unwatchable(raw, "a file epoll refuses (EPERM)")
    } else {
        io_at(
            format!("watching fd {raw}: registering with the runtime"),
            e,
        )
    }
}
