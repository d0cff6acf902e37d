//! The `relay` scenario: the `relay` example (stdin/stdout joined to a child
//! process, a tiny socat) against socat itself, moving the same volume
//! through `cat`: fed into the relay's stdin, read back from its stdout, wall
//! clock from spawning it until its output ends and it has exited.
//!
//! The example is built here first, in release mode (`cargo build --release
//! --example relay`, a no-op when up to date), and run from
//! `target/release/examples`. The socat rows appear only when socat is
//! installed ("socat: not installed" otherwise): `socat - EXEC:cat` as people
//! type it (its default 8 KiB buffer) is the baseline, and `socat -b 65536`
//! uses the relay's 64 KiB. `cat` alone, fed and drained the same way, is the
//! ceiling: the pipes and `cat` with nothing in between.
//!
//! The feeder and the drain are threads of this process, writing and reading
//! 64 KiB at a time; the drain counts the bytes and a run that loses any, or
//! exits non-zero, stops the bench. `IOCHANNELS_BENCH_RELAY_MB=N` sets the
//! volume (default 200 MB).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Harness, Table};
use crate::lines::{env_usize, Rows};

const CHUNK: usize = 64 * 1024;
const SOCAT: &str = "socat - EXEC:cat";

pub fn run(h: &Harness) {
    if !h.wants("relay") {
        return;
    }
    let mb = env_usize("IOCHANNELS_BENCH_RELAY_MB", 200).max(1) as u64;
    let volume = mb * 1_000_000;
    println!("\n# relay: {mb} MB through `cat`, fed and drained 64 KiB at a time");
    let relay = match built_relay() {
        Ok(path) => path.to_string_lossy().into_owned(),
        Err(e) => {
            println!("relay: skipped, {e}");
            return;
        }
    };
    let socat = Command::new("socat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !socat {
        println!("socat: not installed");
    }

    // Items are bytes, so the rate column reads bytes/s: "812.00 M" is 812 MB/s.
    let mut table = Rows::new(Table::new(
        format!("relay: {mb} MB through cat and back"),
        "B/s",
        volume,
    ));
    table.time("iochannels relay exec cat", h.reps, || {
        through(&[relay.as_str(), "exec", "cat"], volume)
    });
    if socat {
        table.time(SOCAT, h.reps, || {
            through(&["socat", "-", "EXEC:cat"], volume)
        });
        table.time("socat -b 65536 - EXEC:cat", h.reps, || {
            through(&["socat", "-b", "65536", "-", "EXEC:cat"], volume)
        });
    }
    table.time("cat alone (ceiling)", h.reps, || through(&["cat"], volume));
    table.print(if socat { SOCAT } else { "cat alone (ceiling)" });
}

/// Builds the example in release mode and returns its path beside this
/// bench's own build (target/release/deps/peers-* -> target/release/examples).
fn built_relay() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--example", "relay"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release --example relay: {status}"));
    }
    let exe = std::env::current_exe().map_err(|e| format!("locating the bench: {e}"))?;
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("relay"))
        .ok_or("no target dir above the bench binary")?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} was not built", path.display()))
    }
}

/// Runs `argv` with `volume` bytes on its stdin and drains its stdout;
/// the time from spawn to exit, once all of it came back.
fn through(argv: &[&str], volume: u64) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawning a contender");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    // The feeder owns stdin: dropping it at the end is the EOF that lets the
    // contender finish.
    let feeder = std::thread::spawn(move || {
        // Not constant, so no contender can gain from zero pages.
        let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
        let mut left = volume;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            stdin.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        match stdout.read(&mut buf).expect("reading a contender's stdout") {
            0 => break,
            n => got += n as u64,
        }
    }
    let status = child.wait().expect("waiting for a contender");
    let elapsed = start.elapsed();
    feeder
        .join()
        .expect("the feeder thread")
        .expect("feeding a contender");
    assert!(
        status.success() && got == volume,
        "{argv:?}: exited {status}, {got} of {volume} bytes came back"
    );
    elapsed
}
