//! The server's event loop: one [`Event`] at a time into callbacks, frames
//! cut lazily per connection, and `on_write` from the poller's queues.
//!
//! Per connection (`Slot`): `buf` holds received bytes not yet cut; frames
//! are cut one at a time and each `on_read` returns before the next is cut,
//! so a framing changed in a callback applies to the next frame. `watched`
//! says the connection is in `awaiting` (it wrote; its queue was not yet
//! seen empty) or in `flushed` (seen empty: `on_write` is due, once its
//! queue is checked empty again at dispatch, since a callback may have
//! written in between).

use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::StreamExt;
use tokio_util::codec::Decoder;

use super::Server;
use crate::handler::conn::{Conn, ConnState};
use crate::handler::info::ConnInfo;
use crate::handler::{Acceptor, Handler};
use crate::{ChannelId, Error, Event, FrameCodec, Poller};

/// One connection of a server.
pub(super) struct Slot<H> {
    handler: H,
    info: ConnInfo,
    state: ConnState,
    codec: FrameCodec,
    /// Received bytes not yet cut into frames.
    buf: BytesMut,
    /// In `awaiting` or `flushed` now.
    watched: bool,
}

impl<H> Slot<H> {
    /// The handler, and the `Conn` its callback acts through.
    fn split<'a>(&'a mut self, poller: &'a mut Poller, id: ChannelId) -> (&'a mut H, Conn<'a>) {
        let conn = Conn::on_poller(&self.info, &mut self.state, poller, id, &mut self.codec);
        (&mut self.handler, conn)
    }
}

/// What the driver does next.
enum Step {
    Event(Event),
    /// `flushed` has connections due for `on_write`.
    Flushed,
    Shutdown,
}

impl<A: Acceptor> Server<A> {
    /// Dispatches events and `on_write`s until shutdown is asked for.
    pub(super) async fn serve_until_shutdown(&mut self) {
        loop {
            while let Some(id) = self.flushed.pop_front() {
                self.dispatch_write(id).await;
            }
            match poll_fn(|cx| self.poll_step(cx)).await {
                Step::Event(event) => self.dispatch(event).await,
                Step::Flushed => {}
                Step::Shutdown => break,
            }
        }
    }

    /// `close_all`, then `on_close` for every connection.
    pub(super) async fn close_everything(&mut self) {
        self.poller.close_all().await;
        while let Some(event) = self.poller.next().await {
            if let Event::Closed { id, error } = event {
                if let Some(slot) = self.conns.remove(&id) {
                    finish(slot, error).await;
                }
            }
        }
        for (_, slot) in self.conns.drain() {
            finish(slot, None).await;
        }
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        self.shared.waker.register(cx.waker());
        if self.shared.stop.load(Ordering::Acquire) {
            return Poll::Ready(Step::Shutdown);
        }
        match self.poller.poll_next_unpin(cx) {
            Poll::Ready(Some(event)) => {
                self.since_check += 1;
                if self.since_check > self.awaiting.len() {
                    self.check_flushed();
                }
                Poll::Ready(Step::Event(event))
            }
            // Only after `close_all`, which only shutdown calls.
            Poll::Ready(None) => Poll::Ready(Step::Shutdown),
            Poll::Pending => {
                // The poller's turns sent what they could: see whose queue emptied.
                self.check_flushed();
                if self.flushed.is_empty() {
                    Poll::Pending
                } else {
                    Poll::Ready(Step::Flushed)
                }
            }
        }
    }

    /// Moves the connections whose queue is empty from `awaiting` to `flushed`.
    fn check_flushed(&mut self) {
        self.since_check = 0;
        let poller = &mut self.poller;
        let flushed = &mut self.flushed;
        let conns = &mut self.conns;
        self.awaiting.retain(|&id| match poller.queued(id) {
            Some(0) => {
                flushed.push_back(id);
                false
            }
            Some(_) => true,
            None => {
                if let Some(slot) = conns.get_mut(&id) {
                    slot.watched = false;
                }
                false
            }
        });
    }

