//! How a [`ProcessChannel`]'s child ends: [`wait`](ProcessChannel::wait)
//! for its exit status, [`kill`](ProcessChannel::kill) (SIGKILL) and
//! [`terminate`](ProcessChannel::terminate) (SIGTERM). Touches only the
//! child and its stdin (closed before waiting), never stdout.

use std::io;
use std::process::ExitStatus;

use rustix::process::{kill_process, Pid, Signal};

use super::ProcessChannel;
use crate::error::io_at;

impl ProcessChannel {
    /// Waits for the child to exit, reaps it and returns its exit status.
    ///
    /// The child's stdin is closed first, so a filter like `cat` or `sort`
    /// sees the end of its input and can finish; writes after this fail
    /// with [`Error::Closed`](crate::Error::Closed). Its stdout stays open:
    /// what the child wrote can still be read after `wait`. But a child that
    /// writes more than a pipe buffer (64 KiB) nobody reads never exits, so
    /// read stdout (and a piped stderr) to the end *before* waiting — or
    /// from another task. Once the child is reaped, [`id`](ProcessChannel::id)
    /// is `None` and `wait` returns the same status again.
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program if waiting fails.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses nothing;
    /// stdin is already closed, the child goes on, and a later `wait` (or
    /// dropping the channel, which kills and reaps it) finishes the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, ProcessChannel};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut sort = ProcessChannel::spawn(&mut tokio::process::Command::new("sort"))?;
    /// sort.write_all(b"b\na\n").await?;
    /// let status = sort.wait().await?; // closes stdin: sort sorts and exits
    /// assert!(status.success());
    /// let mut sorted = Channel::from(sort).framed(Framing::Bytes);
    /// assert_eq!(sorted.read().await?.as_deref(), Some(&b"a\nb\n"[..]));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&mut self) -> crate::Result<ExitStatus> {
        self.inner.stdin = None;
        let program = &self.inner.program;
        self.inner
            .child
            .wait()
            .await
            .map_err(|e| io_at(format!("waiting for `{program}`"), e).into())
    }

    /// Kills the child with SIGKILL, reaps it and returns its exit status.
    ///
    /// A child that had already exited is not signalled: its own status is
    /// returned. Stdin is closed as by [`wait`](ProcessChannel::wait).
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program if the signal cannot be sent or
    /// waiting fails.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the signal is sent at the first poll; if the future is
    /// dropped before the child is reaped, a later `wait` or dropping the
    /// channel reaps it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use iochannels::ProcessChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut sleeper = ProcessChannel::spawn(tokio::process::Command::new("sleep").arg("100"))?;
    /// let status = sleeper.kill().await?;
    /// assert_eq!(status.signal(), Some(9));
    /// assert_eq!(sleeper.id(), None); // reaped
    /// # Ok(())
    /// # }
    /// ```
    pub async fn kill(&mut self) -> crate::Result<ExitStatus> {
        let program = &self.inner.program;
        // Reaped already, or exited: its real status, and no signal to a pid
        // that may no longer be ours.
        let exited = self
            .inner
            .child
            .try_wait()
            .map_err(|e| io_at(format!("checking on `{program}`"), e))?;
        if exited.is_none() {
            self.inner
                .child
                .start_kill()
                .map_err(|e| io_at(format!("killing `{program}`"), e))?;
        }
        self.wait().await
    }

    /// Asks the child to stop: sends it SIGTERM and returns at once.
    ///
    /// The child may clean up first, or ignore the signal: follow with
    /// [`wait`](ProcessChannel::wait), bounded by a timeout, and
    /// [`kill`](ProcessChannel::kill) it if the timeout passes (see the
    /// example). Does nothing once the child has been reaped, so the signal
    /// can never reach an unrelated process that reused the pid.
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program and pid if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::time::Duration;
    /// use iochannels::ProcessChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut sleeper = ProcessChannel::spawn(tokio::process::Command::new("sleep").arg("100"))?;
    /// sleeper.terminate()?;
    /// let status = match tokio::time::timeout(Duration::from_secs(5), sleeper.wait()).await {
    ///     Ok(status) => status?,
    ///     Err(_) => sleeper.kill().await?, // did not stop in time
    /// };
    /// assert_eq!(status.signal(), Some(15));
    /// # Ok(())
    /// # }
    /// ```
    pub fn terminate(&mut self) -> crate::Result<()> {
        // `id()` is `None` once tokio has reaped the child; until then the
        // pid is ours (at worst a zombie, which ignores signals harmlessly).
        let Some(id) = self.inner.child.id() else {
            return Ok(());
        };
        let what = || format!("sending SIGTERM to `{}` (pid {id})", self.inner.program);
        let pid = i32::try_from(id)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| {
                io_at(
                    what(),
                    io::Error::new(io::ErrorKind::InvalidData, "not a valid pid"),
                )
            })?;
        kill_process(pid, Signal::TERM).map_err(|e| io_at(what(), e.into()))?;
        Ok(())
    }
}
