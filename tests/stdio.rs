//! `Channel::stdio` in a real process: the `relay` example run as a child with
//! its stdin a regular file, /dev/null or a pipe, checking the bytes that pass
//! and that O_NONBLOCK never leaks onto the descriptions it shares with us.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{example, is_nonblocking};

/// A TCP server on 127.0.0.1 that reads everything until EOF, then answers
/// `reply` and closes; returns what it read.
fn one_shot_server(reply: &'static [u8]) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        stream.read_to_end(&mut got).expect("read until EOF");
        stream.write_all(reply).expect("reply");
        got
    });
    (addr, handle)
}

fn run_relay(stdin: Stdio, addr: &str) -> std::process::Output {
    let child = Command::new(example("relay"))
        .args(["tcp", addr])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the relay example");
    child.wait_with_output().expect("relay output")
}

#[test]
fn stdin_from_a_regular_file_is_read_whole() {
    let mut file = tempfile::tempfile().expect("tempfile");
    let content: Vec<u8> = (0..100_000u32)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    file.write_all(&content).expect("write");
    std::io::Seek::rewind(&mut file).expect("rewind");
    let (addr, server) = one_shot_server(b"thanks\n");
    let out = run_relay(Stdio::from(file), &addr);
    assert!(
        out.status.success(),
        "relay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.join().expect("server") == content);
    assert_eq!(out.stdout, b"thanks\n");
}

#[test]
fn stdin_from_dev_null_is_an_immediate_end() {
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let (addr, server) = one_shot_server(b"nothing came\n");
    let out = run_relay(Stdio::from(null), &addr);
    assert!(
        out.status.success(),
        "relay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.join().expect("server"), b"");
    assert_eq!(out.stdout, b"nothing came\n");
}

#[test]
fn stdio_pipes_never_see_o_nonblock() {
    let (stdin_r, mut stdin_w) = std::io::pipe().expect("pipe");
    let (mut stdout_r, stdout_w) = std::io::pipe().expect("pipe");
    // Our own handles on the very descriptions the child inherits.
    let watch_in: OwnedFd = OwnedFd::from(stdin_r.try_clone().expect("dup"));
    let watch_out: OwnedFd = OwnedFd::from(stdout_w.try_clone().expect("dup"));
    let mut child = Command::new(example("relay"))
        .args(["exec", "cat"])
        .stdin(Stdio::from(OwnedFd::from(stdin_r)))
        .stdout(Stdio::from(OwnedFd::from(stdout_w)))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the relay example");
    stdin_w.write_all(b"ping\n").expect("write to relay");
    let mut got = [0u8; 5];
    stdout_r.read_exact(&mut got).expect("read from relay");
    assert_eq!(&got, b"ping\n");
    // The relay is running, with stdio in use: the shared descriptions are untouched.
    assert!(
        !is_nonblocking(&watch_in),
        "stdin description became non-blocking"
    );
    assert!(
        !is_nonblocking(&watch_out),
        "stdout description became non-blocking"
    );
    drop(stdin_w);
    let status = child.wait().expect("relay exit");
    assert!(status.success());
    assert!(!is_nonblocking(&watch_in));
    assert!(!is_nonblocking(&watch_out));
}

#[test]
fn stdio_socket_flags_are_restored_when_the_process_is_done_with_them() {
    // A socket cannot be reopened privately; the relay must put its flags
    // back when the channel is dropped, before it exits.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let watch: OwnedFd = OwnedFd::from(theirs.try_clone().expect("dup"));
    let child = Command::new(example("relay"))
        .args(["exec", "cat"])
        .stdin(Stdio::from(OwnedFd::from(theirs.try_clone().expect("dup"))))
        .stdout(Stdio::from(OwnedFd::from(theirs)))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the relay example");
    let mut ours = ours;
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    ours.write_all(b"over a socket\n").expect("write");
    let mut got = [0u8; 14];
    ours.read_exact(&mut got).expect("read");
    assert_eq!(&got, b"over a socket\n");
    ours.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let out = child.wait_with_output().expect("relay exit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !is_nonblocking(&watch),
        "O_NONBLOCK left on the socket after exit"
    );
}
