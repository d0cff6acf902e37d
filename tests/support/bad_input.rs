//! What the `tests/bad_input*.rs` tests share: a bounded wait that names
//! its step, frame builders, a way out of tokio's cooperative budget for
//! tight loops, and a check that no 4 GiB reservation was made.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

/// How long any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test (naming `what`) if it takes longer than [`STEP`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    super::bounded(STEP, what, fut).await
}

/// `payload` as a `LengthPrefixed` frame.
pub fn lp(payload: &[u8]) -> Vec<u8> {
    super::frames::prefixed(&[payload])
}

/// A static string as `Bytes`.
pub fn bs(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// Runs a test's loop of `put`s and `try_read`s outside tokio's cooperative
/// budget. Both spend it (the test channel is a `tokio::io::duplex`, whose
/// reads and writes each take a unit), and a loop that never awaits never
/// gets it back: after about 128 units in one poll of the task, `try_read`
/// returns `Ok(None)` although a frame is ready, and `put` keeps its bytes
/// in the peer's backlog. A TCP stream spends the budget the same way.
pub async fn tight_loop<F: Future>(body: F) -> F::Output {
    tokio::task::unconstrained(body).await
}

/// This process's peak virtual size (VmPeak), in KiB. A reservation sized
/// by a hostile 4 GiB length prefix would raise it by 4 GiB even if the
/// memory were never touched (and so never counted in RSS).
pub fn vm_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmPeak in /proc/self/status")
}

/// Fails if VmPeak grew by 3 GiB or more since `before`. The other tests
/// of this binary run in parallel and their threads add to it (a stack
/// each, and up to 64 MiB of malloc arena per thread), but that stays
/// around 1 GiB at most; a 4 GiB reservation cannot hide under it.
pub fn assert_no_huge_reservation(before: u64, what: &str) {
    let after = vm_peak_kib();
    assert!(
        after.saturating_sub(before) < 3 * 1024 * 1024,
        "{what}: VmPeak grew from {before} KiB to {after} KiB"
    );
}
