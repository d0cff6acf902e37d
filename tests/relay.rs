//! The `relay` example under load: 200 MB through `exec cat`, a TCP echo peer
//! and a Unix-socket echo peer, every byte checked, with a half-close (the
//! peer's answer after our EOF comes back in full) and exit status 0; and its
//! errors named on stderr with exit status 1.
//!
//! Every wait is bounded: a relay that stops moving bytes (the old one
//! deadlocked after a few pipe buffers) is killed, and the test fails saying
//! how far it got, instead of hanging CI.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::ops::Range;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// What each big run moves: under a second per run in a debug build here.
const BIG: u64 = 200_000_000;
/// What an echo peer sends after it has seen our EOF: more than any socket
/// and pipe buffers between it and us hold, so it must truly flow back.
const AFTER_EOF: u64 = 8 << 20;
/// A relay that passes no byte for this long is stuck.
const STALL: Duration = Duration::from_secs(10);
/// The most any one run may take, however it progresses.
const LIMIT: Duration = Duration::from_secs(120);
const CHUNK: usize = 64 * 1024;
/// How much an echo peer reads before it answers it all.
const BATCH: usize = 16 << 20;

/// The relay example, built from the current source: `cargo test --test
/// relay` alone does not build examples, and a stale binary would test old code.
fn relay_binary() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        // target/<profile>/deps/<test>: build the example for the same profile.
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .and_then(|dir| dir.file_name())
            .and_then(|name| name.to_str())
            .expect("profile dir of the test binary");
        let profile = if profile_dir == "debug" {
            "dev"
        } else {
            profile_dir
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--example",
                "relay",
                "--profile",
                profile,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("running cargo build --example relay");
        assert!(
            out.status.success(),
            "building the relay example failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        support::example("relay")
    })
}

/// The test stream: byte `i` is `TABLE[i % TABLE.len()]`, a table of
/// splitmix64 bytes of a prime length, so a dropped, duplicated or reordered
/// piece of any 2^k size shows up; writing and checking are memcpy/memcmp.
fn table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..1_000_003u64)
            .map(|i| support::lines::mix(i) as u8)
            .collect()
    })
}

/// Fills `buf` with the stream's bytes from `offset` on.
fn fill(offset: u64, buf: &mut [u8]) {
    let t = table();
    let (mut at, mut done) = ((offset % t.len() as u64) as usize, 0);
    while done < buf.len() {
        let n = (t.len() - at).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&t[at..at + n]);
        (at, done) = (0, done + n);
    }
}

/// Writes `len` bytes of the stream, from `offset` on, to `to`.
fn feed(to: &mut impl Write, offset: u64, len: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0;
    while sent < len {
        let n = (len - sent).min(CHUNK as u64) as usize;
        fill(offset + sent, &mut buf[..n]);
        to.write_all(&buf[..n])?;
        sent += n as u64;
    }
    Ok(())
}

/// Reads `from` to its end, checking every byte against the stream from
/// `start` on; counts into `progress` as it goes. Returns the length, or
/// where the first wrong byte was.
fn drain(mut from: impl Read, start: u64, progress: &AtomicU64) -> Result<u64, String> {
    let (mut buf, mut want) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut total = 0u64;
    loop {
        let n = from
            .read(&mut buf)
            .map_err(|e| format!("reading after {total} bytes: {e}"))?;
        if n == 0 {
            return Ok(total);
        }
        fill(start + total, &mut want[..n]);
        if buf[..n] != want[..n] {
            let at = (0..n).find(|&i| buf[i] != want[i]).unwrap_or(0);
            return Err(format!("wrong byte at offset {}", total + at as u64));
        }
        total += n as u64;
        progress.store(total, Ordering::Relaxed);
    }
}

