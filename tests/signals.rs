//! Signals arriving all the time (EINTR): bytes through a pipe, a regular
//! file and a socket arrive intact while the process is peppered with
//! SIGUSR1, and the Poller keeps going.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iochannels::{Channel, Framing};
use rustix::process::{getpid, kill_process, Signal};
use support::within;
use tokio::signal::unix::{signal, SignalKind};

/// Sends SIGUSR1 to this process in a tight loop until dropped.
struct Pepper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Pepper {
    fn start() -> Pepper {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            while !flag.load(Ordering::Relaxed) {
                kill_process(getpid(), Signal::USR1).expect("kill(SIGUSR1)");
                sent += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
            sent
        });
        Pepper {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("pepper thread"))
    }
}

impl Drop for Pepper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_survive_a_storm_of_signals() -> iochannels::Result<()> {
    // A handler is installed (as a real program would have one): without
    // it SIGUSR1 would end the process.
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let counter = tokio::spawn(async move {
        let mut seen = 0u64;
        while usr1.recv().await.is_some() {
            seen += 1;
        }
        seen
    });
    let pepper = Pepper::start();

    // 1. An OS pipe (polled backend).
    let data = pattern(8 * 1024 * 1024);
    let (r, w) = std::io::pipe()?;
    let mut tx = Channel::pipe(None, Some(w.into()))?.framed(Framing::Bytes);
    let mut rx = Channel::pipe(Some(r.into()), None)?.framed(Framing::Bytes);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        tx.write(&data).await?;
        tx.close().await
    });
    let mut got = Vec::with_capacity(expected.len());
    while let Some(chunk) = within(rx.read()).await? {
        got.extend_from_slice(&chunk);
    }
    writer.await.expect("writer task")?;
    assert!(got == expected, "pipe bytes differ");

    // 2. A regular file (direct, blocking backend).
    let mut file = tempfile::tempfile()?;
    file.write_all(&expected)?;
    std::io::Seek::rewind(&mut file)?;
    let mut from_file = Channel::pipe(Some(file.into()), None)?.framed(Framing::Bytes);
    let mut got = Vec::with_capacity(expected.len());
    while let Some(chunk) = within(from_file.read()).await? {
        got.extend_from_slice(&chunk);
    }
    assert!(got == expected, "file bytes differ");

    // 3. Lines through a child process.
    let mut cat = Channel::spawn(&mut tokio::process::Command::new("cat"))?.framed(Framing::Lines);
    for i in 0..2000 {
        let line = format!("line {i}\n");
        within(cat.write(&line)).await?;
        assert_eq!(within(cat.read()).await?.as_deref(), Some(line.as_bytes()));
    }

    let sent = pepper.stop();
    assert!(sent > 100, "only {sent} signals were sent");
    tokio::time::sleep(Duration::from_millis(50)).await;
    counter.abort();
    Ok(())
}
