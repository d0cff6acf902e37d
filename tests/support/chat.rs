//! Driving the `chat` example as a child process: the built binary
//! (checked to be newer than its sources), a running server with its
//! console and stderr, and a line client with every wait bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::within;

/// The demo's own bound is 60 s; give it a little more before killing it.
pub const DEMO_LIMIT: Duration = Duration::from_secs(70);

/// The built `chat` example, checked to be newer than its sources.
///
/// `cargo test` builds the examples, but `cargo test --test chat` does not:
/// it would run whatever binary an earlier build left. Run
/// `cargo build --example chat` first in that case.
pub fn chat_binary() -> PathBuf {
    let binary = super::example("chat");
    let built = modified(&binary);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = (SystemTime::UNIX_EPOCH, PathBuf::new());
    let source = root.join("Cargo.toml");
    newest = newest.max((modified(&source), source));
    let mut dirs = vec![root.join("src"), root.join("examples/chat")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("listing the sources")
            .flatten()
        {
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
        "{} is older than {}: run `cargo build --examples` (or plain `cargo test`) first",
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
pub struct ChatProcess {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Every stderr line read so far, for failure messages.
    log: Vec<String>,
}

impl ChatProcess {
    pub fn start(args: &[&str]) -> ChatProcess {
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
    pub async fn stderr_until(&mut self, prefix: &str) -> String {
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
    pub async fn listening(&mut self) -> (SocketAddr, Option<PathBuf>) {
        let line = self.stderr_until("chat: listening on tcp ").await;
        let rest = &line["chat: listening on tcp ".len()..];
        let (tcp, unix) = match rest.split_once(" and unix ") {
            Some((tcp, unix)) => (tcp, Some(PathBuf::from(unix))),
            None => (rest, None),
        };
        (tcp.parse().expect("a TCP address"), unix)
    }

    /// Types a line on the server's console (its stdin).
    pub async fn console(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        within(stdin.write_all(format!("{line}\n").as_bytes()))
            .await
            .expect("writing to the console");
        within(stdin.flush()).await.expect("flushing the console");
    }

    /// The console's next reply line (the server's stdout), with its `\n`.
    pub async fn console_reply(&mut self) -> String {
        let line = within(self.stdout.next_line())
            .await
            .expect("reading the server's stdout");
        format!("{}\n", line.expect("the server's stdout ended"))
    }

    /// Waits for the process to exit; returns its status and the rest of stderr.
    pub async fn exit(mut self) -> (ExitStatus, String) {
        let status = within(self.child.wait()).await.expect("waiting for chat");
        while let Ok(Some(line)) = within(self.stderr.next_line()).await {
            self.log.push(line);
        }
        (status, self.log.join("\n"))
    }

    /// `/shutdown` on the console: its reply, then for each of `clients`
    /// the notice and the end, then a clean exit; returns the server's stderr.
    pub async fn shut_down<'a>(
        mut self,
        clients: impl IntoIterator<Item = &'a mut Client>,
    ) -> String {
        self.console("/shutdown").await;
        assert_eq!(self.console_reply().await, "* shutting down\n");
        for client in clients {
            client.expect("* server shutting down\n").await;
            client.eof().await;
        }
        let (status, log) = self.exit().await;
        assert!(status.success(), "chat exited with {status}:\n{log}");
        log
    }
}

/// A chat client: lines in, lines out, every wait bounded.
pub struct Client {
    reader: BufReader<Box<dyn AsyncRead + Send + Unpin>>,
    writer: Box<dyn AsyncWrite + Send + Unpin>,
}

impl Client {
    pub fn new<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(stream: S) -> Client {
        let (read, write) = tokio::io::split(stream);
        Client {
            reader: BufReader::new(Box::new(read)),
            writer: Box::new(write),
        }
    }

    pub async fn tcp(addr: SocketAddr) -> Client {
        let stream = within(tokio::net::TcpStream::connect(addr))
            .await
            .expect("connecting to the chat over TCP");
        Client::new(stream)
    }

    pub async fn unix(path: &Path) -> Client {
        let stream = within(tokio::net::UnixStream::connect(path))
            .await
            .expect("connecting to the chat's Unix socket");
        Client::new(stream)
    }

    /// Sends `line` and a `\n`.
    pub async fn send(&mut self, line: &str) {
        self.send_raw(&format!("{line}\n")).await;
    }

    pub async fn send_raw(&mut self, data: &str) {
        within(self.writer.write_all(data.as_bytes()))
            .await
            .expect("sending to the chat");
    }

    /// The next line, `\n` included; fails at EOF.
    pub async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = within(self.reader.read_line(&mut line))
            .await
            .expect("reading from the chat");
        assert!(n > 0, "the chat closed the connection");
        line
    }

    pub async fn expect(&mut self, want: &str) {
        assert_eq!(self.line().await, want);
    }

    /// The connection ends with nothing more.
    pub async fn eof(&mut self) {
        let mut rest = String::new();
        within(self.reader.read_line(&mut rest))
            .await
            .expect("reading EOF");
        assert_eq!(rest, "", "expected EOF");
    }

    /// Reads the welcome line and returns the default nick it gives.
    pub async fn welcome(&mut self) -> String {
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
