//! The `chat` example run as a child process: its `--demo` self-test on 1,
//! 2 and 4 shards, its command line, and what it does with a socket path
//! that is stale, in use, or not a socket. Sessions with real clients are
//! in chat_session.rs.

mod support;

use std::process::Stdio;

use tokio::process::Command;

use support::chat::{chat_binary, ChatProcess, Client, DEMO_LIMIT};
use support::socket_path;

/// Runs `chat --demo 20 --workers W` and checks its report: every line
/// sent reached every other client exactly once and in order (the demo's
/// clients check that themselves), and the 20 clients were spread evenly
/// over the W shards (the group hands them out round-robin).
async fn demo_on(workers: usize) {
    let workers_arg = workers.to_string();
    let args = ["--demo", "20", "--workers", workers_arg.as_str()];
    let run = Command::new(chat_binary())
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEMO_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("chat {args:?} did not finish in time"))
        .unwrap_or_else(|e| panic!("running chat {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chat {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let each = vec![(20 / workers).to_string(); workers].join(" ");
    let shards = format!("shards: {workers} (clients on each: {each})");
    let lines: Vec<&str> = stdout.lines().collect();
    for want in [
        "clients: 20 (10 tcp, 10 unix)",
        shards.as_str(),
        "lines sent: 400 (20 each)",
        "lines received: 7600 (expected 7600)",
        "demo OK",
    ] {
        assert!(lines.contains(&want), "report lacks {want:?}:\n{stdout}");
    }
}

#[tokio::test]
async fn demo_delivers_every_line_exactly_once() {
    demo_on(1).await;
}

#[tokio::test]
async fn demo_on_two_shards_delivers_every_line_exactly_once() {
    demo_on(2).await;
}

#[tokio::test]
async fn demo_on_four_shards_delivers_every_line_exactly_once() {
    demo_on(4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_socket_file_is_replaced() {
    let (_dir, path) = socket_path("chat.sock");
    // Bound and dropped: the file stays, nobody listens.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("binding"));
    assert!(path.exists());

    let path_arg = path.to_str().expect("utf-8 temp path");
    let mut chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--unix", path_arg]);
    chat.listening().await;
    let mut client = Client::unix(&path).await;
    client.welcome().await;

    chat.console("/shutdown").await;
    client.expect("* server shutting down\n").await;
    client.eof().await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
    assert!(!path.exists(), "socket file left behind:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_in_use_is_left_alone() {
    let (_dir, path) = socket_path("chat.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("binding");

    let path_arg = path.to_str().expect("utf-8 temp path");
    let chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--unix", path_arg]);
    let (status, log) = chat.exit().await;
    assert!(!status.success(), "chat started on a socket in use:\n{log}");
    assert!(
        log.contains(path_arg),
        "error does not name the path:\n{log}"
    );
    assert!(
        log.contains("a server is listening there"),
        "error does not say why:\n{log}"
    );
    assert!(path.exists(), "the live socket was removed");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread")]
async fn path_that_is_not_a_socket_is_refused() {
    let (_dir, path) = socket_path("chat.sock");
    std::fs::write(&path, "precious\n").expect("writing a regular file");

    let path_arg = path.to_str().expect("utf-8 temp path");
    let chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--unix", path_arg]);
    let (status, log) = chat.exit().await;
    assert!(!status.success(), "chat started on a regular file:\n{log}");
    assert!(
        log.contains(path_arg),
        "error does not name the path:\n{log}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("the file is still there"),
        "precious\n"
    );
}

#[tokio::test]
async fn bad_arguments_are_refused() {
    for args in [
        &["--bogus"][..],
        &["--demo", "0"],
        &["--tcp"],
        &["--unix", "/tmp/x.sock", "--no-unix"],
        &["--idle-timeout", "0"],
        &["--idle-timeout", "soon"],
        &["--demo", "2", "--idle-timeout", "1"],
        &["--stats-every", "0"],
        &["--tls", "127.0.0.1:0"],
        &["--demo", "2", "--stats-every", "1"],
        &["--workers", "0"],
        &["--workers", "many"],
        &["--workers"],
        &["--demo", "2", "--workers", "0"],
    ] {
        let chat = ChatProcess::start(args);
        let (status, log) = chat.exit().await;
        assert!(!status.success(), "chat accepted {args:?}:\n{log}");
        assert!(log.contains("usage: chat"), "no usage for {args:?}:\n{log}");
    }
}
