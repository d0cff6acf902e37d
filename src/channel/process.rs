//! [`ProcessChannel`]: a child process's stdin (written) and stdout (read) as
//! one channel, built by [`Channel::spawn`](crate::Channel::spawn).
//!
//! The child is spawned with `kill_on_drop`, so dropping the channel kills it
//! and tokio's orphan queue reaps it: no zombie outlives the channel
//! (pitfall 21).

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::error::{io_at, MissingSide};

/// A child process as a channel: writes go to its stdin, reads come from its
/// stdout. Its stderr is inherited unless the `Command` says otherwise.
///
/// Shutting the write side down (`poll_shutdown`, or
/// [`FramedChannel::shutdown_write`](crate::FramedChannel::shutdown_write))
/// closes the child's stdin, which is how a filter like `cat` learns its input
/// has ended. Dropping the channel kills the child and reaps it.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let channel = Channel::spawn(&mut tokio::process::Command::new("cat"))?;
/// let mut framed = channel.framed(Framing::Lines);
/// framed.write(b"echo me\n").await?;
/// assert_eq!(framed.read().await?.as_deref(), Some(&b"echo me\n"[..]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ProcessChannel {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    /// What was spawned, for error messages.
    program: String,
}

impl ProcessChannel {
    /// Spawns `cmd` with its stdin and stdout set to pipes, killed on drop.
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program if it cannot be spawned (its
    /// `io::ErrorKind` kept, e.g. `NotFound`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let process = iochannels::ProcessChannel::spawn(&mut tokio::process::Command::new("cat"))?;
    /// assert!(process.id().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn(cmd: &mut Command) -> crate::Result<ProcessChannel> {
        let program = cmd.as_std().get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io_at(format!("spawning `{program}`"), e))?;
        Ok(ProcessChannel {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            program,
        })
    }

    /// The child's process id, while it has not been reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The program that was spawned, as given to the `Command`.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The child, for waiting on it, killing it or reading its status.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    pub(crate) fn stdout_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.stdout.as_ref().map(|s| s.as_raw_fd())
    }
}

impl AsyncRead for ProcessChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().stdout.as_mut() {
            Some(out) => Pin::new(out).poll_read(cx, buf),
            None => Poll::Ready(Err(MissingSide::Read.into_io())),
        }
    }
}

impl AsyncWrite for ProcessChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stdin.as_mut() {
            Some(input) => Pin::new(input).poll_write(cx, data),
            // The only way to lose stdin is shutting it down: a closed pipe.
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(input) => Pin::new(input).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes the child's stdin; its stdout stays readable.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stdin = None;
        Poll::Ready(Ok(()))
    }
}
