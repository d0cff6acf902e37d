//! ProcessChannel beyond the channel: the child's stderr as its own channel,
//! the exit status as a future, SIGTERM and SIGKILL, and no zombie after.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use iochannels::{Channel, Error, Framing, ProcessChannel};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// The state letter of /proc/PID/stat, or None once the pid is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.trim_start().chars().next()
}

fn out_err_exit3() -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("echo out; echo err >&2; exit 3");
    cmd
}

async fn read_all(channel: &mut Channel) -> Vec<u8> {
    let mut got = Vec::new();
    within(channel.read_to_end(&mut got))
        .await
        .expect("reading to the end");
    got
}

#[tokio::test]
async fn stderr_channel_carries_exactly_what_the_child_wrote() -> iochannels::Result<()> {
    let (process, mut stderr) = ProcessChannel::spawn_with_stderr(&mut out_err_exit3())?;
    let mut stdout = Channel::from(process);
    assert_eq!(read_all(&mut stdout).await, b"out\n");
    assert_eq!(read_all(&mut stderr).await, b"err\n");
    assert!(matches!(stderr, Channel::Pipe(_)), "{stderr:?}");
    Ok(())
}

#[tokio::test]
async fn take_stderr_works_with_a_piped_command_and_only_once() -> iochannels::Result<()> {
    let mut cmd = out_err_exit3();
    cmd.stderr(Stdio::piped());
    let mut process = ProcessChannel::spawn(&mut cmd)?;
    let stderr = process.take_stderr()?.expect("stderr was piped");
    assert!(process.take_stderr()?.is_none());
    let mut lines = stderr.framed(Framing::Lines);
    assert_eq!(within(lines.read()).await?.as_deref(), Some(&b"err\n"[..]));
    assert_eq!(within(lines.read()).await?, None);
    let status = within(process.wait()).await?;
    assert_eq!(status.code(), Some(3));
    Ok(())
}

#[tokio::test]
async fn stderr_is_inherited_by_default_so_there_is_none_to_take() -> iochannels::Result<()> {
    let mut process = ProcessChannel::spawn(Command::new("true").stderr(Stdio::null()))?;
    assert!(process.take_stderr()?.is_none());
    let mut inherited = ProcessChannel::spawn(&mut Command::new("true"))?;
    assert!(inherited.take_stderr()?.is_none());
    assert_eq!(within(inherited.wait()).await?.code(), Some(0));
    assert_eq!(within(process.wait()).await?.code(), Some(0));
    Ok(())
}

#[tokio::test]
async fn wait_gives_the_exit_code_and_reaps() -> iochannels::Result<()> {
    let (mut process, _stderr) = ProcessChannel::spawn_with_stderr(&mut out_err_exit3())?;
    let pid = process.id().expect("a running child has a pid");
    let status = within(process.wait()).await?;
    assert_eq!(status.code(), Some(3));
    assert_eq!(status.signal(), None);
    assert_eq!(process.id(), None);
    assert_eq!(proc_state(pid), None, "child {pid} left behind");
    // The same status again; its stdout is still there to read.
    assert_eq!(within(process.wait()).await?.code(), Some(3));
    let mut stdout = Channel::from(process);
    assert_eq!(read_all(&mut stdout).await, b"out\n");
    Ok(())
}

#[tokio::test]
async fn wait_closes_stdin_first_so_a_filter_finishes() -> iochannels::Result<()> {
    let mut cat = ProcessChannel::spawn(&mut Command::new("cat"))?;
    within(cat.write_all(b"last words")).await?;
    // Without stdin closed, cat would wait for more input for ever.
    let status = within(cat.wait()).await?;
    assert_eq!(status.code(), Some(0));
    let mut framed = Channel::from(cat).framed(Framing::Bytes);
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"last words"[..])
    );
    assert_eq!(within(framed.read()).await?, None);
    assert!(matches!(
        within(framed.write(b"more")).await,
        Err(Error::Closed)
    ));
    Ok(())
}

#[tokio::test]
async fn a_cancelled_wait_loses_nothing() -> iochannels::Result<()> {
    let mut sleeper = ProcessChannel::spawn(Command::new("sleep").arg("0.3"))?;
    let first = tokio::time::timeout(Duration::from_millis(20), sleeper.wait()).await;
    assert!(first.is_err(), "sleep 0.3 exited within 20 ms: {first:?}");
    assert_eq!(within(sleeper.wait()).await?.code(), Some(0));
    Ok(())
}

#[tokio::test]
async fn terminate_stops_the_child_with_sigterm_and_leaves_no_zombie() -> iochannels::Result<()> {
    let mut sleeper = ProcessChannel::spawn(Command::new("sleep").arg("100"))?;
    let pid = sleeper.id().expect("a running child has a pid");
    sleeper.terminate()?;
    let status = within(sleeper.wait()).await?;
    assert_eq!(status.signal(), Some(15));
    assert_eq!(status.code(), None);
    assert_eq!(proc_state(pid), None, "child {pid} left behind");
    // Reaped: a second terminate must not signal whoever reuses the pid.
    sleeper.terminate()?;
    Ok(())
}

#[tokio::test]
async fn kill_stops_the_child_with_sigkill_and_leaves_no_zombie() -> iochannels::Result<()> {
    // `trap '' TERM` would survive terminate(); SIGKILL cannot be trapped.
    let mut stubborn = ProcessChannel::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("trap '' TERM; echo ready; while :; do sleep 1; done"),
    )?;
    let pid = stubborn.id().expect("a running child has a pid");
    let mut ready = [0u8; 6];
    within(stubborn.read_exact(&mut ready)).await?;
    assert_eq!(&ready, b"ready\n");
    stubborn.terminate()?;
    let ignored = tokio::time::timeout(Duration::from_millis(200), stubborn.wait()).await;
    assert!(
        ignored.is_err(),
        "the trap should ignore SIGTERM: {ignored:?}"
    );
    let status = within(stubborn.kill()).await?;
    assert_eq!(status.signal(), Some(9));
    assert_eq!(stubborn.id(), None);
    assert_eq!(proc_state(pid), None, "child {pid} left behind");
    Ok(())
}

#[tokio::test]
async fn kill_after_exit_returns_the_real_status() -> iochannels::Result<()> {
    let (mut process, mut stderr) = ProcessChannel::spawn_with_stderr(&mut out_err_exit3())?;
    let pid = process.id().expect("a running child has a pid");
    assert_eq!(read_all(&mut stderr).await, b"err\n");
    // Exited but not reaped: a zombie, which kill must not turn into "killed".
    within(async {
        while proc_state(pid) != Some('Z') {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let status = within(process.kill()).await?;
    assert_eq!(status.code(), Some(3));
    assert_eq!(within(process.kill()).await?.code(), Some(3));
    Ok(())
}
