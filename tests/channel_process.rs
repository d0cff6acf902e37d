//! ProcessChannel over real children: talking to `cat`, spawn errors, a child
//! that exits while we write, and no zombies after drop.

mod support;

use std::io::ErrorKind;
use std::time::Duration;

use iochannels::{Channel, Error, Framing};
use support::within;
use tokio::process::Command;

#[tokio::test]
async fn cat_echoes_lines_and_ends_after_shutdown_write() -> iochannels::Result<()> {
    let mut cat = Channel::spawn(&mut Command::new("cat"))?.framed(Framing::Lines);
    within(cat.write(b"alpha\nbeta\n")).await?;
    assert_eq!(within(cat.read()).await?.as_deref(), Some(&b"alpha\n"[..]));
    assert_eq!(within(cat.read()).await?.as_deref(), Some(&b"beta\n"[..]));
    within(cat.write(b"tail")).await?;
    within(cat.shutdown_write()).await?;
    assert_eq!(within(cat.read()).await?.as_deref(), Some(&b"tail"[..]));
    assert_eq!(within(cat.read()).await?, None);
    Ok(())
}

#[tokio::test]
async fn megabytes_through_cat_split_into_halves() -> iochannels::Result<()> {
    // More than the pipe buffers each way, so writing without reading would
    // deadlock: the halves run on two tasks (tokio::io::split works on any Channel).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let cat = Channel::spawn(&mut Command::new("cat"))?;
    let (mut rx, mut tx) = tokio::io::split(cat);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        tx.write_all(&data).await?;
        tx.shutdown().await
    });
    let mut got = Vec::with_capacity(expected.len());
    within(rx.read_to_end(&mut got)).await?;
    within(writer).await.expect("writer task")?;
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
    Ok(())
}

#[tokio::test]
async fn missing_program_is_not_found_naming_it() {
    match Channel::spawn(&mut Command::new("iochannels-no-such-program")) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::NotFound);
            assert!(e.to_string().contains("iochannels-no-such-program"), "{e}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn writing_to_an_exited_child_is_closed() -> iochannels::Result<()> {
    let mut child = Channel::spawn(&mut Command::new("true"))?.framed(Framing::Bytes);
    assert_eq!(within(child.read()).await?, None);
    let mut outcome = Ok(());
    for _ in 0..50 {
        outcome = within(child.write(&[b'x'; 4096])).await;
        if outcome.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(outcome, Err(Error::Closed)), "got {outcome:?}");
    Ok(())
}

/// The state letter of /proc/PID/stat, or None once the pid is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.trim_start().chars().next()
}

#[tokio::test]
async fn dropped_child_is_killed_and_reaped() -> iochannels::Result<()> {
    let channel = Channel::spawn(Command::new("sleep").arg("1000"))?;
    let pid = match &channel {
        Channel::Process(p) => p.id().expect("running child has a pid"),
        other => panic!("expected a process channel, got {other:?}"),
    };
    assert!(matches!(proc_state(pid), Some(s) if s != 'Z'));
    drop(channel);
    let gone = within(async {
        loop {
            match proc_state(pid) {
                None => return true,
                Some(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await;
    assert!(gone, "child {pid} still exists (zombie?)");
    Ok(())
}

#[tokio::test]
async fn fd_is_the_childs_stdout() -> iochannels::Result<()> {
    let channel = Channel::spawn(&mut Command::new("cat"))?;
    assert!(channel.fd().is_some());
    Ok(())
}
