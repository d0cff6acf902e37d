//! What an [`IoMonitor`](crate::IoMonitor) watches for ([`Interest`]) and
//! what it reports ([`Readiness`]).

/// Which readiness an [`IoMonitor`](crate::IoMonitor) watches an fd for:
/// kaa's `IO_READ` / `IO_WRITE` condition.
///
/// # Examples
///
/// ```
/// use iochannels::Interest;
///
/// assert!(Interest::Both.is_readable() && Interest::Both.is_writable());
/// assert!(!Interest::Readable.is_writable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Interest {
    /// Data to read, or the read side closed (EOF, hang-up).
    Readable,
    /// Room to write, or the write side closed (the reader is gone).
    Writable,
    /// Both of the above, reported together when they happen together.
    Both,
}

impl Interest {
    /// Whether this interest includes readability.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iochannels::Interest::Readable.is_readable());
    /// ```
    pub fn is_readable(self) -> bool {
        matches!(self, Interest::Readable | Interest::Both)
    }

    /// Whether this interest includes writability.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iochannels::Interest::Writable.is_writable());
    /// ```
    pub fn is_writable(self) -> bool {
        matches!(self, Interest::Writable | Interest::Both)
    }
}

/// One readiness event from an [`IoMonitor`](crate::IoMonitor): what the fd
/// became ready for.
///
/// "Readable" and "writable" mean, as for `select(2)`, that the operation
/// will not block — so a closed side is also ready: a read returns what is
/// left and then 0 (end of file), a write fails with EPIPE. The `closed`
/// flags tell those apart. Only the directions of the monitor's
/// [`Interest`] are ever set.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use iochannels::{Interest, IoMonitor};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (reader, writer) = std::io::pipe()?;
/// let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
/// drop(writer);
/// let event = monitor.next().await.expect("one event")?;
/// assert!(event.is_read_closed());
/// assert!(event.is_readable()); // a read returns at once: 0, the end
/// assert!(!event.is_writable() && !event.is_write_closed());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Readiness {
    pub(super) readable: bool,
    pub(super) writable: bool,
    pub(super) read_closed: bool,
    pub(super) write_closed: bool,
}

impl Readiness {
    pub(super) const NONE: Readiness = Readiness {
        readable: false,
        writable: false,
        read_closed: false,
        write_closed: false,
    };

    /// Data can be read without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Interest, IoMonitor};
    /// use std::io::Write;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (reader, mut writer) = std::io::pipe()?;
    /// let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    /// writer.write_all(b"x")?;
    /// let event = monitor.next().await.expect("an event")?;
    /// assert!(event.is_readable() && !event.is_read_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_readable(&self) -> bool {
        self.readable
    }

    /// Data can be written without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Interest, IoMonitor};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (_reader, writer) = std::io::pipe()?;
    /// let mut monitor = IoMonitor::new(writer.into(), Interest::Writable)?;
    /// let event = monitor.next().await.expect("an event")?;
    /// assert!(event.is_writable() && !event.is_write_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The read side is closed: once the data left is read, reads return
    /// end of file (a pipe whose last writer is gone, a socket whose peer
    /// shut down its writing).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Interest, IoMonitor};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (reader, writer) = std::io::pipe()?;
    /// let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    /// drop(writer);
    /// let event = monitor.next().await.expect("an event")?;
    /// assert!(event.is_read_closed());
    /// assert!(monitor.next().await.is_none()); // nothing left to watch
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_read_closed(&self) -> bool {
        self.read_closed
    }

    /// The write side is closed: writes fail (EPIPE), as a pipe's do once
    /// its last reader is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Interest, IoMonitor};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (reader, writer) = std::io::pipe()?;
    /// let mut monitor = IoMonitor::new(writer.into(), Interest::Writable)?;
    /// drop(reader);
    /// let event = monitor.next().await.expect("an event")?;
    /// assert!(event.is_write_closed() && event.is_writable());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_write_closed(&self) -> bool {
        self.write_closed
    }

    pub(super) fn is_empty(&self) -> bool {
        *self == Readiness::NONE
    }
}
