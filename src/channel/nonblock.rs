//! O_NONBLOCK on open file descriptions we share with others: set by the
//! first of our users, taken off again by the last.
//!
//! The flag lives on the open file description: not on the fd (`dup` gives
//! one description two fds) and not on the inode (the two ends of an
//! anonymous pipe are two descriptions of one inode; so is a tty opened
//! twice). So the table here is keyed by description. Linux names a
//! description only through kcmp(2), which rustix does not offer; what we
//! have is enough:
//!
//! - Every description in the table has O_NONBLOCK, set by us. An fd
//!   without it is therefore on a description not in the table: it gets a
//!   new entry, which holds a `dup` of it, and O_NONBLOCK is set.
//! - An fd that already has O_NONBLOCK is either on one of our entries'
//!   descriptions, or was made non-blocking by someone else before us. Only
//!   entries on the same inode can match, and a probe tells which does:
//!   two descriptions whose flags differ are different; if they are equal,
//!   flip O_APPEND through the entry's `dup` and see whether the fd's flags
//!   follow (only on the same description can they), then flip it back.
//!   A match is one more user of that entry; no match means the flag is not
//!   ours, and nothing is restored for that fd.
//! - The last user of an entry takes O_NONBLOCK off through the entry's own
//!   `dup`, so it reaches the right description whichever fd that user has,
//!   and changes nothing else (flags changed by others since stay changed).
//!
//! Why the probe rather than counting an ambiguous fd on every entry of its
//! inode (never restoring too early): the entry's `dup` keeps its
//! description open, so a pipe end closed by every real user would stay
//! open inside the table, and the other end would never see EOF or EPIPE.
//! The probe is exact. O_APPEND means nothing to the pipes, FIFOs, sockets
//! and character devices that come here (regular files and block devices
//! never do), and is flipped back within the table's lock.
//!
//! Left as it is: if someone else takes O_NONBLOCK off a description while
//! we use it, our next user of it makes a second entry; both take the flag
//! off at the end, which is what that someone asked for anyway.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};

use crate::error::io_at;

/// One description we made non-blocking.
struct Entry {
    id: u64,
    /// (st_dev, st_ino): only entries on the fd's inode are probed.
    file: (u64, u64),
    /// A `dup` on the description itself: probed, and restored through.
    description: OwnedFd,
    /// How many of our fds use it.
    users: usize,
}

struct Table {
    entries: Vec<Entry>,
    next_id: u64,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    entries: Vec::new(),
    next_id: 0,
});

fn table() -> MutexGuard<'static, Table> {
    // The table is consistent between statements: a panic elsewhere leaves it usable.
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Proof that an fd's description is non-blocking, and, when it was us who
/// made it so, one use of that: given back by [`NonBlocking::restore`] or
/// by dropping it.
#[derive(Debug)]
pub(crate) struct NonBlocking {
    /// `None`: the description was non-blocking before us (or already given back).
    entry: Option<u64>,
}

impl NonBlocking {
    /// Makes `fd`'s description non-blocking, counting `fd` as one more of
    /// our users of it (see the module docs).
    pub(crate) fn set(fd: BorrowedFd<'_>) -> io::Result<NonBlocking> {
        let raw = fd.as_raw_fd();
        let fcntl_err = |e: rustix::io::Errno| io_at(format!("fcntl fd {raw}"), e.into());
        let stat = rustix::fs::fstat(fd).map_err(|e| io_at(format!("fstat fd {raw}"), e.into()))?;
        let file = (stat.st_dev as u64, stat.st_ino as u64);
        let mut table = table();
        let flags = fcntl_getfl(fd).map_err(fcntl_err)?;
        if !flags.contains(OFlags::NONBLOCK) {
            let description = fd
                .try_clone_to_owned()
                .map_err(|e| io_at(format!("dup fd {raw}"), e))?;
            fcntl_setfl(fd, flags | OFlags::NONBLOCK).map_err(fcntl_err)?;
            let id = table.next_id;
            table.next_id += 1;
            table.entries.push(Entry {
                id,
                file,
                description,
                users: 1,
            });
            return Ok(NonBlocking { entry: Some(id) });
        }
        for entry in table.entries.iter_mut().filter(|e| e.file == file) {
            if same_description(fd, entry.description.as_fd(), flags).map_err(fcntl_err)? {
                entry.users += 1;
                return Ok(NonBlocking {
                    entry: Some(entry.id),
                });
            }
        }
        Ok(NonBlocking { entry: None })
    }

    /// Gives this use back; the last user takes O_NONBLOCK off again.
    pub(crate) fn restore(mut self) -> io::Result<()> {
        self.release()
    }

    fn release(&mut self) -> io::Result<()> {
        let Some(id) = self.entry.take() else {
            return Ok(());
        };
        let mut table = table();
        let Some(at) = table.entries.iter().position(|e| e.id == id) else {
            return Ok(());
        };
        let entry = &mut table.entries[at];
        entry.users -= 1;
        if entry.users > 0 {
            return Ok(());
        }
        let entry = table.entries.swap_remove(at);
        let fd = entry.description.as_fd();
        let err = |e: rustix::io::Errno| io_at("restoring O_NONBLOCK: fcntl", e.into());
        let now = fcntl_getfl(fd).map_err(err)?;
        fcntl_setfl(fd, now - OFlags::NONBLOCK).map_err(err)
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        // Best effort: nobody to report to while dropping; `restore` reports.
        let _ = self.release();
    }
}

/// Whether `fd` (whose flags are `flags`) and `ours` are one open file
/// description: flipping O_APPEND on one shows on the other only then.
fn same_description(
    fd: BorrowedFd<'_>,
    ours: BorrowedFd<'_>,
    flags: OFlags,
) -> rustix::io::Result<bool> {
    if fcntl_getfl(ours)? != flags {
        return Ok(false);
    }
    fcntl_setfl(ours, flags ^ OFlags::APPEND)?;
    let seen = fcntl_getfl(fd);
    // Flipped back before anything else, even if the look failed.
    let back = fcntl_setfl(ours, flags);
    let seen = seen?;
    back?;
    Ok(seen != flags)
}
