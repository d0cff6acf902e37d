//! O_NONBLOCK on open file descriptions we share with others: set once,
//! restored by the last of our users.
//!
//! Several of our fds can share one description (stdin and stdout on the
//! same socket, two `Channel::stdio()` at once). Each saving "the original
//! flags" on its own would save the O_NONBLOCK the first one set, and
//! restore it at the end: a leak. So the original flags are kept once per
//! file, with a count of our users, in a process-wide table.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Mutex;

use rustix::fs::OFlags;

use crate::error::io_at;

/// One file we made non-blocking: its identity, the flags it had, how many of our fds use it.
struct Entry {
    file: (u64, u64),
    original: OFlags,
    users: usize,
}

static SHARED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Proof that `fd`'s description was made non-blocking by us; give it back
/// with [`NonBlocking::restore`].
#[derive(Debug)]
pub(crate) struct NonBlocking {
    file: (u64, u64),
}

impl NonBlocking {
    /// Sets O_NONBLOCK on `fd`'s description, remembering the flags it had
    /// before the first of our users came.
    pub(crate) fn set(fd: BorrowedFd<'_>) -> io::Result<NonBlocking> {
        let raw = fd.as_raw_fd();
        let stat = rustix::fs::fstat(fd).map_err(|e| io_at(format!("fstat fd {raw}"), e.into()))?;
        let file = (stat.st_dev as u64, stat.st_ino as u64);
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = shared.iter_mut().find(|e| e.file == file) {
            entry.users += 1;
            return Ok(NonBlocking { file });
        }
        let original =
            rustix::fs::fcntl_getfl(fd).map_err(|e| io_at(format!("fcntl fd {raw}"), e.into()))?;
        rustix::fs::fcntl_setfl(fd, original | OFlags::NONBLOCK)
            .map_err(|e| io_at(format!("fcntl fd {raw}"), e.into()))?;
        shared.push(Entry {
            file,
            original,
            users: 1,
        });
        Ok(NonBlocking { file })
    }

    /// Gives this use back; the last user puts the original flags back on `fd`.
    pub(crate) fn restore(self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        let Some(at) = shared.iter().position(|e| e.file == self.file) else {
            return Ok(());
        };
        shared[at].users -= 1;
        if shared[at].users > 0 {
            return Ok(());
        }
        let entry = shared.swap_remove(at);
        rustix::fs::fcntl_setfl(fd, entry.original)
            .map_err(|e| io_at(format!("fcntl fd {}", fd.as_raw_fd()), e.into()))
    }
}
