//! The `write_file` scenario: a large file sent over TCP 127.0.0.1 to a
//! reader that counts and discards, with `FramedChannel::write_file`
//! (sendfile(2) from the page cache) against what a tokio user writes
//! without it, `tokio::io::copy(&mut tokio::fs::File, &mut TcpStream)`
//! (the baseline; its reads go to the blocking pool, 8 KiB at a time, as
//! `copy`'s buffer asks), and `tokio::io::copy_buf` over a 1 MiB `BufReader`
//! for a fairer copy.
//!
//! The file (1 GiB of the pattern `offset % 251`, written once, so it sits
//! in the page cache: this measures the transfer, not the disk) lives in a
//! temp dir removed afterwards. If the temp dir's file system has less than
//! 2 GiB free, 256 MiB is used and the header says so;
//! `IOCHANNELS_BENCH_WRITE_FILE_MIB=N` sets the size.
//!
//! The sender runs on a current-thread runtime (plus tokio's blocking pool,
//! which `tokio::fs` uses); the reader is a plain blocking thread, as a peer
//! elsewhere would be, reading 256 KiB at a time and checking the count and
//! the first byte of every piece against its offset. Each run gets a fresh
//! connection and opens the file afresh. 3 runs per contender, taken round
//! robin (no warm-up: the file was just written, so it is in the page
//! cache), the median shown.
//!
//! Two tables: wall-clock GiB/s until the reader has it all, and GiB per
//! CPU-second of the sender: user + system time of the whole process minus
//! the reader thread's own (from `/proc/self/stat` and
//! `/proc/thread-self/stat`, 10 ms ticks). On loopback the reader's copy and
//! the TCP stack bound the wall clock whatever the sender does; the second
//! table shows what each way of sending costs, and is also the steadier one
//! on a busy machine.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use iochannels::{Channel, Framing};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::harness::{cpu_time, runtime, Harness, Table};

const PERIOD: u64 = 251;
const REPS: usize = 3;

pub fn run(h: &Harness) {
    if !h.wants("write_file") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (mib, note) = file_size_mib(dir.path());
    let size = mib << 20;
    let path = dir.path().join("write_file.bin");
    let made = Instant::now();
    make_file(&path, size);
    println!(
        "\n# write_file: a {mib} MiB file{note} over TCP 127.0.0.1 to a reader thread that \
         discards; sender on a current_thread runtime; median of {REPS} (file written in {:.1?})",
        made.elapsed()
    );

    let rt = runtime(0);
    let gib = size as f64 / (1u64 << 30) as f64;
    let contenders = [Contender::WriteFile, Contender::Copy, Contender::CopyBuf];
    let mut wall = vec![Vec::new(); contenders.len()];
    let mut cpu = vec![Vec::new(); contenders.len()];
    // Round robin, so background load and writeback of the fresh file fall
    // on every contender alike.
    for _ in 0..REPS {
        for (i, &contender) in contenders.iter().enumerate() {
            let (elapsed, sender_cpu) = send(&rt, contender, &path, size);
            wall[i].push(elapsed.div_f64(gib));
            cpu[i].push(sender_cpu.div_f64(gib));
        }
    }
    // Items are GiB, so the rate column reads GiB/s (GiB per CPU-second).
    let mut by_wall = Table::new(
        format!("write_file: {mib} MiB file over TCP 127.0.0.1, wall clock"),
        "GiB/s",
        1,
    );
    let mut by_cpu = Table::new(
        format!(
            "write_file: {mib} MiB file over TCP 127.0.0.1, per CPU-second of the sender \
             (process minus the reader thread; blocking pool included)"
        ),
        "GiB/cpu-s",
        1,
    );
    for (i, contender) in contenders.iter().enumerate() {
        by_wall.record(contender.name(), std::mem::take(&mut wall[i]));
        by_cpu.record(contender.name(), std::mem::take(&mut cpu[i]));
    }
    by_wall.print(Contender::Copy.name());
    by_cpu.print(Contender::Copy.name());
}

