//! The server's event loop: one [`Event`] at a time into callbacks, on one
//! poller (the single server's, or one worker's shard). It cuts no frames
//! and copies no bytes: the poller cuts each frame as it is yielded, and
//! the next is only asked for once the callback has returned.
//!
//! [`Dispatch`] owns one poller's connections; the poller and the way to
//! make a handler are lent per event, so the same loop runs under
//! [`Server::run`](super::Server::run) with one worker and in each shard's
//! task with several (`server/workers.rs`).
//!
//! Per connection (`Slot`): the handler, its `ConnState`, the framing last
//! set (a mirror for `Conn::framing`), and `flush_asked`:
//!
//! | `wrote` | `flush_asked` | meaning | leaves when |
//! |---------|---------------|---------|-------------|
//! | no  | no  | nothing of the handler's waits | a callback writes → `notify_flushed`, (yes, yes); with `WANTS_ON_WRITE` false, never |
//! | yes | yes | an `Event::Flushed` is coming  | it comes with the queue empty → `on_write`, (no, no), or a callback writes more then (yes, yes) again; the connection closes → `Closed` |
//!
//! `Flushed` only comes once everything queued for the connection has been
//! handed to the OS; one that was queued before a later write (the poller
//! queues events a turn ahead) finds the queue not empty and asks again.

use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::StreamExt;

use super::Server;
use crate::handler::conn::{Conn, ConnState};
use crate::handler::info::ConnInfo;
use crate::handler::{Acceptor, Handler};
use crate::{ChannelId, ChannelMap, Error, Event, Framing, PeerAddr, Poller};

/// One connection of a server.
struct Slot<H> {
    handler: H,
    info: ConnInfo,
    state: ConnState,
    /// The framing last given to the poller for this connection.
    framing: Framing,
    /// `notify_flushed` was asked and its `Flushed` not yet taken.
    flush_asked: bool,
}

impl<H> Slot<H> {
    /// The handler, and the `Conn` its callback acts through.
    fn split<'a>(&'a mut self, poller: &'a mut Poller, id: ChannelId) -> (&'a mut H, Conn<'a>) {
        let conn = Conn::on_poller(&self.info, &mut self.state, poller, id, &mut self.framing);
        (&mut self.handler, conn)
    }
}

/// What the one-worker server does next.
enum Step {
    Event(Event),
    Shutdown,
}

// ===== impl Server (one worker) =====

impl<A: Acceptor> Server<A> {
    /// Dispatches events until shutdown is asked for.
    pub(super) async fn serve_until_shutdown(&mut self) {
        while let Step::Event(event) = poll_fn(|cx| self.poll_step(cx)).await {
            let acceptor = &mut self.acceptor;
            self.dispatch
                .dispatch(&mut self.poller, event, |peer| acceptor.on_accept(peer))
                .await;
        }
    }

