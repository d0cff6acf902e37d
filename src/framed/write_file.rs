//! [`FramedChannel::write_file`]: Pants' `write_file`, a file's contents
//! sent down a channel without passing through user space where the kernel
//! can do it.
//!
//! | channel | how |
//! |---------|-----|
//! | `Tcp`, `Unix`: more than 1 MiB to send and SIGPIPE ignored | sendfile(2) on the socket, driven by tokio's write readiness |
//! | `Pipe` whose sink is polled (pipe, FIFO, socket) | sendfile(2) on the sink (file → pipe works since Linux 2.6.33) |
//! | `Pipe` with a `Direct` sink (regular file, `/dev/null`), `Process`, `Test`; sockets otherwise | a copy: 64 KiB positional reads, each written out |
//! | any of the sendfile rows where sendfile(2) says EINVAL/ENOSYS/EOPNOTSUPP (a tty, a file system without it, not Linux) | the copy, from where sendfile stopped |
//!
//! The file is always read at explicit offsets (`sendfile` with an offset,
//! `pread`), so its own position is neither used nor moved and one `&File`
//! can be shared.
//!
//! SIGPIPE (pitfall 17): sendfile(2) cannot be told `MSG_NOSIGNAL`, so on a
//! socket whose peer is gone it raises SIGPIPE, where tokio's own socket
//! writes (`send(MSG_NOSIGNAL)`) never do. Rust programs ignore SIGPIPE
//! (the std runtime does so before `main`), but a host that left it at its
//! default would die. So a socket gets sendfile(2) only while SIGPIPE is
//! ignored, which is read from `/proc/thread-self/status` before each
//! transfer (no `unsafe` needed); otherwise it gets the copy. That read
//! costs tens of microseconds, so transfers of 1 MiB or less skip it and
//! copy: for them the copy costs about as little. A pipe raises SIGPIPE on
//! any write(2), the copy's included, so pipes need no such check.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;

use tokio::io::AsyncWrite;

use self::sendfile::{Sendfile, Target};
use super::writer::Writer;
use super::FramedChannel;
use crate::error::io_at;
use crate::{Error, Result};

/// The copy fallback's read size, as the `Direct` pipe backend's reads.
const COPY_CHUNK: usize = 64 * 1024;

mod sendfile;

