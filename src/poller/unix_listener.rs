//! [`UnixSocketListener`]: a Unix stream listener that owns its socket file
//! — it starts over a stale file left by a crashed run, and removes its file
//! when it goes away (pitfall 23).
//!
//! The probe: an existing socket file is only ever removed after a connect
//! to it was refused (ECONNREFUSED: nobody listens). A file that answers,
//! that is not a socket, or that cannot be probed is left alone and `bind`
//! fails naming the path. On drop the file is removed only if it is still
//! the one we bound, never a successor's.
//!
//! "The same file" is checked by device and inode, against an [`Anchor`]:
//! an `O_PATH` fd held on the file. While it is open the inode cannot be
//! freed, so its number cannot be reused by a file someone else creates at
//! the path after deleting ours (ext4 hands freed inodes out again at
//! once). What remains is the window between the last check and the
//! `unlink` — two system calls — which a path API without unlink-by-inode
//! cannot close.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags};
use tokio::net::{UnixListener, UnixStream};

use super::{Listener, PeerAddr};
use crate::error::io_at;
use crate::{Channel, Result};

/// How long a probe connect may take. A Unix connect is answered at once
/// (accepted, refused, or EAGAIN when the backlog is full); this only bounds
/// the unexpected. A probe that times out counts as "someone is there".
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Rounds of probe-unlink-bind against other processes racing for the same path.
const ATTEMPTS: usize = 3;

/// A Unix stream listener bound to a path, owning its socket file.
///
/// [`bind`](UnixSocketListener::bind) starts even when a crashed run left
/// its socket file behind: an existing socket nobody answers on is removed
/// first. A live server at the path, or a file that is not a socket, makes
/// it fail instead, naming the path; the file is not touched. The socket
/// file is removed when the listener is dropped — or the
/// [`Poller`](crate::Poller) holding it removes the server, closes all, or
/// is dropped — unless someone else has replaced it meanwhile.
///
/// Hand it to a poller with [`Poller::add_server`](crate::Poller::add_server)
/// (it converts into a [`Listener`]), or accept from
/// [`as_inner`](UnixSocketListener::as_inner) yourself.
///
/// # Examples
///
/// ```
/// use iochannels::{Framing, Poller, UnixSocketListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("server.sock");
/// // A run that crashed: its socket file is left behind.
/// drop(std::os::unix::net::UnixListener::bind(&path)?);
/// let listener = UnixSocketListener::bind(&path).await?; // probed, stale, replaced
/// let mut poller = Poller::new(Framing::Lines);
/// poller.add_server(listener);
/// drop(poller);
/// assert!(!path.exists()); // the socket file goes with the server
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct UnixSocketListener {
    listener: UnixListener,
    path: PathBuf,
    /// The socket file we created, to tell it from a file someone else put
    /// at `path` later.
    file: Anchor,
}

impl UnixSocketListener {
    /// Listens on `path`, first removing a stale socket file left there by
    /// a server that is gone.
    ///
    /// If `path` exists: a socket is probed with a connect; only a refused
    /// connect (nobody listens) gets it removed. Anything else at the path
    /// stays as it is and the bind fails.
    ///
    /// # Errors
    ///
    /// An `Error::Io` whose message names the path:
    ///
    /// - kind `AddrInUse` if a server answers on the socket there (or does
    ///   not answer the probe within a second), or if the path is something
    ///   other than a socket (a regular file, a directory, a symlink);
    /// - the probe's or `bind`'s own error otherwise (`PermissionDenied`,
    ///   `NotFound` for a missing directory, ...).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the only wait is the probe connect, before anything is
    /// removed or bound; a cancelled `bind` leaves the path as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Error, UnixSocketListener};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.sock");
    /// let first = UnixSocketListener::bind(&path).await?;
    /// match UnixSocketListener::bind(&path).await {
    ///     Err(Error::Io(e)) => {
    ///         assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    ///         assert!(e.to_string().contains(&path.display().to_string()));
    ///     }
    ///     other => panic!("the first server answers there: {other:?}"),
    /// }
    /// assert_eq!(first.path(), path);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind(path: impl AsRef<Path>) -> Result<UnixSocketListener> {
        let path = path.as_ref();
        let shown = || format!("unix socket {}", path.display());
        for attempt in 1..=ATTEMPTS {
            clear_stale(path).await?;
            match UnixListener::bind(path) {
                Ok(listener) => {
                    let file = match Anchor::at(path) {
                        Ok(Some(file)) if file.kind == FileType::Socket => file,
                        // Not ours to keep or remove: someone swapped it at once.
                        Ok(_) => {
                            let e = io::Error::new(
                                io::ErrorKind::NotFound,
                                "the socket file was removed or replaced right after the bind",
                            );
                            return Err(io_at(format!("binding {}", shown()), e).into());
                        }
                        Err(e) => {
                            let e = io_at(format!("inspecting {} after bind", shown()), e);
                            return Err(e.into());
                        }
                    };
                    return Ok(UnixSocketListener {
                        listener,
                        path: path.to_path_buf(),
                        file,
                    });
                }
                // Another process bound it between our probe and our bind:
                // probe again, which now finds it answering.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempt < ATTEMPTS => {}
                Err(e) => return Err(io_at(format!("binding {}", shown()), e).into()),
            }
        }
        Err(in_use(path, "other processes keep binding it").into())
    }

    /// The path the socket file is at.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("p.sock");
    /// let listener = iochannels::UnixSocketListener::bind(&path).await?;
    /// assert_eq!(listener.path(), path);
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokio listener, to accept from directly or read its address.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, UnixSocketListener};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let listener = UnixSocketListener::bind(dir.path().join("a.sock")).await?;
    /// let _client = Channel::connect_unix(listener.path()).await?;
    /// let (_stream, _addr) = listener.as_inner().accept().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_inner(&self) -> &UnixListener {
        &self.listener
    }

    /// Accepts as the [`Poller`](crate::Poller) does for a plain [`UnixListener`].
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Channel, PeerAddr)>> {
        self.listener.poll_accept(cx).map_ok(|(stream, addr)| {
            let path = addr.as_pathname().map(Path::to_path_buf);
            (Channel::Unix(stream), PeerAddr::Unix(path))
        })
    }
}

