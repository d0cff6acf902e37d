//! The server's event loop: one [`Event`] at a time into callbacks. It cuts
//! no frames and copies no bytes: the poller cuts each frame as it is
//! yielded, and the next is only asked for once the callback has returned.
//!
//! Per connection (`Slot`): the handler, its `ConnState`, the framing last
//! set (a mirror for `Conn::framing`), and `flush_asked`:
//!
//! | `wrote` | `flush_asked` | meaning | leaves when |
//! |---------|---------------|---------|-------------|
//! | no  | no  | nothing of the handler's waits | a callback writes → `notify_flushed`, (yes, yes) |
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
use crate::{ChannelId, Error, Event, Framing, Poller};

/// One connection of a server.
pub(super) struct Slot<H> {
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

/// What the driver does next.
enum Step {
    Event(Event),
    Shutdown,
}

impl<A: Acceptor> Server<A> {
    /// Dispatches events until shutdown is asked for.
    pub(super) async fn serve_until_shutdown(&mut self) {
        while let Step::Event(event) = poll_fn(|cx| self.poll_step(cx)).await {
            self.dispatch(event).await;
        }
    }

    /// `close_all`, then `on_close` for every connection.
    pub(super) async fn close_everything(&mut self) {
        self.poller.close_all().await;
        while let Some(event) = self.poller.next().await {
            if let Event::Closed { id, error } = event {
                if let Some(slot) = self.conns.remove(id) {
                    finish(slot, error).await;
                }
            }
        }
        for (_, slot) in self.conns.drain().collect::<Vec<_>>() {
            finish(slot, None).await;
        }
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

    async fn dispatch(&mut self, event: Event) {
        match event {
            Event::Accepted { id, peer, .. } => {
                let handler = self.acceptor.on_accept(&peer);
                self.conns.insert(
                    id,
                    Slot {
                        handler,
                        info: ConnInfo::new(Some(peer)),
                        state: ConnState::default(),
                        framing: self.framing.clone(),
                        flush_asked: false,
                    },
                );
                let Some(slot) = self.conns.get_mut(id) else {
                    return;
                };
                let (handler, mut conn) = slot.split(&mut self.poller, id);
                handler.on_connect(&mut conn).await;
                self.after_callback(id);
            }
            Event::Data { id, data } => {
                let Some(slot) = self.conns.get_mut(id) else {
                    return;
                };
                if slot.state.closing {
                    // An abort left the channel in the poller a moment; no
                    // frame is delivered after a close.
                    return;
                }
                let (handler, mut conn) = slot.split(&mut self.poller, id);
                handler.on_read(&mut conn, data).await;
                self.after_callback(id);
                // The rest of this connection's burst, frame by frame (each
                // cut after the callback before it, so a framing it set
                // applies), without a trip through the poller's stream.
                loop {
                    let Some(slot) = self.conns.get_mut(id) else {
                        return;
                    };
                    if slot.state.closing {
                        return;
                    }
                    let Some(data) = self.poller.take_frame(id) else {
                        return;
                    };
                    let (handler, mut conn) = slot.split(&mut self.poller, id);
                    handler.on_read(&mut conn, data).await;
                    self.after_callback(id);
                }
            }
            Event::Flushed { id } => self.dispatch_write(id).await,
            Event::Closed { id, error } => {
                if let Some(slot) = self.conns.remove(id) {
                    finish(slot, error).await;
                }
            }
            // Reported for operators; the server goes on accepting. The
            // server registers no datagram channels.
            Event::AcceptError { .. } | Event::Datagram { .. } | Event::DatagramError { .. } => {}
        }
    }

    /// After a callback: if it wrote, ask the poller to say when all is sent.
    fn after_callback(&mut self, id: ChannelId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        if slot.state.wrote && !slot.state.closing && !slot.flush_asked {
            // Err only if the poller is ending the channel: `Closed` is coming.
            slot.flush_asked = self.poller.notify_flushed(id).is_ok();
        }
    }

    async fn dispatch_write(&mut self, id: ChannelId) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        slot.flush_asked = false;
        if slot.state.closing || !slot.state.wrote {
            return;
        }
        if self.poller.queued(id) != Some(0) {
            // Written to again after the poller queued this event: wait for that too.
            self.after_callback(id);
            return;
        }
        slot.state.wrote = false;
        let (handler, mut conn) = slot.split(&mut self.poller, id);
        handler.on_write(&mut conn).await;
        self.after_callback(id);
    }
}

async fn finish<H: Handler>(mut slot: Slot<H>, error: Option<Error>) {
    let error = slot.state.error.take().or(error);
    slot.handler.on_close(&slot.info, error).await;
}
