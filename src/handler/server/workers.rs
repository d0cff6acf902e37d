//! A [`Server`] on N workers ([`Server::workers`]): one [`Poller`] per
//! worker, each in a task of its own, built on [`PollerGroup`] (its
//! [`Shard`]s are the workers).
//!
//! | what | where it runs |
//! |------|---------------|
//! | `on_listen`, per listener | `run`'s task, before any worker starts |
//! | accepting, spreading clients round-robin | the group's accept task |
//! | `on_accept` | the worker that takes the client, under the acceptor's mutex |
//! | every other callback of a connection | its worker's task, in order |
//! | waiting for the shutdown, passing it on, then for every task above | `run`'s task |
//!
//! # Why the acceptor sits behind a mutex
//!
//! The [`Acceptor`] is one value, and `on_accept` needs it mutably. Calling
//! it in the group's accept task would make that task (and its inboxes)
//! generic over the handler type: a second accept loop, or a change to
//! [`PollerGroup`] for this one user. Instead the workers share the
//! acceptor in an `Arc<Mutex<A>>` and take the lock once per accepted
//! connection, for the synchronous `on_accept` only: never per frame, never
//! across an await. Calls are one at a time, as with one worker.
//!
//! # Why tasks, not threads with their own runtimes
//!
//! `run` must stay a `Send` future that users `tokio::spawn`. The group's
//! accept task creates every client's socket, so its sockets belong to
//! the reactor of the runtime that runs `run`: a worker on a thread with
//! a current-thread runtime of its own would be woken through that other
//! runtime's reactor (one more thread hop per readiness event), unless
//! each socket were moved to the worker's reactor. On a multi-thread
//! runtime the workers' tasks share its reactor and run in parallel; on a
//! current-thread runtime they all run on its one thread.
//!
//! # A panicking worker
//!
//! A handler's (or `on_accept`'s) panic unwinds its worker's task only: that
//! worker's connections are dropped with its poller (closed at once,
//! without `on_close`), the accept task skips its inbox from then on, and
//! handles to its connections give [`Error::Closed`](crate::Error::Closed).
//! The other workers go on. `run` re-raises the first panic once every
//! worker has ended, so it is never lost. A panic inside `on_accept`
//! poisons the acceptor's mutex: the others take it anyway (it guards
//! nothing of ours, and the acceptor's own state is what the panic left).

use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::{JoinError, JoinSet};

use super::dispatch::Dispatch;
use super::Server;
use crate::handler::Acceptor;
use crate::{Framing, Poller, PollerGroup, Shard};

/// What the server's setters set, for the workers' pollers (the
/// one-worker server's poller gets them at once).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Settings {
    pub(super) max_frame_len: Option<usize>,
    pub(super) close_timeout: Option<Duration>,
    pub(super) write_limits: Option<(usize, usize, usize)>,
}

impl Settings {
    /// What a worker's own poller needs; the frame limit goes to the group,
    /// whose accept task frames the clients.
    fn apply(&self, poller: &mut Poller) {
        if let Some(timeout) = self.close_timeout {
            poller.set_close_timeout(timeout);
        }
        if let Some((low, high, max)) = self.write_limits {
            poller.set_write_limits(low, high, max);
        }
    }
}

/// How `run` runs a server given several workers.
pub(super) struct Workers<A: Acceptor> {
    count: usize,
    /// `run_on_workers::<A>`, made where `A: 'static` is known, so that
    /// `Server::run` needs no `'static` bound of its own (only a server
    /// with workers spawns tasks).
    run: fn(Server<A>, usize) -> BoxFuture<'static, ()>,
}

impl<A: Acceptor> Workers<A> {
    pub(super) fn count(&self) -> usize {
        self.count
    }

    pub(super) fn run(self, server: Server<A>) -> BoxFuture<'static, ()> {
        (self.run)(server, self.count)
    }
}