/// Runs `relay ARGS`, feeds it `input` bytes of the stream then EOF, and
/// checks it prints exactly the stream's bytes `expect` and exits 0.
fn relay_passes(args: &[&str], input: u64, expect: Range<u64>) {
    let mut child = Command::new(relay_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the relay example");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    // Feeding fails with a broken pipe only if the relay died: its status says why.
    thread::spawn(move || feed(&mut stdin, 0, input));
    let progress = Arc::new(AtomicU64::new(0));
    let (out_tx, out_rx) = mpsc::channel();
    let counted = Arc::clone(&progress);
    let from = expect.start;
    thread::spawn(move || out_tx.send(drain(stdout, from, &counted)));
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        err_tx.send(text)
    });

    let (start, mut last, mut moved_at) = (Instant::now(), 0, Instant::now());
    let status = loop {
        if let Some(status) = child.try_wait().expect("checking on the relay") {
            break status;
        }
        let now = progress.load(Ordering::Relaxed);
        if now != last {
            (last, moved_at) = (now, Instant::now());
        }
        let stuck = moved_at.elapsed() > STALL;
        if stuck || start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let why = if stuck {
                format!("no byte came back for {STALL:?} (deadlock?)")
            } else {
                format!("not done within {LIMIT:?}")
            };
            let want = expect.end - expect.start;
            panic!("relay {args:?}: {why}; {now} of {want} bytes came back; killed it");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stderr = err_rx.recv_timeout(STALL).unwrap_or_default();
    assert!(status.success(), "relay {args:?} exited {status}: {stderr}");
    let got = out_rx
        .recv_timeout(STALL)
        .expect("stdout did not end after the relay exited");
    assert_eq!(got, Ok(expect.end - expect.start), "relay {args:?}: output");
}

/// Echoes what it reads from `stream` in batches of `BATCH`, reading
/// nothing while it answers (like a server that handles one big request at a
/// time), until EOF; then sends `AFTER_EOF` more bytes of the stream and
/// closes. A batch is more than the socket buffers soon hold, so a relay
/// that stops reading while it writes deadlocks here early on. The answer is the
/// stream's first `sent + AFTER_EOF` bytes only if the half-close went through.
fn echo_in_batches(mut stream: impl Read + Write) -> std::io::Result<()> {
    let mut batch = vec![0u8; BATCH];
    let mut echoed = 0u64;
    loop {
        let mut n = 0;
        while n < BATCH {
            match stream.read(&mut batch[n..])? {
                0 => break,
                got => n += got,
            }
        }
        stream.write_all(&batch[..n])?;
        echoed += n as u64;
        if n < BATCH {
            return feed(&mut stream, echoed, AFTER_EOF);
        }
    }
}

#[test]
fn exec_cat_passes_200_mb_both_ways() {
    relay_passes(&["exec", "cat"], BIG, 0..BIG);
}

#[test]
fn tcp_echo_passes_200_mb_and_the_answer_after_eof() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        // A stuck relay must not keep this thread forever.
        stream.set_read_timeout(Some(LIMIT)).expect("timeout");
        stream.set_write_timeout(Some(LIMIT)).expect("timeout");
        echo_in_batches(stream)
    });
    relay_passes(&["tcp", &addr], BIG, 0..BIG + AFTER_EOF);
}

#[test]
fn unix_echo_passes_200_mb_and_the_answer_after_eof() {
    let (_dir, path) = support::socket_path("echo.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(LIMIT)).expect("timeout");
        stream.set_write_timeout(Some(LIMIT)).expect("timeout");
        echo_in_batches(stream)
    });
    let path = path.to_str().expect("utf-8 temp path");
    relay_passes(&["unix", path], BIG, 0..BIG + AFTER_EOF);
}

#[test]
fn exec_answer_after_eof_arrives_in_full() {
    // `tail -c N` says nothing until its input ends, then its last N bytes:
    // only a relay that closes the child's stdin at our EOF, and keeps
    // reading, gets them.
    let input = 3 * AFTER_EOF;
    let last = AFTER_EOF.to_string();
    relay_passes(
        &["exec", "tail", "-c", &last],
        input,
        input - AFTER_EOF..input,
    );
}

/// Runs `relay ARGS` with stdin from `input`; returns its status and stderr.
fn relay_fails(args: &[&str], input: u64) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(relay_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the relay example");
    let mut stdin = child.stdin.take().expect("piped stdin");
    thread::spawn(move || feed(&mut stdin, 0, input));
    let start = Instant::now();
    while child.try_wait().expect("checking on the relay").is_none() {
        if start.elapsed() > STALL {
            let _ = child.kill();
            let _ = child.wait();
            panic!("relay {args:?} did not exit within {STALL:?}; killed it");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("relay output");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn errors_name_what_failed_and_exit_1() {
    let (status, stderr) = relay_fails(&["exec", "/nonexistent/program"], 0);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/nonexistent/program"), "{stderr}");

    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let (status, stderr) = relay_fails(&["tcp", &addr], 0);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");

    // The child stops reading after 10 bytes: writing the rest to it fails.
    let (status, stderr) = relay_fails(&["exec", "head", "-c", "10"], 4 << 20);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("head"), "{stderr}");
}
