//! Helpers shared by the integration tests: bounded waits, temp socket
//! paths, and the path of a built example.
#![allow(dead_code)]

pub mod bad_input;
pub mod chat;
pub mod frames;
pub mod handler;
pub mod lines;
pub mod poller_client;
pub mod workers;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// How long any single step of a test may wait before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test if it takes longer than [`STEP`].
#[track_caller]
pub fn within<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(STEP, fut).await {
            Ok(out) => out,
            Err(_) => panic!("step at {caller} did not finish within {STEP:?}"),
        }
    }
}

/// A fresh temporary directory and a socket path inside it (kept alive by the `TempDir`).
pub fn socket_path(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let path = dir.path().join(name);
    (dir, path)
}

/// The path of example `name`, built by `cargo test` beside the test binaries.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir of the test binary");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "example {name} not built at {}: run the tests with `cargo test`",
        path.display()
    );
    path
}

/// The O_NONBLOCK bit of an fd's open file description.
pub fn is_nonblocking(fd: impl std::os::fd::AsFd) -> bool {
    rustix::fs::fcntl_getfl(fd)
        .expect("fcntl F_GETFL")
        .contains(rustix::fs::OFlags::NONBLOCK)
}

/// This process's RLIMIT_NOFILE as (soft, hard); "unlimited" as `u64::MAX`.
pub fn nofile_limits() -> (u64, u64) {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    (
        lim.current.unwrap_or(u64::MAX),
        lim.maximum.unwrap_or(u64::MAX),
    )
}

/// Sets this process's soft RLIMIT_NOFILE, keeping the hard one.
pub fn set_nofile_soft(soft: u64) -> std::io::Result<()> {
    let mut lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    lim.current = Some(soft);
    rustix::process::setrlimit(rustix::process::Resource::Nofile, lim).map_err(Into::into)
}

/// Makes sure this process may open `needed` fds, raising the soft limit up
/// to the hard one if it has to. `false` (with a message saying why) if it
/// cannot: the caller skips.
pub fn ensure_fds(needed: u64) -> bool {
    let (soft, hard) = nofile_limits();
    if soft >= needed {
        return true;
    }
    if hard < needed {
        eprintln!(
            "SKIPPED: needs {needed} fds but RLIMIT_NOFILE hard limit is {hard}; \
             raise it (ulimit -Hn) to run this test"
        );
        return false;
    }
    set_nofile_soft(hard).expect("raising the RLIMIT_NOFILE soft limit to the hard limit");
    true
}

/// Awaits `fut`, failing the test (naming `what`) if it takes longer than `limit`.
pub async fn bounded<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {limit:?}"),
    }
}

/// The next event of `poller`, failing the test if none comes within 20 s.
pub async fn next_event(poller: &mut iochannels::Poller) -> iochannels::Event {
    use futures::StreamExt;
    bounded(
        Duration::from_secs(20),
        "waiting for a poller event",
        poller.next(),
    )
    .await
    .expect("the poller stream ended, but only close_all may end it")
}
