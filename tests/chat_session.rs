//! The `chat` example as a server with real clients over TCP and Unix
//! sockets: a session with the stdin console, `--stats-every`, `/slow`
//! answered from another task, `--idle-timeout` (on one shard and across
//! two), and TLS beside plain TCP. Sessions on several shards are in
//! chat_shards.rs.

mod support;

use std::time::Duration;

use support::chat::{ChatProcess, Client};
use support::{socket_path, within};

#[tokio::test(flavor = "multi_thread")]
async fn interactive_session_with_console() {
    let (_dir, path) = socket_path("chat.sock");
    let path_arg = path.to_str().expect("utf-8 temp path");
    let mut chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--unix", path_arg]);
    let (addr, unix) = chat.listening().await;
    assert_eq!(unix.as_deref(), Some(path.as_path()));
    assert!(path.exists(), "socket file missing while serving");

    let mut a = Client::tcp(addr).await;
    let guest_a = a.welcome().await;
    let mut b = Client::tcp(addr).await;
    let guest_b = b.welcome().await;
    a.expect(&format!("* {guest_b} joined\n")).await;

    a.send("/nick alice").await;
    a.expect("* you are now alice\n").await;
    b.expect(&format!("* {guest_a} is now alice\n")).await;
    b.send("/nick bob").await;
    b.expect("* you are now bob\n").await;
    a.expect(&format!("* {guest_b} is now bob\n")).await;

    // Lines go to the others only, verbatim; CRLF ends a line too.
    a.send("hello, bob").await;
    b.expect("alice: hello, bob\n").await;
    b.send_raw("hi alice\r\n").await;
    a.expect("bob: hi alice\n").await;
    // Nothing of alice's own line came back to her before this reply.
    a.send("/who").await;
    a.expect("* online (2): alice bob\n").await;

    b.send("/nick alice").await;
    b.expect("* alice is taken\n").await;
    b.send("/nick two words").await;
    assert!(b.line().await.starts_with("* invalid nick: "));
    b.send(&format!("/nick {}", "x".repeat(33))).await;
    assert!(b.line().await.starts_with("* invalid nick: "));
    b.send("/frob now").await;
    b.expect("* unknown command /frob\n").await;

    b.send("/quit").await;
    b.expect("* bye\n").await;
    b.eof().await;
    a.expect("* bob left\n").await;

    // The console: stdin in, stdout out.
    chat.console("/who").await;
    assert_eq!(chat.console_reply().await, "* online (1): alice\n");
    chat.console("/say hello everyone").await;
    a.expect("* admin: hello everyone\n").await;
    assert_eq!(chat.console_reply().await, "* said to 1 client\n");
    // The poller's counters: alice and the console are registered now, bob
    // (gone by /quit, a local close) was; alice sent 3 lines of 28 bytes.
    chat.console("/stats").await;
    let totals = chat.console_reply().await;
    assert!(
        totals.starts_with(
            "* stats: 2 channels (3 registered, 2 accepted, 0 accept errors), \
             0 paused now (0 pauses), "
        ),
        "{totals}"
    );
    assert!(
        totals
            .ends_with("closed: 0 by peers, 1 here, 0 too long, 0 not reading, 0 idle, 0 failed\n"),
        "{totals}"
    );
    let busiest = chat.console_reply().await;
    assert!(
        busiest.starts_with("* stats: alice: 3 lines (28 B) in, "),
        "{busiest}"
    );

    let mut c = Client::unix(&path).await;
    let guest_c = c.welcome().await;
    a.expect(&format!("* {guest_c} joined\n")).await;
    chat.console(&format!("/kick {guest_c}")).await;
    assert_eq!(chat.console_reply().await, format!("* kicked {guest_c}\n"));
    c.expect("* you were kicked by the admin\n").await;
    c.eof().await;
    a.expect(&format!("* {guest_c} left\n")).await;

    let log = chat.shut_down([&mut a]).await;
    assert!(!path.exists(), "socket file left behind:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_every_prints_the_counters_on_stderr() {
    let mut chat =
        ChatProcess::start(&["--tcp", "127.0.0.1:0", "--no-unix", "--stats-every", "0.2"]);
    let (addr, _) = chat.listening().await;
    let mut a = Client::tcp(addr).await;
    a.welcome().await;
    // Two reports, however long a loaded machine takes to print them (one
    // every 0.2 s when it keeps up), within the one bound of every step.
    within(async {
        for _ in 0..2 {
            chat.stderr_until("* stats: 2 channels (2 registered, 1 accepted, ")
                .await;
        }
    })
    .await;
    chat.console("/shutdown").await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_is_answered_later_from_another_task() {
    let mut chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--no-unix"]);
    let (addr, _) = chat.listening().await;
    let mut a = Client::tcp(addr).await;
    let guest_a = a.welcome().await;
    let mut b = Client::tcp(addr).await;
    let guest_b = b.welcome().await;
    a.expect(&format!("* {guest_b} joined\n")).await;

    // The server goes on while the answer is being worked out.
    let asked = std::time::Instant::now();
    a.send("/slow take your time").await;
    a.send("/who").await;
    a.expect(&format!("* online (2): {guest_a} {guest_b}\n"))
        .await;
    b.send("meanwhile").await;
    a.expect(&format!("{guest_b}: meanwhile\n")).await;
    a.expect("* slow: take your time\n").await;
    assert!(
        asked.elapsed() >= Duration::from_millis(150),
        "answered at once"
    );

    // An answer for a client that has left is dropped: nothing breaks.
    b.send("/slow never read").await;
    b.send("/quit").await;
    b.expect("* bye\n").await;
    b.eof().await;
    a.expect(&format!("* {guest_b} left\n")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.send("/who").await;
    a.expect(&format!("* online (1): {guest_a}\n")).await;

    chat.shut_down([&mut a]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_disconnects_a_silent_client_and_tells_the_others() {
    idle_timeout_on("1").await;
}

/// The silent client lands on shard 0, the chatty one on shard 1: the
/// notice crosses shards.
#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_on_two_shards_tells_the_other_shard() {
    idle_timeout_on("2").await;
}

async fn idle_timeout_on(workers: &str) {
    let mut chat = ChatProcess::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--no-unix",
        "--idle-timeout",
        "0.5",
        "--workers",
        workers,
    ]);
    let (addr, _) = chat.listening().await;
    let joined = std::time::Instant::now();
    let mut silent = Client::tcp(addr).await;
    let guest_silent = silent.welcome().await;
    let mut chatty = Client::tcp(addr).await;
    let guest_chatty = chatty.welcome().await;
    silent.expect(&format!("* {guest_chatty} joined\n")).await;

    // The chatty client keeps talking (every 100 ms, well under the
    // timeout) until it hears that the silent one left.
    let mut heard = None;
    for _ in 0..100 {
        chatty.send("/who").await;
        let line = chatty.line().await;
        if line.starts_with("* online") {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        heard = Some(line);
        break;
    }
    assert_eq!(heard, Some(format!("* {guest_silent} left (idle)\n")));
    // The reply to the `/who` sent just before the notice.
    assert!(chatty.line().await.starts_with("* online (1): "));
    silent.eof().await;
    let idle = joined.elapsed();
    assert!(idle >= Duration::from_millis(450), "closed after {idle:?}");
    chatty.send("/who").await;
    chatty
        .expect(&format!("* online (1): {guest_chatty}\n"))
        .await;

    // The console, silent far longer than the timeout, is exempt: it still
    // answers, and shuts the server down.
    chat.console("/who").await;
    assert_eq!(
        chat.console_reply().await,
        format!("* online (1): {guest_chatty}\n")
    );
    chat.console("/shutdown").await;
    chatty.expect("* server shutting down\n").await;
    chatty.eof().await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
    assert!(
        log.contains(&format!("chat: {guest_silent} left (timed out")),
        "{log}"
    );
}

/// `--tls`: a TLS client and a plain TCP client in the same chat, on two
/// shards: the plain client lands on shard 0, the TLS one on shard 1.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread")]
async fn tls_and_plain_clients_chat_together() {
    use iochannels::{Channel, Framing};
    let dir = tempfile::tempdir().expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("writing cert.pem");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("writing key.pem");
    let mut chat = ChatProcess::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--no-unix",
        "--tls",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
        "--workers",
        "2",
    ]);
    let (addr, _) = chat.listening().await;
    let line = chat.stderr_until("chat: listening on tls ").await;
    let tls_addr: std::net::SocketAddr = line["chat: listening on tls ".len()..]
        .parse()
        .expect("a TLS address");

    let mut plain = Client::tcp(addr).await;
    let plain_nick = plain.welcome().await;
    let config = iochannels::tls::client_config(&cert).expect("trusting the certificate");
    let mut secure = support::within(Channel::connect_tls(tls_addr, "localhost", config))
        .await
        .expect("a TLS connection")
        .framed(Framing::Lines);
    let welcome = support::within(secure.read())
        .await
        .expect("read")
        .expect("a welcome");
    let welcome = String::from_utf8_lossy(&welcome).into_owned();
    let secure_nick = welcome
        .strip_prefix("* welcome, you are ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(nick, _)| nick.to_owned())
        .unwrap_or_else(|| panic!("not a welcome line: {welcome:?}"));
    plain.expect(&format!("* {secure_nick} joined\n")).await;

    support::within(secure.write(b"hello over tls\n"))
        .await
        .expect("write");
    plain
        .expect(&format!("{secure_nick}: hello over tls\n"))
        .await;
    plain.send("hello in the clear").await;
    let got = support::within(secure.read())
        .await
        .expect("read")
        .expect("a line");
    assert_eq!(
        got,
        format!("{plain_nick}: hello in the clear\n").as_bytes()
    );

    chat.console("/shutdown").await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
}