    async fn dispatch(&mut self, event: Event) {
        match event {
            Event::Accepted { id, peer, .. } => {
                let mut codec = FrameCodec::new(self.framing.clone());
                codec.set_max_frame_len(self.max_frame_len);
                let handler = self.acceptor.on_accept(&peer);
                let slot = self.conns.entry(id).or_insert(Slot {
                    handler,
                    info: ConnInfo::new(Some(peer)),
                    state: ConnState::default(),
                    codec,
                    buf: BytesMut::new(),
                    watched: false,
                });
                let (handler, mut conn) = slot.split(&mut self.poller, id);
                handler.on_connect(&mut conn).await;
                self.watch(id);
            }
            Event::Data { id, data } => {
                let Some(slot) = self.conns.get_mut(&id) else {
                    return;
                };
                if slot.state.closing {
                    // Read before the close: no more frames are delivered.
                    return;
                }
                if slot.buf.is_empty() {
                    slot.buf = BytesMut::from(data);
                } else {
                    slot.buf.extend_from_slice(&data);
                }
                read_frames(slot, &mut self.poller, id, false).await;
                if slot.buf.is_empty() {
                    // Idle connections hold no read buffer.
                    slot.buf = BytesMut::new();
                }
                self.watch(id);
            }
            // Reported for operators; the server goes on accepting.
            Event::AcceptError { .. } | Event::Flushed { .. } => {}
            Event::Closed { id, error } => {
                let Some(mut slot) = self.conns.remove(&id) else {
                    return;
                };
                if error.is_none() {
                    // A clean end: the last partial frame, as a FramedChannel gives it.
                    read_frames(&mut slot, &mut self.poller, id, true).await;
                }
                finish(slot, error).await;
            }
            // The server registers no datagram channels.
            Event::Datagram { .. } | Event::DatagramError { .. } => {}
        }
    }

    /// After a callback: a connection that wrote waits for its queue to empty.
    fn watch(&mut self, id: ChannelId) {
        if let Some(slot) = self.conns.get_mut(&id) {
            if slot.state.wrote && !slot.state.closing && !slot.watched {
                slot.watched = true;
                self.awaiting.push(id);
            }
        }
    }

    async fn dispatch_write(&mut self, id: ChannelId) {
        let Some(slot) = self.conns.get_mut(&id) else {
            return;
        };
        slot.watched = false;
        if slot.state.closing || !slot.state.wrote {
            return;
        }
        if self.poller.queued(id) != Some(0) {
            // Written to again since it was seen empty.
            self.watch(id);
            return;
        }
        slot.state.wrote = false;
        let (handler, mut conn) = slot.split(&mut self.poller, id);
        handler.on_write(&mut conn).await;
        self.watch(id);
    }
}

/// Cuts frames off the connection's buffer one at a time, each delivered to
/// `on_read` before the next is cut, until none is complete or the
/// connection is closing. A frame error ends the connection (as in a
/// Poller): it is closed gracefully and the error kept for `on_close`.
async fn read_frames<H: Handler>(
    slot: &mut Slot<H>,
    poller: &mut Poller,
    id: ChannelId,
    eof: bool,
) {
    while !slot.state.closing {
        let decoded = if eof {
            slot.codec.decode_eof(&mut slot.buf)
        } else {
            slot.codec.decode(&mut slot.buf)
        };
        match decoded {
            Ok(Some(frame)) => {
                let (handler, mut conn) = slot.split(poller, id);
                handler.on_read(&mut conn, frame).await;
            }
            Ok(None) => return,
            Err(e) => {
                slot.state.error = Some(e);
                slot.state.closing = true;
                let _ = poller.close(id);
            }
        }
    }
}

async fn finish<H: Handler>(mut slot: Slot<H>, error: Option<Error>) {
    let error = slot.state.error.take().or(error);
    slot.handler.on_close(&slot.info, error).await;
}
