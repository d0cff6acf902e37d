//! [`ProcessChannel`]: a child process's stdin (written) and stdout (read) as
//! one channel, built by [`Channel::spawn`](crate::Channel::spawn); its
//! stderr as a channel of its own, its exit status, and signals to it.
//!
//! The child is spawned with `kill_on_drop`, so dropping the channel kills it
//! and tokio's orphan queue reaps it: no zombie outlives the channel
//! (pitfall 21). [`wait`](ProcessChannel::wait) and
//! [`kill`](ProcessChannel::kill) reap it at once.
//!
//! This file holds the channel: spawning, stderr, and the reads and writes;
//! waiting for the child and signalling it are in `process/exit.rs`.

mod exit;

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::error::{io_at, MissingSide};
use crate::Channel;

/// A child process as a channel: writes go to its stdin, reads come from its
/// stdout. Its stderr is inherited unless the `Command` says otherwise.
///
/// Shutting the write side down (`poll_shutdown`, or
/// [`FramedChannel::shutdown_write`](crate::FramedChannel::shutdown_write))
/// closes the child's stdin, which is how a filter like `cat` learns its input
/// has ended. Dropping the channel kills the child and reaps it.
///
/// Beyond the channel: [`take_stderr`](ProcessChannel::take_stderr) (or
/// [`spawn_with_stderr`](ProcessChannel::spawn_with_stderr)) gives the
/// child's stderr as a channel of its own; [`wait`](ProcessChannel::wait) is
/// its exit status as a future; [`terminate`](ProcessChannel::terminate)
/// sends SIGTERM and [`kill`](ProcessChannel::kill) SIGKILL.
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
    /// Boxed: a child's handles are large, and every `Channel` is as large
    /// as its largest kind (a poller holds thousands of channels).
    inner: Box<Parts>,
}

#[derive(Debug)]
struct Parts {
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
            inner: Box::new(Parts {
                stdin: child.stdin.take(),
                stdout: child.stdout.take(),
                child,
                program,
            }),
        })
    }

    /// Spawns `cmd` like [`spawn`](ProcessChannel::spawn), with its stderr
    /// set to a pipe too, and returns that pipe as a read-only [`Channel`].
    ///
    /// Read stdout and stderr concurrently (two tasks, or `tokio::join!`)
    /// when the child may write more than a pipe buffer (64 KiB) to either:
    /// a full pipe nobody reads stops the child (pitfall 21).
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program if it cannot be spawned, or if its
    /// stderr pipe cannot be registered with the runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Framing, ProcessChannel};
    /// use tokio::process::Command;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut cmd = Command::new("sh");
    /// cmd.arg("-c").arg("echo oops >&2");
    /// let (_process, stderr) = ProcessChannel::spawn_with_stderr(&mut cmd)?;
    /// let mut stderr = stderr.framed(Framing::Lines);
    /// assert_eq!(stderr.read().await?.as_deref(), Some(&b"oops\n"[..]));
    /// assert_eq!(stderr.read().await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_with_stderr(cmd: &mut Command) -> crate::Result<(ProcessChannel, Channel)> {
        let mut process = ProcessChannel::spawn(cmd.stderr(Stdio::piped()))?;
        match process.take_stderr()? {
            Some(stderr) => Ok((process, stderr)),
            // `spawn` keeps the child's stderr, and it was just set to a pipe.
            None => Err(io::Error::other(format!(
                "spawning `{}`: the child has no stderr pipe",
                process.program()
            ))
            .into()),
        }
    }

    /// The child's stderr as a read-only [`Channel`], if the `Command` set
    /// it to a pipe (`cmd.stderr(Stdio::piped())`) and it was not taken yet.
    ///
    /// By default a spawned child's stderr is inherited, and this is
    /// `Ok(None)`. The returned channel is a [`Channel::Pipe`] with only a
    /// read side: it reads what the child writes to fd 2, then the end once
    /// the child (and every process it passed the pipe on to) has exited.
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program if the pipe cannot be moved to a
    /// channel (e.g. no tokio runtime is running).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Stdio;
    /// use iochannels::ProcessChannel;
    /// use tokio::io::AsyncReadExt;
    /// use tokio::process::Command;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut cmd = Command::new("sh");
    /// cmd.arg("-c").arg("echo warning >&2").stderr(Stdio::piped());
    /// let mut process = ProcessChannel::spawn(&mut cmd)?;
    /// let mut stderr = process.take_stderr()?.expect("stderr was piped");
    /// assert!(process.take_stderr()?.is_none());
    /// let mut text = String::new();
    /// stderr.read_to_string(&mut text).await?;
    /// assert_eq!(text, "warning\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_stderr(&mut self) -> crate::Result<Option<Channel>> {
        let Some(stderr) = self.inner.child.stderr.take() else {
            return Ok(None);
        };
        let what = || format!("stderr of `{}`", self.inner.program);
        let fd = stderr.into_owned_fd().map_err(|e| io_at(what(), e))?;
        let channel = Channel::pipe(Some(fd), None).map_err(|e| match e {
            crate::Error::Io(e) => crate::Error::Io(io_at(what(), e)),
            other => other,
        })?;
        Ok(Some(channel))
    }

    /// The child's process id, while it has not been reaped.
    pub fn id(&self) -> Option<u32> {
        self.inner.child.id()
    }

    /// The program that was spawned, as given to the `Command`.
    pub fn program(&self) -> &str {
        &self.inner.program
    }

    /// The child, for waiting on it, killing it or reading its status.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.inner.child
    }

    /// Closes the pipes to and from the child (a closed channel's fds
    /// are released); the child stays, to be waited on.
    pub(crate) fn release_pipes(&mut self) {
        self.inner.stdin = None;
        self.inner.stdout = None;
    }

    pub(crate) fn stdout_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.inner.stdout.as_ref().map(|s| s.as_raw_fd())
    }
}

impl AsyncRead for ProcessChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().inner.stdout.as_mut() {
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
        match self.get_mut().inner.stdin.as_mut() {
            Some(input) => Pin::new(input).poll_write(cx, data),
            // The only way to lose stdin is shutting it down: a closed pipe.
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner.stdin.as_mut() {
            Some(input) => Pin::new(input).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes the child's stdin; its stdout stays readable.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.stdin = None;
        Poll::Ready(Ok(()))
    }
}
