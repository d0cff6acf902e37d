//! Datagram channels in a [`Poller`]: each packet is an
//! [`Event::Datagram`] with its sender, sends are queued per channel and go
//! out as the poller is polled, a packet is never merged or split.
//!
//! Datagram channels live in their own slab, apart from stream channels:
//! their ids carry [`DATAGRAM_ID`] in the index, their ready-queue keys
//! [`DATAGRAM_KEY`]. Unlike a stream, an error on one datagram (too long,
//! refused) does not end the channel: it is an [`Event::DatagramError`] and
//! the channel goes on. Only a close ends it, with [`Event::Closed`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::time::Sleep;

use super::channels::Limits;
use super::ready::{ReadyQueue, SlotWaker, DATAGRAM_KEY};
use super::slab::Slab;
use super::{ChannelId, Event, Poller};
use crate::{DatagramAddr, DatagramChannel, Error, Result};

/// Datagrams read from one channel per turn before the others get theirs.
const DATAGRAMS_PER_TURN: usize = 64;
/// Set in the index of every datagram channel's [`ChannelId`].
pub(crate) const DATAGRAM_ID: u32 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// `close`: sending what is queued, then `Closed`.
    Draining,
    /// `Closed` queued, waiting to be yielded.
    Reported,
}

#[derive(Debug)]
struct Entry {
    channel: DatagramChannel,
    notify: Arc<SlotWaker>,
    waker: Waker,
    /// Packets to send, each with its destination (`None`: the connected peer).
    out: VecDeque<(Bytes, Option<DatagramAddr>)>,
    out_bytes: usize,
    state: State,
    deadline: Option<Pin<Box<Sleep>>>,
}

/// Every datagram channel of a poller.
#[derive(Debug)]
pub(crate) struct Datagrams {
    slots: Slab<Entry>,
    visible: usize,
    closing: usize,
    queue: Arc<ReadyQueue>,
}

pub(crate) fn is_datagram(id: ChannelId) -> bool {
    id.index & DATAGRAM_ID != 0
}

impl Datagrams {
    pub(crate) fn new(queue: Arc<ReadyQueue>) -> Datagrams {
        Datagrams {
            slots: Slab::new(),
            visible: 0,
            closing: 0,
            queue,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.visible
    }

    pub(crate) fn closing(&self) -> usize {
        self.closing
    }

    fn insert(&mut self, channel: DatagramChannel) -> ChannelId {
        let queue = &self.queue;
        let (index, generation) = self.slots.insert_with(|index| {
            let (notify, waker) = SlotWaker::new(queue, DATAGRAM_KEY | index);
            notify.notify();
            Entry {
                channel,
                notify,
                waker,
                out: VecDeque::new(),
                out_bytes: 0,
                state: State::Open,
                deadline: None,
            }
        });
        self.visible += 1;
        ChannelId {
            index: DATAGRAM_ID | index,
            generation,
        }
    }

    fn get_mut(&mut self, id: ChannelId) -> Option<&mut Entry> {
        self.slots.get_mut(id.index & !DATAGRAM_ID, id.generation)
    }

    fn free_slot(&mut self, index: u32) -> Option<Entry> {
        let entry = self.slots.remove(index)?;
        if entry.state == State::Draining {
            self.closing -= 1;
        }
        self.visible -= 1;
        Some(entry)
    }

    pub(crate) fn remove(&mut self, id: ChannelId) -> Option<DatagramChannel> {
        self.get_mut(id)?;
        self.free_slot(id.index & !DATAGRAM_ID).map(|e| e.channel)
    }

    pub(crate) fn send(
        &mut self,
        id: ChannelId,
        data: Bytes,
        to: Option<DatagramAddr>,
        limits: &Limits,
    ) -> Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        if entry.state != State::Open {
            return Err(Error::Closed);
        }
        if entry.out_bytes + data.len() > limits.max_queued {
            return Err(Error::QueueFull {
                limit: limits.max_queued,
            });
        }
        entry.out_bytes += data.len();
        entry.out.push_back((data, to));
        entry.notify.notify();
        Ok(())
    }

