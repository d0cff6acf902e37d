//! `ConnHandle`: replying later, from a spawned task or a plain thread, in
//! the Poller-based server and in the per-task driver; what a handle does
//! once its connection is gone; a handle's write past the queue limit.

mod support;

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iochannels::{
    drive, serve, Channel, Conn, ConnHandle, ConnInfo, Error, Framing, Handler, PeerAddr,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::{within, STEP};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Shared between a test and its handlers: callbacks and outcomes, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().expect("log lock").push(entry.into());
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }

    async fn wait_for(&self, entry: &str) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let entries = self.entries();
            if entries.iter().any(|e| e == entry) {
                return entries;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited for {entry:?}; log: {entries:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn show(error: &Option<Error>) -> String {
    match error {
        None => "None".to_owned(),
        Some(Error::QueueFull { .. }) => "QueueFull".to_owned(),
        Some(e) => e.to_string(),
    }
}

/// `quick` lines are answered at once; any other line goes to a spawned
/// task that sleeps, replies through the handle, and closes.
struct Worker {
    log: Log,
    handles: Arc<Mutex<Vec<ConnHandle>>>,
}

impl Handler for Worker {
    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        if &line[..] == b"quick\n" {
            conn.write("quick answer\n").expect("open");
            return;
        }
        let handle = conn.handle();
        assert_eq!(handle.id(), conn.id());
        self.handles.lock().expect("lock").push(handle.clone());
        let log = self.log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let wrote = handle.write(format!("slow answer to {}", String::from_utf8_lossy(&line)));
            let closed = handle.close();
            log.push(format!("task: {wrote:?} {closed:?}"));
        });
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.log.push(format!("close {}", show(&error)));
    }
}

#[tokio::test]
async fn server_replies_from_a_spawned_task_while_it_serves_others() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let handles = Arc::new(Mutex::new(Vec::new()));
    let (factory_log, factory_handles) = (log.clone(), Arc::clone(&handles));
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Worker {
        log: factory_log.clone(),
        handles: Arc::clone(&factory_handles),
    });
    let stop = server.handle();
    let running = tokio::spawn(server.run());

    let mut slow = TcpStream::connect(addr).await?;
    slow.write_all(b"work\n").await?;
    // The server is not held up by the slow request: another client is
    // answered meanwhile.
    let mut quick = TcpStream::connect(addr).await?;
    quick.write_all(b"quick\n").await?;
    let mut answer = [0; 13];
    within(quick.read_exact(&mut answer)).await?;
    assert_eq!(&answer, b"quick answer\n");
    assert!(
        log.entries().is_empty(),
        "the slow reply came first: {:?}",
        log.entries()
    );

    let mut reply = Vec::new();
    within(slow.read_to_end(&mut reply)).await?;
    assert_eq!(reply, b"slow answer to work\n", "replied, then closed");
    let entries = log.wait_for("close None").await;
    assert_eq!(entries, ["task: Ok(()) Ok(())", "close None"]);

    // The connection is gone: its handle says so.
    let handle = handles.lock().expect("lock").pop().expect("a handle");
    assert!(matches!(handle.write("late\n"), Err(Error::Closed)));
    assert!(matches!(handle.close(), Err(Error::Closed)));

    stop.shutdown();
    within(running).await?;
    Ok(())
}

/// Sends each connection's handle out, to be used from a plain thread,
/// once its greeting is flushed (so the `on_write` for it comes first).
struct HandOut {
    handles: mpsc::Sender<ConnHandle>,
    log: Log,
}

impl Handler for HandOut {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        conn.write("hello\n").expect("open");
    }

    async fn on_write(&mut self, conn: &mut Conn<'_>) {
        // Only the handler's own writes are paced by on_write: once.
        self.log.push("write");
        self.handles.send(conn.handle()).expect("test listening");
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.log.push(format!("close {}", show(&error)));
    }
}

/// From a plain thread: writes in order, then a close after them.
fn write_from_a_thread(handle: ConnHandle) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let results = [
            handle.write("one\n"),
            handle.write(Bytes::from_static(b"two\n")),
            handle.close(),
        ];
        results.iter().map(|r| format!("{r:?}")).collect()
    })
}

/// Waits (bounded, polling from a thread) until `handle` refuses a write.
async fn until_refused(handle: ConnHandle) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        match handle.write("x") {
            Err(e) => return Err(e),
            Ok(()) => assert!(tokio::time::Instant::now() < deadline, "still accepted"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn conn_handle_from_a_plain_thread_in_the_server() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    let log = Log::default();
    let factory_log = log.clone();
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| HandOut {
        handles: tx.clone(),
        log: factory_log.clone(),
    });
    let stop = server.handle();
    let running = tokio::spawn(server.run());

    let mut client = TcpStream::connect(addr).await?;
    let handle = within(tokio::task::spawn_blocking(move || rx.recv())).await??;
    let results = within(tokio::task::spawn_blocking(move || {
        write_from_a_thread(handle.clone())
            .join()
            .map(|r| (r, handle))
    }))
    .await?;
    let (results, handle) = results.map_err(|_| "thread panicked")?;
    assert_eq!(results, ["Ok(())", "Ok(())", "Ok(())"]);
    let mut got = Vec::new();
    within(client.read_to_end(&mut got)).await?;
    assert_eq!(got, b"hello\none\ntwo\n");
    log.wait_for("close None").await;
    assert!(matches!(until_refused(handle).await, Err(Error::Closed)));
    assert_eq!(
        log.entries(),
        ["write", "close None"],
        "no on_write for the handle's writes"
    );

    stop.shutdown();
    within(running).await?;
    Ok(())
}

