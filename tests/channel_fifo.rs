//! Named FIFOs read through a PipeChannel: every byte, then EOF, whatever
//! the order in which the writer opened and closed around the channel.

mod support;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use iochannels::{Channel, FramedChannel, Framing};
use rustix::fs::{Mode, OFlags};
use support::{is_nonblocking, within};

/// A fresh FIFO in its own temp dir (kept alive by the `TempDir`).
fn fifo() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = support::socket_path("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mknod fifo");
    (dir, path)
}

/// The read end, opened without waiting for a writer.
fn open_reader_nonblocking(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .expect("open fifo for reading")
}

/// The read end, opened the ordinary (blocking) way: the open waits for a
/// writer, so the writer is opened on another thread meanwhile.
fn open_both_blocking(path: &Path) -> (File, File) {
    let p = path.to_owned();
    let reader = std::thread::spawn(move || File::open(p).expect("open fifo for reading"));
    let writer = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open fifo for writing");
    (reader.join().expect("reader thread"), writer)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Reads everything up to EOF, each read bounded; returns the bytes.
async fn read_to_eof(framed: &mut FramedChannel) -> Vec<u8> {
    let mut got = Vec::new();
    while let Some(chunk) = within(framed.read()).await.expect("read from the fifo") {
        got.extend_from_slice(&chunk);
    }
    got
}

fn channel(reader: File) -> FramedChannel {
    let fd: OwnedFd = reader.into();
    Channel::pipe(Some(fd), None)
        .expect("channel over the fifo")
        .framed(Framing::Bytes)
}

#[tokio::test]
async fn fifo_writer_closed_before_the_channel_bytes_then_eof() {
    let (_dir, path) = fifo();
    let reader = open_reader_nonblocking(&path);
    let mut writer = OpenOptions::new().write(true).open(&path).expect("writer");
    let data = pattern(10_000);
    writer.write_all(&data).expect("write");
    drop(writer);
    let mut framed = channel(reader);
    assert!(read_to_eof(&mut framed).await == data, "bytes differ");
}

#[tokio::test]
async fn fifo_writer_closed_before_the_channel_with_nothing_left_is_eof() {
    let (_dir, path) = fifo();
    let reader = open_reader_nonblocking(&path);
    drop(OpenOptions::new().write(true).open(&path).expect("writer"));
    let mut framed = channel(reader);
    assert_eq!(within(framed.read()).await.expect("read"), None);
}

#[tokio::test]
async fn fifo_opened_blocking_writer_closed_before_the_channel_bytes_then_eof() {
    let (_dir, path) = fifo();
    let (reader, mut writer) = open_both_blocking(&path);
    writer.write_all(b"left behind\n").expect("write");
    drop(writer);
    let mut framed = channel(reader);
    assert_eq!(read_to_eof(&mut framed).await, b"left behind\n");
}

#[tokio::test]
async fn fifo_writer_closing_after_the_channel_bytes_then_eof() {
    let (_dir, path) = fifo();
    let (reader, mut writer) = open_both_blocking(&path);
    let mut framed = channel(reader);
    // More than the FIFO holds: the writer waits for the channel to read.
    let data = pattern(1024 * 1024);
    let expected = data.clone();
    let feeder = std::thread::spawn(move || {
        writer.write_all(&data).expect("write");
    });
    assert!(read_to_eof(&mut framed).await == expected, "bytes differ");
    feeder.join().expect("writer thread");
}

#[tokio::test]
async fn fifo_writer_opened_after_the_channel_bytes_then_eof() {
    let (_dir, path) = fifo();
    let reader = open_reader_nonblocking(&path);
    let mut framed = channel(reader);
    let p = path.clone();
    let feeder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut writer = OpenOptions::new().write(true).open(p).expect("writer");
        writer.write_all(b"late writer\n").expect("write");
    });
    assert_eq!(read_to_eof(&mut framed).await, b"late writer\n");
    feeder.join().expect("writer thread");
}

#[tokio::test]
async fn fifo_data_left_by_one_writer_then_another_writer_bytes_then_eof() {
    let (_dir, path) = fifo();
    let reader = open_reader_nonblocking(&path);
    let mut first = OpenOptions::new().write(true).open(&path).expect("writer");
    first.write_all(b"first\n").expect("write");
    let mut second = OpenOptions::new().write(true).open(&path).expect("writer");
    drop(first);
    let mut framed = channel(reader);
    second.write_all(b"second\n").expect("write");
    drop(second);
    assert_eq!(read_to_eof(&mut framed).await, b"first\nsecond\n");
}

#[tokio::test]
async fn fifo_read_end_gets_its_flags_back_after_drop() {
    let (_dir, path) = fifo();
    let (reader, _writer) = open_both_blocking(&path);
    let watcher = reader.try_clone().expect("dup");
    let before = rustix::fs::fcntl_getfl(&watcher).expect("getfl");
    let framed = channel(reader);
    drop(framed);
    assert_eq!(rustix::fs::fcntl_getfl(&watcher).expect("getfl"), before);
    assert!(!is_nonblocking(&watcher));
}
