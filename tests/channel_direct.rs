//! Regular files and `/dev/null` (the blocking `Direct` backend) share the
//! thread: a long read or a run of writes lets other tasks on a
//! current_thread runtime run, and every byte still arrives.

mod support;

use std::io::{Seek, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use iochannels::{Channel, Framing};
use support::within;

/// A task that counts how often it runs until told to stop.
fn spawn_counter() -> (
    Arc<AtomicUsize>,
    Arc<AtomicBool>,
    tokio::task::JoinHandle<()>,
) {
    let runs = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&runs), Arc::clone(&stop));
    let task = tokio::spawn(async move {
        while !s.load(Ordering::Relaxed) {
            r.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    });
    (runs, stop, task)
}

fn byte_at(i: usize) -> u8 {
    (i % 251) as u8
}

#[tokio::test(flavor = "current_thread")]
async fn reading_a_large_regular_file_lets_other_tasks_run() -> iochannels::Result<()> {
    const LEN: usize = 64 * 1024 * 1024;
    let mut file = tempfile::tempfile()?;
    const BLOCK: usize = 1024 * 1024;
    let block: Vec<u8> = (0..BLOCK).map(byte_at).collect();
    for _ in 0..LEN / block.len() {
        file.write_all(&block)?;
    }
    file.rewind()?;
    let (runs, stop, counter) = spawn_counter();
    let mut framed = Channel::pipe(Some(file.into()), None)?.framed(Framing::Bytes);
    let mut at = 0;
    while let Some(chunk) = within(framed.read()).await? {
        for (k, &b) in chunk.iter().enumerate() {
            if b != byte_at((at + k) % BLOCK) {
                panic!("byte {} differs", at + k);
            }
        }
        at += chunk.len();
    }
    let ran = runs.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    within(counter).await.expect("counter task");
    assert_eq!(at, LEN);
    // 64 MiB in reads of at most 64 KiB: about 1024 reads, 128 per budget.
    assert!(
        ran > 4,
        "the other task ran {ran} times while 64 MiB were read"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn writing_to_dev_null_lets_other_tasks_run() -> iochannels::Result<()> {
    let sink = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let (runs, stop, counter) = spawn_counter();
    let mut framed = Channel::pipe(None, Some(sink.into()))?.framed(Framing::Lines);
    for _ in 0..100_000 {
        within(framed.write(b"into the void\n")).await?;
    }
    let ran = runs.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    within(counter).await.expect("counter task");
    assert!(
        ran > 100,
        "the other task ran {ran} times during 100,000 writes"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn writing_a_regular_file_lets_other_tasks_run() -> iochannels::Result<()> {
    let file = tempfile::NamedTempFile::new()?;
    let sink = std::fs::OpenOptions::new().write(true).open(file.path())?;
    let (runs, stop, counter) = spawn_counter();
    let mut framed = Channel::pipe(None, Some(sink.into()))?.framed(Framing::Lines);
    let mut expected = Vec::new();
    for i in 0..50_000 {
        let line = format!("line {i}\n");
        within(framed.write(line.as_bytes())).await?;
        expected.extend_from_slice(line.as_bytes());
    }
    framed.close().await?;
    let ran = runs.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    within(counter).await.expect("counter task");
    assert!(
        std::fs::read(file.path())? == expected,
        "file content differs"
    );
    assert!(
        ran > 50,
        "the other task ran {ran} times during 50,000 writes"
    );
    Ok(())
}