    pub(crate) fn close(&mut self, id: ChannelId, limits: &Limits) -> Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        if entry.state == State::Open {
            entry.state = State::Draining;
            entry.deadline = Some(Box::pin(tokio::time::sleep(limits.close_timeout)));
            entry.notify.notify();
            self.closing += 1;
        }
        Ok(())
    }

    pub(crate) fn abort(&mut self, id: ChannelId, events: &mut VecDeque<Event>) -> Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        let state = entry.state;
        entry.out.clear();
        entry.out_bytes = 0;
        entry.channel.close();
        entry.state = State::Reported;
        if state != State::Reported {
            if state == State::Draining {
                self.closing -= 1;
            }
            events.push_back(Event::Closed { id, error: None });
        }
        Ok(())
    }

    /// `close_all`: every open channel drains, then closes.
    pub(crate) fn close_every(&mut self, limits: &Limits) {
        for index in self.slots.indices() {
            let open = match self.slots.at_mut(index) {
                Some((generation, e)) if e.state == State::Open => Some(generation),
                _ => None,
            };
            if let Some(generation) = open {
                let id = ChannelId {
                    index: DATAGRAM_ID | index,
                    generation,
                };
                let _ = self.close(id, limits);
            }
        }
    }

    /// Called as `id`'s `Closed` is yielded, and by `close_all` for all reported.
    pub(crate) fn finalize(&mut self, id: ChannelId) {
        if self.get_mut(id).is_some_and(|e| e.state == State::Reported) {
            self.free_slot(id.index & !DATAGRAM_ID);
        }
    }

    pub(crate) fn free_reported(&mut self) {
        for index in self.slots.matching(|e| e.state == State::Reported) {
            self.free_slot(index);
        }
    }

    /// One turn of datagram slot `index`: send what is queued, receive up to
    /// a budget of packets, finish a close.
    pub(crate) fn poll_slot(&mut self, index: u32, events: &mut VecDeque<Event>, limits: &Limits) {
        let Some((generation, entry)) = self.slots.at_mut(index) else {
            return;
        };
        let id = ChannelId {
            index: DATAGRAM_ID | index,
            generation,
        };
        entry.notify.clear();
        if entry.state == State::Reported {
            return;
        }
        let mut cx = Context::from_waker(&entry.waker);
        let cx = &mut cx;
        let deadline_passed = entry
            .deadline
            .as_mut()
            .is_some_and(|d| d.as_mut().poll(cx).is_ready());
        while let Some((data, to)) = entry.out.front() {
            let sent = match to {
                Some(addr) => entry.channel.poll_send_to(cx, data, addr),
                None => entry.channel.poll_send(cx, data),
            };
            match sent {
                Poll::Pending => break,
                Poll::Ready(result) => {
                    entry.out_bytes -= data.len();
                    entry.out.pop_front();
                    if let Err(error) = result {
                        events.push_back(Event::DatagramError { id, error });
                    }
                }
            }
        }
        match entry.state {
            State::Open => {
                for _ in 0..DATAGRAMS_PER_TURN {
                    match entry.channel.poll_recv_from(cx) {
                        Poll::Pending => return,
                        Poll::Ready(Ok((data, peer))) => {
                            events.push_back(Event::Datagram { id, data, peer })
                        }
                        Poll::Ready(Err(Error::Closed)) => {
                            events.push_back(Event::Closed { id, error: None });
                            entry.state = State::Reported;
                            return;
                        }
                        Poll::Ready(Err(error)) => {
                            events.push_back(Event::DatagramError { id, error })
                        }
                    }
                }
                entry.notify.notify();
            }
            State::Draining if entry.out.is_empty() || deadline_passed => {
                let unsent = entry.out.len();
                entry.out.clear();
                entry.out_bytes = 0;
                entry.channel.close();
                entry.state = State::Reported;
                entry.deadline = None;
                self.closing -= 1;
                let error = (unsent > 0).then(|| {
                    Error::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "close gave up after {:?} with {unsent} datagrams unsent",
                            limits.close_timeout
                        ),
                    ))
                });
                events.push_back(Event::Closed { id, error });
            }
            State::Draining | State::Reported => {}
        }
    }
}

impl Poller {
    /// Registers a datagram channel: each packet it receives comes as
    /// [`Event::Datagram`] with its sender's address; an error on one packet
    /// as [`Event::DatagramError`], after which the channel goes on.
    ///
    /// [`send_to`](Poller::send_to) queues a packet for an address;
    /// [`write`](Poller::write) queues one for a connected channel's peer;
    /// [`close`](Poller::close), [`abort`](Poller::abort) and
    /// [`unregister_datagram`](Poller::unregister_datagram) work as for
    /// streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{DatagramChannel, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let server_addr = server.local_addr()?;
    /// let mut poller = Poller::new(Framing::Lines);
    /// let id = poller.register_datagram(server);
    ///
    /// let mut client = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// client.send_to(b"ping", server_addr.clone()).await?;
    /// match poller.next().await {
    ///     Some(Event::Datagram { id: from, data, peer }) => {
    ///         assert_eq!((from, &data[..]), (id, &b"ping"[..]));
    ///         poller.send_to(id, &b"pong"[..], peer)?;
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// let _ = poller.poll(Some(std::time::Duration::from_millis(10))).await;
    /// assert_eq!(&client.recv_from().await?.0[..], b"pong");
    /// # Ok(())
    /// # }
    /// ```
    pub fn register_datagram(&mut self, channel: DatagramChannel) -> ChannelId {
        self.datagrams.insert(channel)
    }

    /// Queues one packet to `to` on datagram channel `id`; never waits.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if `id` is not a registered datagram channel or is
    /// closing; [`Error::QueueFull`] past the write limit. A send that fails
    /// later (bad address, refused) comes as [`Event::DatagramError`].
    pub fn send_to(
        &mut self,
        id: ChannelId,
        data: impl Into<Bytes>,
        to: impl Into<DatagramAddr>,
    ) -> Result<()> {
        if !is_datagram(id) {
            return Err(Error::Closed);
        }
        self.datagrams
            .send(id, data.into(), Some(to.into()), &self.limits)
    }

    /// Takes a datagram channel out of the poller; packets still queued are
    /// dropped. `None`, silently, if `id` is not registered.
    pub fn unregister_datagram(&mut self, id: ChannelId) -> Option<DatagramChannel> {
        if !is_datagram(id) {
            return None;
        }
        self.datagrams.remove(id)
    }
}