#[tokio::test]
async fn conn_handle_from_a_plain_thread_in_the_per_task_driver() -> TestResult {
    let (channel, mut peer) = Channel::test();
    let (tx, rx) = mpsc::channel();
    let log = Log::default();
    let driver = tokio::spawn(drive(
        channel.framed(Framing::Lines),
        HandOut {
            handles: tx,
            log: log.clone(),
        },
    ));
    let handle = within(tokio::task::spawn_blocking(move || rx.recv())).await??;
    let thread_handle = handle.clone();
    let results = within(tokio::task::spawn_blocking(move || {
        write_from_a_thread(thread_handle).join()
    }))
    .await?
    .map_err(|_| "thread panicked")?;
    assert_eq!(results, ["Ok(())", "Ok(())", "Ok(())"]);
    within(driver).await?;
    assert_eq!(peer.get(), "hello\none\ntwo\n");
    assert_eq!(log.entries(), ["write", "close None"]);
    // The driver has returned: the handle is refused at once.
    assert!(matches!(handle.write("late\n"), Err(Error::Closed)));
    assert!(matches!(handle.close(), Err(Error::Closed)));
    Ok(())
}

/// Keeps its handle, for a write after the driver has left its loop.
struct Keep(Option<ConnHandle>, Log);

impl Handler for Keep {
    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        self.0 = Some(conn.handle());
        self.1.push(format!("read {line:?}"));
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        let late = self.0.as_ref().map(|h| format!("{:?}", h.write("late\n")));
        self.1.push(format!("close {} then {late:?}", show(&error)));
    }
}

#[tokio::test]
async fn per_task_driver_refuses_a_handle_from_on_close_on() -> TestResult {
    let (channel, mut peer) = Channel::test();
    peer.put("only\n");
    peer.close();
    let log = Log::default();
    within(drive(
        channel.framed(Framing::Lines),
        Keep(None, log.clone()),
    ))
    .await;
    assert_eq!(
        log.entries(),
        [
            r#"read b"only\n""#,
            r#"close None then Some("Err(Closed)")"#
        ]
    );
    assert_eq!(peer.get(), "");
    Ok(())
}

/// Writes more than the queue limit through its handle, at once.
struct Flood(Log);

impl Handler for Flood {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        let handle = conn.handle();
        std::thread::spawn(move || handle.write(vec![b'x'; 9 * 1024 * 1024]));
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.0.push(format!("close {}", show(&error)));
    }
}

#[tokio::test]
async fn a_handle_write_past_the_queue_limit_ends_the_connection() -> TestResult {
    // The server: the poller ends the channel with QueueFull.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let factory_log = log.clone();
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| {
        Flood(factory_log.clone())
    });
    let stop = server.handle();
    let running = tokio::spawn(server.run());
    let mut client = TcpStream::connect(addr).await?;
    // The poller strands the `Closed` of a channel a handle's write ended
    // until something wakes that poller (see the ignored test below): a
    // line from the client does.
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.write_all(b"wake\n").await?;
    assert_eq!(log.wait_for("close QueueFull").await, ["close QueueFull"]);
    let mut got = Vec::new();
    let _ = within(client.read_to_end(&mut got)).await;
    assert!(got.is_empty(), "nothing of it was sent");
    stop.shutdown();
    within(running).await?;

    // The per-task driver ends the same way.
    let (channel, mut peer) = Channel::test();
    let log = Log::default();
    within(drive(channel.framed(Framing::Lines), Flood(log.clone()))).await;
    assert_eq!(log.entries(), ["close QueueFull"]);
    assert_eq!(peer.get(), "");
    Ok(())
}

/// Needs the poller to yield at once the `Closed` that a handle's write past
/// the limit queues: today `apply_commands` (src/poller/handle.rs) pushes it
/// without waking anything and the turn that ran it returns `Idle`
/// (src/poller/stream.rs), so it waits for the next unrelated wake-up.
#[tokio::test]
async fn a_handle_write_past_the_queue_limit_ends_a_quiet_connection() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let factory_log = log.clone();
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| {
        Flood(factory_log.clone())
    });
    let stop = server.handle();
    let running = tokio::spawn(server.run());
    let _client = TcpStream::connect(addr).await?;
    assert_eq!(log.wait_for("close QueueFull").await, ["close QueueFull"]);
    stop.shutdown();
    within(running).await?;
    Ok(())
}
