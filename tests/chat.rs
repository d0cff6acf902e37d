//! The `chat` example run as a child process: its `--demo` self-test, a real
//! session with TCP clients and the stdin console, `/slow` answered from
//! another task, `--idle-timeout`, and what it does with a socket path that
//! is stale, in use, or not a socket.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use support::{socket_path, within};

/// The demo's own bound is 60 s; give it a little more before killing it.
const DEMO_LIMIT: Duration = Duration::from_secs(70);

/// The built `chat` example, checked to be newer than its sources.
///
/// `cargo test` builds the examples, but `cargo test --test chat` does not:
/// it would run whatever binary an earlier build left. Run
/// `cargo build --example chat` first in that case.
fn chat_binary() -> PathBuf {
    let binary = support::example("chat");
    let built = modified(&binary);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = (SystemTime::UNIX_EPOCH, PathBuf::new());
    for source in [root.join("Cargo.toml"), root.join("examples/chat.rs")] {
        newest = newest.max((modified(&source), source));
    }
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("listing src/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                newest = newest.max((modified(&path), path));
            }
        }
    }
    assert!(
        built >= newest.0,
        "{} is older than {}: run `cargo build --example chat` (or plain `cargo test`) first",
        binary.display(),
        newest.1.display()
    );
    binary
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime of {}: {e}", path.display()))
}

/// A running `chat` server. The child is killed if this is dropped before
/// it exited (`kill_on_drop`), so a failing test never leaves it behind.
struct ChatProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Every stderr line read so far, for failure messages.
    log: Vec<String>,
}

impl ChatProcess {
    fn start(args: &[&str]) -> ChatProcess {
        let mut child = Command::new(chat_binary())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning the chat example");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        ChatProcess {
            child,
            stdin,
            stdout,
            stderr,
            log: Vec::new(),
        }
    }

    /// Reads stderr up to the line starting with `prefix`, and returns it.
    async fn stderr_until(&mut self, prefix: &str) -> String {
        loop {
            let line = within(self.stderr.next_line())
                .await
                .expect("reading the server's stderr");
            let Some(line) = line else {
                panic!(
                    "server's stderr ended before {prefix:?}; it said:\n{}",
                    self.log.join("\n")
                );
            };
            self.log.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Waits for `chat: listening on tcp ADDR [and unix PATH]`.
    async fn listening(&mut self) -> (SocketAddr, Option<PathBuf>) {
        let line = self.stderr_until("chat: listening on tcp ").await;
        let rest = &line["chat: listening on tcp ".len()..];
        let (tcp, unix) = match rest.split_once(" and unix ") {
            Some((tcp, unix)) => (tcp, Some(PathBuf::from(unix))),
            None => (rest, None),
        };
        (tcp.parse().expect("a TCP address"), unix)
    }

    /// Types a line on the server's console (its stdin).
    async fn console(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        within(stdin.write_all(format!("{line}\n").as_bytes()))
            .await
            .expect("writing to the console");
        within(stdin.flush()).await.expect("flushing the console");
    }

    /// The console's next reply line (the server's stdout), with its `\n`.
    async fn console_reply(&mut self) -> String {
        let line = within(self.stdout.next_line())
            .await
            .expect("reading the server's stdout");
        format!("{}\n", line.expect("the server's stdout ended"))
    }

    /// Waits for the process to exit; returns its status and the rest of stderr.
    async fn exit(mut self) -> (ExitStatus, String) {
        let status = within(self.child.wait()).await.expect("waiting for chat");
        while let Ok(Some(line)) = within(self.stderr.next_line()).await {
            self.log.push(line);
        }
        (status, self.log.join("\n"))
    }
}

/// A chat client: lines in, lines out, every wait bounded.
struct Client {
    reader: BufReader<Box<dyn AsyncRead + Send + Unpin>>,
    writer: Box<dyn AsyncWrite + Send + Unpin>,
}

impl Client {
    fn new<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(stream: S) -> Client {
        let (read, write) = tokio::io::split(stream);
        Client {
            reader: BufReader::new(Box::new(read)),
            writer: Box::new(write),
        }
    }

    async fn tcp(addr: SocketAddr) -> Client {
        let stream = within(tokio::net::TcpStream::connect(addr))
            .await
            .expect("connecting to the chat over TCP");
        Client::new(stream)
    }

    async fn unix(path: &Path) -> Client {
        let stream = within(tokio::net::UnixStream::connect(path))
            .await
            .expect("connecting to the chat's Unix socket");
        Client::new(stream)
    }

    /// Sends `line` and a `\n`.
    async fn send(&mut self, line: &str) {
        self.send_raw(&format!("{line}\n")).await;
    }

    async fn send_raw(&mut self, data: &str) {
        within(self.writer.write_all(data.as_bytes()))
            .await
            .expect("sending to the chat");
    }

    /// The next line, `\n` included; fails at EOF.
    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = within(self.reader.read_line(&mut line))
            .await
            .expect("reading from the chat");
        assert!(n > 0, "the chat closed the connection");
        line
    }

    async fn expect(&mut self, want: &str) {
        assert_eq!(self.line().await, want);
    }

    /// The connection ends with nothing more.
    async fn eof(&mut self) {
        let mut rest = String::new();
        within(self.reader.read_line(&mut rest))
            .await
            .expect("reading EOF");
        assert_eq!(rest, "", "expected EOF");
    }

    /// Reads the welcome line and returns the default nick it gives.
    async fn welcome(&mut self) -> String {
        let line = self.line().await;
        let nick = line
            .strip_prefix("* welcome, you are ")
            .and_then(|rest| rest.split_once(' '))
            .map(|(nick, _)| nick.to_string());
        let nick = nick.unwrap_or_else(|| panic!("not a welcome line: {line:?}"));
        assert!(nick.starts_with("guest"), "default nick {nick:?}");
        nick
    }
}