    /// `close_all`, then `on_close` for every connection.
    pub(super) async fn close_everything(&mut self) {
        self.poller.close_all().await;
        while let Some(event) = self.poller.next().await {
            if let Event::Closed { id, error } = event {
                self.dispatch.closed(id, error).await;
            }
        }
        self.dispatch.finish_all().await;
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        self.shared.waker.register(cx.waker());
        if self.shared.stop.load(Ordering::Acquire) {
            return Poll::Ready(Step::Shutdown);
        }
        match self.poller.poll_next_unpin(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Step::Event(event)),
            // Only after `close_all`, which only shutdown calls.
            Poll::Ready(None) => Poll::Ready(Step::Shutdown),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ===== impl Dispatch =====

/// The connections of one poller and their handlers.
pub(super) struct Dispatch<H> {
    conns: ChannelMap<Slot<H>>,
    /// What new connections start with (the poller's framing too).
    framing: Framing,
    /// The worker (shard index) these connections run on, for `Conn::worker`.
    worker: usize,
}

impl<H: Handler> Dispatch<H> {
    pub(super) fn new(framing: Framing, worker: usize) -> Dispatch<H> {
        Dispatch {
            conns: ChannelMap::new(),
            framing,
            worker,
        }
    }

    pub(super) fn framing(&self) -> &Framing {
        &self.framing
    }

    pub(super) fn len(&self) -> usize {
        self.conns.len()
    }

    /// The callbacks for one event of `poller`; `accept` makes the handler
    /// of an accepted connection (`Acceptor::on_accept`).
    pub(super) async fn dispatch(
        &mut self,
        poller: &mut Poller,
        event: Event,
        accept: impl FnOnce(&PeerAddr) -> H,
    ) {
        match event {
            Event::Accepted { id, peer, .. } => {
                let handler = accept(&peer);
                self.conns.insert(
                    id,
                    Slot {
                        handler,
                        info: ConnInfo::on_worker(Some(peer), self.worker),
                        state: ConnState::default(),
                        framing: self.framing.clone(),
                        flush_asked: false,
                    },
                );
                let Some(slot) = self.conns.get_mut(id) else {
                    return;
                };
                let (handler, mut conn) = slot.split(poller, id);
                handler.on_connect(&mut conn).await;
                self.after_callback(poller, id);
            }
            Event::Data { id, data } => {
                // This frame, then the rest of the connection's burst, frame
                // by frame (each cut after the callback before it, so a
                // framing it set applies), without a trip through the
                // poller's stream.
                let mut next = Some(data);
                while let Some(data) = next.take() {
                    let Some(slot) = self.open(id) else {
                        return;
                    };
                    let (handler, mut conn) = slot.split(poller, id);
                    handler.on_read(&mut conn, data).await;
                    self.after_callback(poller, id);
                    if self.open(id).is_some() {
                        next = poller.take_frame(id);
                    }
                }
            }
            Event::Flushed { id } => self.dispatch_write(poller, id).await,
            Event::Closed { id, error } => self.closed(id, error).await,
            // Reported for operators; the server goes on accepting. The
            // server registers no datagram channels.
            Event::AcceptError { .. } | Event::Datagram { .. } | Event::DatagramError { .. } => {}
        }
    }

    /// `on_close` for connection `id`, if it is one of ours.
    pub(super) async fn closed(&mut self, id: ChannelId, error: Option<Error>) {
        if let Some(slot) = self.conns.remove(id) {
            finish(slot, error).await;
        }
    }

    /// `on_close` (no error) for every connection left, once the poller
    /// has ended.
    pub(super) async fn finish_all(&mut self) {
        for (_, slot) in self.conns.drain().collect::<Vec<_>>() {
            finish(slot, None).await;
        }
    }

    /// Connection `id`, unless it is gone or closing: an abort leaves the
    /// channel in the poller a moment, and no frame is delivered after a close.
    fn open(&mut self, id: ChannelId) -> Option<&mut Slot<H>> {
        self.conns.get_mut(id).filter(|slot| !slot.state.closing)
    }

    /// After a callback: if it wrote, ask the poller to say when all is sent.
    fn after_callback(&mut self, poller: &mut Poller, id: ChannelId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if H::WANTS_ON_WRITE && slot.state.wrote && !slot.state.closing && !slot.flush_asked {
            // Err only if the poller is ending the channel: `Closed` is coming.
            slot.flush_asked = poller.notify_flushed(id).is_ok();
        }
    }

    async fn dispatch_write(&mut self, poller: &mut Poller, id: ChannelId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        slot.flush_asked = false;
        if slot.state.closing || !slot.state.wrote {
            return;
        }
        if poller.queued(id) != Some(0) {
            // Written to again after the poller queued this event: wait for that too.
            self.after_callback(poller, id);
            return;
        }
        slot.state.wrote = false;
        let (handler, mut conn) = slot.split(poller, id);
        handler.on_write(&mut conn).await;
        self.after_callback(poller, id);
    }
}

async fn finish<H: Handler>(mut slot: Slot<H>, error: Option<Error>) {
    let error = slot.state.error.take().or(error);
    slot.handler.on_close(&slot.info, error).await;
}