impl From<UnixSocketListener> for Listener {
    fn from(listener: UnixSocketListener) -> Listener {
        Listener::UnixPath(listener)
    }
}

impl Drop for UnixSocketListener {
    /// Removes the socket file if it is still the one we bound. (A file put
    /// in its place between this check and the removal would be removed: a
    /// window of two system calls, which only a path API without
    /// unlink-by-inode leaves.)
    fn drop(&mut self) {
        if self.file.is_at(&self.path) {
            // Best effort: nobody to report to while dropping.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes way at `path` for a bind: nothing there, or a stale socket that is
/// then removed. Anything else is an error and stays untouched.
async fn clear_stale(path: &Path) -> io::Result<()> {
    let shown = || format!("unix socket {}", path.display());
    let probed = match Anchor::at(path) {
        Ok(None) => return Ok(()),
        Err(e) => return Err(io_at(format!("inspecting {}", shown()), e)),
        Ok(Some(file)) if file.kind != FileType::Socket => {
            return Err(in_use(
                path,
                "it exists and is not a socket; not touching it",
            ));
        }
        Ok(Some(file)) => file,
    };
    match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
        Ok(Ok(_answered)) => Err(in_use(path, "a server is listening there")),
        // Stale. Removed only if it is still the very socket we probed
        // (gone or replaced meanwhile: the bind, or the next round, sees).
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            if !probed.is_at(path) {
                return Ok(());
            }
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(
                    format!("removing stale {} (nobody answers on it)", shown()),
                    e,
                )),
                _ => Ok(()),
            }
        }
        // Removed between our look and the probe: free to bind.
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        // EAGAIN: a listener whose backlog is full — alive.
        Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => Err(in_use(
            path,
            "a server is listening there (its backlog is full)",
        )),
        Ok(Err(e)) => Err(io_at(format!("probing existing {}", shown()), e)),
        Err(_elapsed) => Err(in_use(
            path,
            "the socket there did not answer the probe in time",
        )),
    }
}

/// One file, held by an `O_PATH` fd so its inode number stays its own.
#[derive(Debug)]
struct Anchor {
    _fd: OwnedFd,
    kind: FileType,
    /// Its `fstat` while held: device and inode identify it.
    stat: rustix::fs::Stat,
}

impl Anchor {
    /// The file at `path` itself (a symlink is not followed), or `None` if
    /// there is none.
    fn at(path: &Path) -> io::Result<Option<Anchor>> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let stat = rustix::fs::fstat(&fd)?;
        Ok(Some(Anchor {
            _fd: fd,
            kind: FileType::from_raw_mode(stat.st_mode),
            stat,
        }))
    }

    /// Whether `path` still names this file.
    fn is_at(&self, path: &Path) -> bool {
        rustix::fs::lstat(path)
            .is_ok_and(|now| (now.st_dev, now.st_ino) == (self.stat.st_dev, self.stat.st_ino))
    }
}

fn in_use(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("cannot listen on unix socket {}: {why}", path.display()),
    )
}