#[tokio::test]
async fn demo_delivers_every_line_exactly_once() {
    let run = Command::new(chat_binary())
        .args(["--demo", "20"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEMO_LIMIT, run)
        .await
        .expect("chat --demo 20 did not finish in time")
        .expect("running chat --demo 20");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chat --demo 20 failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for want in [
        "clients: 20 (10 tcp, 10 unix)",
        "lines sent: 400 (20 each)",
        "lines received: 7600 (expected 7600)",
        "demo OK",
    ] {
        assert!(lines.contains(&want), "report lacks {want:?}:\n{stdout}");
    }
}

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

    chat.console("/shutdown").await;
    assert_eq!(chat.console_reply().await, "* shutting down\n");
    a.expect("* server shutting down\n").await;
    a.eof().await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
    assert!(!path.exists(), "socket file left behind:\n{log}");
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
    ] {
        let chat = ChatProcess::start(args);
        let (status, log) = chat.exit().await;
        assert!(!status.success(), "chat accepted {args:?}:\n{log}");
        assert!(log.contains("usage: chat"), "no usage for {args:?}:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_every_prints_the_counters_on_stderr() {
    let mut chat =
        ChatProcess::start(&["--tcp", "127.0.0.1:0", "--no-unix", "--stats-every", "0.2"]);
    let (addr, _) = chat.listening().await;
    let mut a = Client::tcp(addr).await;
    a.welcome().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    chat.console("/shutdown").await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
    let reports = log
        .lines()
        .filter(|l| l.starts_with("* stats: 2 channels (2 registered, 1 accepted, "))
        .count();
    assert!(reports >= 2, "{reports} reports in 0.7 s:\n{log}");
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

    chat.console("/shutdown").await;
    assert_eq!(chat.console_reply().await, "* shutting down\n");
    a.expect("* server shutting down\n").await;
    a.eof().await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_disconnects_a_silent_client_and_tells_the_others() {
    let mut chat =
        ChatProcess::start(&["--tcp", "127.0.0.1:0", "--no-unix", "--idle-timeout", "0.5"]);
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

    // The console idled out too (the timeout is the poller's); stop with SIGTERM.
    let pid = chat
        .child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    rustix::process::kill_process(pid.expect("running"), rustix::process::Signal::TERM)
        .expect("SIGTERM");
    chatty.expect("* server shutting down\n").await;
    chatty.eof().await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
    assert!(
        log.contains(&format!("chat: {guest_silent} left (timed out")),
        "{log}"
    );
}

/// `--tls`: a TLS client and a plain TCP client in the same chat.
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
    ]);
    let (addr, _) = chat.listening().await;
    let line = chat.stderr_until("chat: listening on tls ").await;
    let tls_addr: SocketAddr = line["chat: listening on tls ".len()..]
        .parse()
        .expect("a TLS address");

    let mut plain = Client::tcp(addr).await;
    let plain_nick = plain.welcome().await;
    let config = iochannels::tls::client_config(&cert).expect("trusting the certificate");
    let mut secure = within(Channel::connect_tls(tls_addr, "localhost", config))
        .await
        .expect("a TLS connection")
        .framed(Framing::Lines);
    let welcome = within(secure.read())
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

    within(secure.write(b"hello over tls\n"))
        .await
        .expect("write");
    plain
        .expect(&format!("{secure_nick}: hello over tls\n"))
        .await;
    plain.send("hello in the clear").await;
    let got = within(secure.read()).await.expect("read").expect("a line");
    assert_eq!(
        got,
        format!("{plain_nick}: hello in the clear\n").as_bytes()
    );

    chat.console("/shutdown").await;
    let (status, log) = chat.exit().await;
    assert!(status.success(), "chat exited with {status}:\n{log}");
}