impl<A> Server<A>
where
    A: Acceptor + 'static,
    A::Handler: 'static,
{
    /// Spreads the connections over `n` workers: `n` pollers, each driven
    /// by a task of its own, so that a multi-thread runtime runs them on up
    /// to `n` cores. The default, 1, is one poller in the task that awaits
    /// [`run`](Server::run).
    ///
    /// - One accept task takes the clients of every listener and hands them
    ///   round-robin to the workers (a [`PollerGroup`]): the k-th client
    ///   accepted goes to worker `k % n`, skipping a worker that has 128
    ///   clients not yet taken in, or that is gone.
    /// - `on_listen` is called once per listener, before any worker starts;
    ///   `on_accept` on the worker that takes the client, one call at a time
    ///   (the acceptor is behind a mutex taken once per accepted
    ///   connection, never per frame).
    /// - Every other callback of a connection runs in its worker's task, in
    ///   order; [`ConnInfo::worker`](crate::ConnInfo::worker) says which.
    /// - A [`ConnHandle`](crate::ConnHandle) writes into the queue of its
    ///   connection's worker, from any task or worker: no lock is shared by
    ///   all workers.
    /// - [`ServerHandle::shutdown`](crate::ServerHandle::shutdown) stops every
    ///   worker at once; each flushes and closes its connections (each gets
    ///   `on_close`), and `run` returns once all have and the listeners are
    ///   closed.
    /// - A worker whose handler panics ends alone: its connections are
    ///   dropped (closed at once, without `on_close`), the others go on and
    ///   get the new clients, and `run` panics with the payload once every
    ///   worker has ended.
    ///
    /// The workers' tasks are spawned on the runtime that runs `run` (so
    /// the acceptor and handlers must be `'static`): on a multi-thread
    /// runtime they run in parallel; on a current-thread runtime it works
    /// the same, every worker on its one thread. The frame limit, close
    /// timeout and write limits apply to every worker, set before or after
    /// this call.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    ///
    /// # Examples
    ///
    /// Each client is greeted by the worker it landed on:
    ///
    /// ```
    /// use iochannels::{serve, Conn, Framing, Handler, PeerAddr};
    /// use tokio::io::{AsyncBufReadExt, BufReader};
    ///
    /// struct Greet;
    /// impl Handler for Greet {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         let _ = conn.write(format!("worker {}\n", conn.info().worker()));
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let server = serve(listener, Framing::Lines, |_: &PeerAddr| Greet).workers(2);
    /// let handle = server.handle();
    /// let running = tokio::spawn(server.run());
    ///
    /// let mut greetings = Vec::new();
    /// for _ in 0..2 {
    ///     let mut client = BufReader::new(tokio::net::TcpStream::connect(addr).await?);
    ///     let mut line = String::new();
    ///     client.read_line(&mut line).await?;
    ///     greetings.push(line);
    /// }
    /// assert_eq!(greetings, ["worker 0\n", "worker 1\n"]);
    ///
    /// handle.shutdown();
    /// running.await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        assert!(n > 0, "a server needs at least one worker");
        self.workers = (n > 1).then_some(Workers {
            count: n,
            run: run_on_workers::<A>,
        });
        self
    }
}

/// `run` with several workers (`on_listen` is done): the group, a task
/// per shard, and the wait for shutdown and for every task.
fn run_on_workers<A>(server: Server<A>, count: usize) -> BoxFuture<'static, ()>
where
    A: Acceptor + 'static,
    A::Handler: 'static,
{
    Box::pin(async move {
        let Server {
            acceptor,
            listeners,
            dispatch,
            settings,
            shared,
            ..
        } = server;
        let framing = dispatch.framing().clone();
        let mut group = PollerGroup::new(count, framing.clone());
        if let Some(n) = settings.max_frame_len {
            group.set_max_frame_len(n);
        }
        for listener in listeners {
            group.add_server(listener);
        }
        let group_handle = group.handle();
        let acceptor = Arc::new(Mutex::new(acceptor));
        // The workers' tasks and the accept task, awaited alike: `run`
        // returns once the listeners are closed too. Dropped (`run`
        // cancelled), the set aborts them all.
        let mut tasks = JoinSet::new();
        let (shards, accepting) = group.split();
        if let Some(accepting) = accepting {
            tasks.spawn(accepting);
        }
        // Shard i is worker i (`ConnInfo::worker`).
        for mut shard in shards {
            settings.apply(shard.poller_mut());
            tasks.spawn(run_shard(shard, Arc::clone(&acceptor), framing.clone()));
        }
        let mut panic = None;
        let mut stopping = false;
        loop {
            let step = poll_fn(|cx| {
                if !stopping {
                    shared.waker.register(cx.waker());
                    if shared.stop.load(Ordering::Acquire) {
                        return Poll::Ready(None);
                    }
                }
                tasks.poll_join_next(cx).map(Some)
            })
            .await;
            match step {
                None => {
                    stopping = true;
                    group_handle.shutdown();
                }
                Some(Some(ended)) => {
                    if let Err(error) = ended {
                        crate::trace::debug_event!("a server task panicked; the others go on");
                        panic = panic.or_else(|| payload(error));
                    }
                }
                Some(None) => break,
            }
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    })
}

/// A worker: its shard's events into callbacks until the group shuts down.
async fn run_shard<A: Acceptor>(mut shard: Shard, acceptor: Arc<Mutex<A>>, framing: Framing) {
    let mut dispatch = Dispatch::new(framing, shard.index());
    while let Some(event) = shard.next().await {
        dispatch
            .dispatch(shard.poller_mut(), event, |peer| {
                lock(&acceptor).on_accept(peer)
            })
            .await;
    }
    dispatch.finish_all().await;
}

fn lock<A>(acceptor: &Mutex<A>) -> MutexGuard<'_, A> {
    // Poisoned by a panic in another worker's `on_accept`: see the module docs.
    acceptor
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A panicked task's payload; `None` for a cancelled one (never: only
/// dropping the set aborts, and then nobody waits).
fn payload(error: JoinError) -> Option<Box<dyn std::any::Any + Send>> {
    error.try_into_panic().ok()
}
