//! Getting an fd ready for an [`IoMonitor`](crate::IoMonitor): what epoll
//! cannot watch and which directions the fd is open for. Every error names
//! the fd. Its O_NONBLOCK is set, and put back afterwards, by the table the
//! channels use too (`channel/nonblock.rs`), so a description watched by a
//! monitor and used by a channel at once gets its flags back from
//! whichever goes last.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use rustix::fs::OFlags;

use super::Interest;
use crate::error::io_at;

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