impl FramedChannel {
    /// Sends the whole contents of `file`, from byte 0 to its end, and
    /// returns how many bytes were sent (Pants' `write_file`).
    ///
    /// Frames queued through the [`Sink`](futures::Sink) or
    /// [`queue`](FramedChannel::queue) and not yet written go first, so the
    /// order of writes is kept.
    ///
    /// On Linux, a pipe channel whose sink is a pipe, FIFO or socket, and a
    /// TCP or Unix socket given more than 1 MiB to send, are fed with
    /// sendfile(2): the bytes go from the page cache to the socket or pipe
    /// without a copy through this process. Every other channel (the test
    /// channel, a child process, a regular file or `/dev/null` as sink),
    /// any sink sendfile(2) refuses, and smaller sends to a socket get a
    /// plain copy: the file is read in 64 KiB chunks with blocking
    /// positional reads on the calling thread (a regular file's read waits
    /// for the disk, never for a peer, as the pipe channel's own regular-file
    /// backend does), and each chunk is written out.
    ///
    /// sendfile(2) cannot be told not to raise SIGPIPE when a socket's peer
    /// is gone, so a socket gets it only while SIGPIPE is ignored in the
    /// process — as in every Rust program, whose runtime ignores it before
    /// `main` — and the copy otherwise: a peer gone mid-transfer is
    /// [`Error::Closed`], never a SIGPIPE death.
    ///
    /// The file is read at explicit offsets: its own position is neither
    /// used nor moved, and the caller may share the `&File`. It must be
    /// seekable (a regular file or block device); anything else fails with
    /// an [`Error::Io`] rather than block. The end is where reads first
    /// return nothing, so a file that grows meanwhile is sent as far as it
    /// has grown when its end is reached.
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] after `close()`/`shutdown_write()`, or when the
    ///   peer goes away (EPIPE, ECONNRESET), however much was sent by then.
    /// - [`Error::NotWritable`] if the channel has no write side.
    /// - [`Error::Io`] for any other failure, reading the file included,
    ///   naming the endpoint.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if dropped before it completes, a prefix of the
    /// file may have been sent. With
    /// [`write_file_with_progress`](FramedChannel::write_file_with_progress)
    /// the last total reported is exactly how much.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(b"file contents\n")?;
    ///
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// framed.write(b"header\n").await?;
    /// // From byte 0, although the file's position is at its end.
    /// assert_eq!(framed.write_file(&file).await?, 14);
    /// assert_eq!(peer.get(), "header\nfile contents\n");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn write_file(&mut self, file: &File) -> Result<u64> {
        self.write_file_range(file, 0, None, |_| {}).await
    }

    /// [`write_file`](FramedChannel::write_file), calling `progress` with
    /// the total of bytes sent so far after each chunk goes out (one
    /// sendfile(2) call, or one 64 KiB chunk of the copy). The totals
    /// increase, and the last one is the value returned; an empty file
    /// sends nothing and never calls it.
    ///
    /// # Errors
    ///
    /// As [`write_file`](FramedChannel::write_file).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe; the last total reported is what was sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(&[7u8; 1000])?;
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Bytes);
    /// let mut totals = Vec::new();
    /// let sent = framed.write_file_with_progress(&file, |n| totals.push(n)).await?;
    /// assert_eq!((sent, totals.last().copied()), (1000, Some(1000)));
    /// assert_eq!(peer.get().len(), 1000);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn write_file_with_progress(
        &mut self,
        file: &File,
        progress: impl FnMut(u64),
    ) -> Result<u64> {
        self.write_file_range(file, 0, None, progress).await
    }

    /// Sends `len` bytes of `file` starting at byte `offset` (to its end if
    /// `len` is `None`), as [`write_file`](FramedChannel::write_file) does,
    /// calling `progress` as
    /// [`write_file_with_progress`](FramedChannel::write_file_with_progress)
    /// does. Pants' `write_file(sfile, nbytes, offset)`. Returns the bytes
    /// sent. An `offset` past the end sends nothing.
    ///
    /// # Errors
    ///
    /// As [`write_file`](FramedChannel::write_file); and if the file ends
    /// before `len` bytes were sent, an [`Error::Io`] of kind
    /// `UnexpectedEof` saying how many were (the peer then has only those).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe; the last total reported is what was sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(b"0123456789")?;
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Bytes);
    /// assert_eq!(framed.write_file_range(&file, 3, Some(4), |_| {}).await?, 4);
    /// assert_eq!(framed.write_file_range(&file, 8, None, |_| {}).await?, 2);
    /// assert_eq!(peer.get(), "345689");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn write_file_range(
        &mut self,
        file: &File,
        offset: u64,
        len: Option<u64>,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        self.check_writable()?;
        if !self.channel.has_writer() {
            return Err(Error::NotWritable);
        }
        std::future::poll_fn(|cx| self.poll_flush_sink(cx)).await?;
        let mut transfer = Transfer {
            file,
            offset,
            len,
            sent: 0,
        };
        let sent = self.send_file(&mut transfer, &mut progress).await;
        // One write in the channel's counters, with what went out even if
        // it then failed.
        crate::trace::count!({
            self.writer.bytes_out += transfer.sent;
            self.frames_out += 1;
        });
        sent
    }

    /// Sends `transfer` with sendfile where the sink takes it, else by copying.
    async fn send_file(
        &mut self,
        transfer: &mut Transfer<'_>,
        progress: &mut impl FnMut(u64),
    ) -> Result<u64> {
        if let Some(target) = Target::of(&self.channel, transfer) {
            match target.send(transfer, progress).await {
                Ok(Sendfile::Done) => return self.finish(transfer),
                // Not for this sink: copy the rest.
                Ok(Sendfile::Unsupported) => {}
                Err(e) => return Err(self.name_endpoint(e)),
            }
        }
        self.copy(transfer, progress).await?;
        self.finish(transfer)
    }

    /// The copy fallback: 64 KiB positional reads, each written out in full.
    async fn copy(
        &mut self,
        transfer: &mut Transfer<'_>,
        progress: &mut impl FnMut(u64),
    ) -> Result<()> {
        let mut buf = vec![0u8; transfer.want(COPY_CHUNK).min(COPY_CHUNK)];
        loop {
            let want = transfer.want(buf.len());
            if want == 0 {
                break;
            }
            let n = transfer
                .read(&mut buf[..want])
                .map_err(|e| self.name_endpoint(e))?;
            if n == 0 {
                break;
            }
            let mut written = 0;
            let chunk = &buf[..n];
            let channel = &mut self.channel;
            let all = std::future::poll_fn(|cx| {
                Writer::poll_write_all(cx, &mut *channel, chunk, &mut written)
            })
            .await;
            all.map_err(|e| self.name_endpoint(Error::from_io_write(e)))?;
            transfer.advance(n, progress);
        }
        let channel = &mut self.channel;
        let flushed = std::future::poll_fn(|cx| Pin::new(&mut *channel).poll_flush(cx)).await;
        flushed.map_err(|e| self.name_endpoint(Error::from_io_write(e)))
    }

    /// The count sent, or the error for a range the file was too short for.
    fn finish(&self, transfer: &Transfer<'_>) -> Result<u64> {
        match transfer.len {
            Some(len) if transfer.sent < len => Err(self.name_endpoint(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "write_file: the file ended at byte {}, after {} of the {len} bytes asked for",
                    transfer.offset, transfer.sent
                ),
            )))),
            _ => Ok(transfer.sent),
        }
    }
}

/// Where a transfer is: the next byte of the file to send, and how much
/// has gone out of how much was asked for.
struct Transfer<'a> {
    file: &'a File,
    offset: u64,
    len: Option<u64>,
    sent: u64,
}

impl Transfer<'_> {
    /// How many bytes to ask for next, at most `chunk`; 0 once `len` is sent.
    fn want(&self, chunk: usize) -> usize {
        match self.len {
            None => chunk,
            Some(len) => usize::try_from(len - self.sent).map_or(chunk, |left| left.min(chunk)),
        }
    }

    /// Bytes still to send: what is left of `len`, or of the file's size
    /// now; `u64::MAX` when unknown (not a regular file, or fstat failed).
    fn remaining(&self) -> u64 {
        match self.len {
            Some(len) => len - self.sent,
            None => match self.file.metadata() {
                Ok(meta) if meta.is_file() => meta.len().saturating_sub(self.offset),
                _ => u64::MAX,
            },
        }
    }

    fn advance(&mut self, n: usize, progress: &mut impl FnMut(u64)) {
        self.offset += n as u64;
        self.sent += n as u64;
        progress(self.sent);
    }

    /// One blocking positional read at the current offset (EINTR retried).
    fn read(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.file.read_at(buf, self.offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(self.read_error(e))),
                Ok(n) => return Ok(n),
            }
        }
    }

    fn read_error(&self, e: io::Error) -> io::Error {
        let hint = if e.raw_os_error() == Some(rustix::io::Errno::SPIPE.raw_os_error()) {
            " (write_file needs a seekable file: a regular file or block device)"
        } else {
            ""
        };
        io_at(
            format!("write_file: reading the file at byte {}{hint}", self.offset),
            e,
        )
    }
}