/// 1 GiB unless the environment says otherwise or the disk is short.
fn file_size_mib(dir: &Path) -> (u64, &'static str) {
    if let Some(mib) = std::env::var("IOCHANNELS_BENCH_WRITE_FILE_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return (mib.max(1), "");
    }
    let free = rustix::fs::statvfs(dir)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0);
    if free >= 2 << 30 {
        (1024, "")
    } else {
        (
            256,
            " (256 MiB, not 1 GiB: the temp dir's disk is short of space)",
        )
    }
}

fn make_file(path: &Path, size: u64) {
    let block: Vec<u8> = (0..(1 << 20) + PERIOD)
        .map(|i| (i % PERIOD) as u8)
        .collect();
    let mut file = File::create(path).expect("creating the bench file");
    let mut at = 0;
    while at < size {
        let start = (at % PERIOD) as usize;
        let n = (size - at).min(1 << 20) as usize;
        file.write_all(&block[start..start + n])
            .expect("writing the bench file");
        at += n as u64;
    }
}

#[derive(Debug, Clone, Copy)]
enum Contender {
    WriteFile,
    Copy,
    CopyBuf,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::WriteFile => "iochannels FramedChannel::write_file",
            Contender::Copy => "tokio::io::copy(tokio::fs::File)",
            Contender::CopyBuf => "tokio::io::copy_buf(BufReader 1 MiB)",
        }
    }
}

/// What the reader thread saw: bytes, pieces out of place, when it had
/// everything, and its own CPU time.
struct Received {
    bytes: u64,
    bad: u64,
    done: Instant,
    cpu: Duration,
}

fn read_all(listener: std::net::TcpListener) -> Received {
    let (mut stream, _) = listener.accept().expect("accept");
    let cpu_before = cpu_time("/proc/thread-self/stat").unwrap_or_default();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut bytes, mut bad) = (0u64, 0u64);
    loop {
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        bad += u64::from(u64::from(buf[0]) != bytes % PERIOD);
        bytes += n as u64;
    }
    Received {
        bytes,
        bad,
        done: Instant::now(),
        cpu: cpu_time("/proc/thread-self/stat").unwrap_or_default() - cpu_before,
    }
}

/// One run: connect, send the file, wait for the reader to have it all.
/// Returns the wall time and the sender's CPU time.
fn send(
    rt: &tokio::runtime::Runtime,
    contender: Contender,
    path: &Path,
    size: u64,
) -> (Duration, Duration) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let reader = std::thread::spawn(move || read_all(listener));
    let mut client = rt.block_on(TcpStream::connect(addr)).expect("connect");
    // As Channel::connect_tcp does, for every contender alike.
    client.set_nodelay(true).expect("nodelay");

    let cpu_before = cpu_time("/proc/self/stat").unwrap_or_default();
    let start = Instant::now();
    rt.block_on(async move {
        match contender {
            Contender::WriteFile => {
                let file = File::open(path).expect("opening the bench file");
                let mut framed = Channel::from(client).framed(Framing::Bytes);
                let sent = framed.write_file(&file).await.expect("write_file");
                assert_eq!(sent, size, "write_file: short");
                framed.close().await.expect("close");
            }
            Contender::Copy => {
                let mut file = tokio::fs::File::open(path).await.expect("opening");
                let sent = tokio::io::copy(&mut file, &mut client).await.expect("copy");
                assert_eq!(sent, size, "copy: short");
                client.shutdown().await.expect("shutdown");
            }
            Contender::CopyBuf => {
                let file = tokio::fs::File::open(path).await.expect("opening");
                let mut file = BufReader::with_capacity(1 << 20, file);
                let sent = tokio::io::copy_buf(&mut file, &mut client)
                    .await
                    .expect("copy_buf");
                assert_eq!(sent, size, "copy_buf: short");
                client.shutdown().await.expect("shutdown");
            }
        }
    });
    let got = reader.join().expect("reader thread");
    let elapsed = got.done - start;
    let sender_cpu =
        (cpu_time("/proc/self/stat").unwrap_or_default() - cpu_before).saturating_sub(got.cpu);
    assert_eq!(got.bytes, size, "{}: wrong byte count", contender.name());
    assert_eq!(got.bad, 0, "{}: bytes out of place", contender.name());
    (elapsed, sender_cpu)
}
