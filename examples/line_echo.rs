//! A line-oriented echo server written callback-style: Pants'
//! `LineOriented` connection, with the [`Handler`] trait and [`serve`].
//!
//! Shows: `serve` with an [`Acceptor`] (Pants' server taking a connection
//! class: here a factory), `on_listen`, `on_connect` setting the read
//! delimiter at runtime (`conn.set_framing`, Pants' `read_delimiter`),
//! `on_read` once per line, `on_write` once the replies are flushed,
//! `on_close` with why, a [`ServerHandle`] stopping the server on Ctrl-C, and
//! a client written with the same trait ([`connect`]) for the self-test.
//!
//! Run with: cargo run --example line_echo
//!  talk to it: nc 127.0.0.1 7879   (each line comes back; `quit` ends)
//!  self-test: cargo run --example line_echo -- --demo
//!
//! Options: `--addr ADDR` (default 127.0.0.1:7879), `--demo` (serve on a
//! free port, connect a client, check the echo, exit 0 if it is right).

use std::time::Duration;

use bytes::Bytes;
use iochannels::{
    connect, serve, Acceptor, Conn, ConnInfo, Error, Framing, Handler, PeerAddr, ServerHandle,
};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: line_echo [--addr ADDR] | line_echo --demo";
const DEFAULT_ADDR: &str = "127.0.0.1:7879";
const GREETING: &str = "hello! every line comes back; quit ends\r\n";
/// How long the demo may take.
const DEMO_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines end with `\r\n` (telnet, Pants' example) or a bare `\n` (nc).
fn line_framing() -> Framing {
    Framing::Delimited(vec![Bytes::from_static(b"\r\n"), Bytes::from_static(b"\n")])
}

/// Pants' `LineOriented`: one per connection.
struct LineOriented {
    lines: usize,
}

impl Handler for LineOriented {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        // Pants: `self.read_delimiter = '\r\n'`; from the very next frame on.
        conn.set_framing(line_framing());
        let _ = conn.write(GREETING);
    }

    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        self.lines += 1;
        let text = String::from_utf8_lossy(&line);
        eprintln!("line_echo: {} said {:?}", conn.id(), text.trim_end());
        if text.trim_end() == "quit" {
            let _ = conn.write("bye\r\n");
            conn.close();
        } else if let Err(e) = conn.write(line) {
            // A peer that does not read: drop it rather than queue for ever.
            eprintln!("line_echo: {}: {e}", conn.id());
            conn.abort();
        }
    }

    async fn on_write(&mut self, _conn: &mut Conn<'_>) {
        // Replies flushed: a streaming server would write its next piece here.
    }

    async fn on_close(&mut self, info: &ConnInfo, error: Option<Error>) {
        let peer = info.peer().map(ToString::to_string).unwrap_or_default();
        match error {
            None => eprintln!(
                "line_echo: {} ({peer}) left after {} lines",
                info.id(),
                self.lines
            ),
            Some(e) => eprintln!("line_echo: {} ({peer}) ended: {e}", info.id()),
        }
    }
}

/// Pants' `Server`: announces itself, makes a `LineOriented` per client.
struct EchoServer;

impl Acceptor for EchoServer {
    type Handler = LineOriented;

    fn on_accept(&mut self, peer: &PeerAddr) -> LineOriented {
        eprintln!("line_echo: {peer} connected");
        LineOriented { lines: 0 }
    }

    async fn on_listen(&mut self, local: &PeerAddr) {
        eprintln!("line_echo: listening on {local}");
    }
}

#[tokio::main]
async fn main() {
    let code = match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("line_echo: {e}");
            1
        }
    };
    std::process::exit(code);
}

async fn run() -> Result<i32, BoxError> {
    let mut args = std::env::args().skip(1);
    let mut addr = DEFAULT_ADDR.to_owned();
    let mut demo_mode = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or(USAGE)?,
            "--demo" => demo_mode = true,
            _ => return Err(USAGE.into()),
        }
    }
    if demo_mode {
        return demo().await;
    }
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("binding {addr}: {e}"))?;
    let server = serve(listener, Framing::Bytes, EchoServer);
    let handle = server.handle();
    let running = tokio::spawn(server.run());
    tokio::signal::ctrl_c().await?;
    eprintln!("line_echo: shutting down");
    handle.shutdown();
    running.await?;
    Ok(0)
}

/// The demo's client, callback-style too: greeting, echo, quit.
#[derive(Default)]
struct Check {
    heard: Vec<String>,
    closed: Option<String>,
}

const SAID: &str = "hello, echo\r\n";

impl Handler for Check {
    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        self.heard.push(String::from_utf8_lossy(&line).into_owned());
        let next = match self.heard.len() {
            1 => SAID,
            2 => "quit\n",
            _ => return,
        };
        if conn.write(next).is_err() {
            conn.close();
        }
    }

    async fn on_connect_error(&mut self, error: Error) {
        self.closed = Some(format!("could not connect: {error}"));
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.closed = Some(error.map_or_else(|| "clean".to_owned(), |e| e.to_string()));
    }
}

async fn demo() -> Result<i32, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = serve(listener, Framing::Bytes, EchoServer);
    let handle: ServerHandle = server.handle();
    let running = tokio::spawn(server.run());

    let check = tokio::time::timeout(
        DEMO_TIMEOUT,
        connect(addr, line_framing(), Check::default()),
    )
    .await
    .map_err(|_| format!("the demo did not finish within {DEMO_TIMEOUT:?}"))?;
    handle.shutdown();
    running.await?;

    let expected = [GREETING, SAID, "bye\r\n"];
    if check.heard == expected && check.closed.as_deref() == Some("clean") {
        println!("line_echo demo: ok (heard {:?})", check.heard);
        Ok(0)
    } else {
        println!(
            "line_echo demo: FAILED: heard {:?}, expected {expected:?}; ended {:?}",
            check.heard, check.closed
        );
        Ok(1)
    }
}
