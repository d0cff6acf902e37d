//! The turn loop behind the [`Poller`]'s `Stream`: what one turn polls
//! (the channels and servers woken since the last), accepting, and handing
//! events out (a channel's frames cut one at a time as they are yielded).

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};

use super::channel_turn::Cut;
use super::datagrams::is_datagram;
use super::ready::{DATAGRAM_KEY, SERVER_KEY};
use super::server::Accept;
use super::{
    ChannelId, Event, Poller, ServerId, ACCEPTS_PER_TURN, EMPTY_STEPS, MAX_EVENTS_PER_TURN,
};

/// Room for at least this many events in a new batch from `poll` (it grows
/// to `MAX_EVENTS_PER_TURN`): past the few reallocations of a tiny `Vec`.
const BATCH_CAPACITY: usize = 64;

/// Frames cut from one channel in a row before the next channel's turn.
const FRAMES_PER_RUN: u32 = 64;

/// What one [`Poller::turn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Turn {
    /// Nothing was woken.
    Idle,
    /// Every woken key was polled (or enough events were gathered).
    Worked,
    /// The cooperative budget ran out; the rest waits for the next turn
    /// (the task is woken to come back after the other tasks).
    OutOfBudget,
    /// `max_events` events are waiting to be handed out; the rest waits
    /// for the next turn.
    Full,
}

impl Poller {
    /// The seed's `poll`: waits up to `timeout` (for ever if `None`) for an
    /// event, then returns it with every other event ready now. An empty
    /// `Vec` means the timeout passed (or the poller has ended).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: events not returned stay queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// poller.register(channel.framed(Framing::Lines));
    /// assert!(poller.poll(Some(Duration::from_millis(10))).await.is_empty());
    /// peer.put("one\ntwo\nthree\n");
    /// assert_eq!(poller.poll(None).await.len(), 3);
    /// # }
    /// ```
    pub async fn poll(&mut self, timeout: Option<Duration>) -> Vec<Event> {
        let first = match timeout {
            Some(t) => tokio::time::timeout(t, self.next()).await.ok().flatten(),
            None => self.next().await,
        };
        let Some(first) = first else {
            return Vec::new();
        };
        // Room for a whole batch (1,024 events of 80 bytes) once the last
        // one outgrew 64: a busy poller's batches vary in size up to that,
        // and growing one copied its events again in each reallocation.
        let capacity = if self.batch_len > BATCH_CAPACITY {
            MAX_EVENTS_PER_TURN
        } else {
            BATCH_CAPACITY
        };
        let mut batch = Vec::with_capacity(capacity);
        batch.push(first);
        // The rest of what is ready now, in one poll with the task's own
        // context (a `next().now_or_never()` per event built a future and
        // a no-op waker each time).
        std::future::poll_fn(|cx| {
            while batch.len() < MAX_EVENTS_PER_TURN {
                match Pin::new(&mut *self).poll_next(cx) {
                    Poll::Ready(Some(event)) => batch.push(event),
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            Poll::Ready(())
        })
        .await;
        self.batch_len = batch.len();
        batch
    }

    /// One turn: polls every channel and server woken since the last turn,
    /// gathering their events.
    ///
    /// Stops early, leaving the rest queued, once `max_events` events are
    /// waiting or the task's cooperative budget is spent: past that every
    /// read would only return `Pending` and wake itself again, a wasted poll
    /// per channel. A turn that stopped for `max_events` says
    /// [`Turn::Full`]: only handing events out makes room, so calling it
    /// again at once would find the same keys and do nothing.
    pub(super) fn turn(&mut self, max_events: usize) -> Turn {
        crate::trace::count!(self.counts.turns += 1);
        // For handles to read; with none alive nobody would (a new handle
        // publishes as it is made).
        crate::trace::count!(if std::sync::Arc::strong_count(&self.shared) > 1 {
            self.shared.publish(self.totals());
        });
        self.apply_commands();
        if self.next_key == self.keys.len() {
            // The last turn's keys are all polled: take what was woken since.
            self.keys.clear();
            self.next_key = 0;
            self.queue.take(&mut self.keys);
            if self.keys.is_empty() {
                return Turn::Idle;
            }
        }
        let keys = std::mem::take(&mut self.keys);
        let mut outcome = Turn::Worked;
        while let Some(&key) = keys.get(self.next_key) {
            let out_of_budget = !tokio::task::coop::has_budget_remaining();
            if out_of_budget || self.events.len() + self.frames.len() >= max_events {
                // The rest wait in `keys` (their flags are still set, so
                // new wakes do not queue them twice), first next turn.
                if out_of_budget {
                    outcome = Turn::OutOfBudget;
                    self.queue.wake_task();
                } else {
                    outcome = Turn::Full;
                }
                break;
            }
            self.next_key += 1;
            if key & SERVER_KEY != 0 {
                self.accept(key & !SERVER_KEY);
            } else if key & DATAGRAM_KEY != 0 {
                self.datagrams
                    .poll_slot(key & !DATAGRAM_KEY, &mut self.events, &self.limits);
            } else {
                self.channels
                    .poll_slot(key, &mut self.events, &mut self.frames, &self.limits);
            }
        }
        self.keys = keys;
        outcome
    }

    /// Accepts up to a budget of clients from server `index`.
    fn accept(&mut self, index: u32) {
        let Some((generation, (server, notify, waker))) = self.servers.at_mut(index) else {
            return;
        };
        let server_id = ServerId { index, generation };
        notify.clear();
        let mut cx = Context::from_waker(waker);
        for _ in 0..ACCEPTS_PER_TURN {
            match server.poll_accept(&mut cx) {
                Poll::Ready(Accept::Failed(error, retry_in)) => {
                    crate::trace::count!(self.counts.accept_errors += 1);
                    let error: crate::Error = error.into();
                    crate::trace::debug_event!(server = %server_id, %error, ?retry_in, "accept failed");
                    self.events.push_back(Event::AcceptError {
                        server: server_id,
                        error,
                        retry_in,
                    });
                    if retry_in.is_some() {
                        // Paused: its timer wakes it.
                        return;
                    }
                }
                Poll::Ready(Accept::Client(channel, peer)) => {
                    let mut framed = channel.framed(self.framing.clone());
                    framed.set_max_frame_len(self.max_frame_len);
                    let id = self.channels.insert(framed);
                    crate::trace::count!(self.counts.accepted += 1);
                    crate::trace::debug_event!(server = %server_id, %id, %peer, "accepted");
                    self.idle.watch(id, &mut self.channels);
                    self.events.push_back(Event::Accepted {
                        server: server_id,
                        id,
                        peer,
                    });
                }
                Poll::Pending => return,
            }
        }
        notify.notify();
    }
}

impl Stream for Poller {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = self.get_mut();
        for _ in 0..EMPTY_STEPS {
            if let Some(event) = this.events.pop_front() {
                return Poll::Ready(Some(this.hand_out(event)));
            }
            if !this.turn_due {
                if let Some(&id) = this.frames.front() {
                    match this.cut_frame(id) {
                        // The hot path: built in place, nothing else to do.
                        Some(Cut::Data(data)) => {
                            crate::trace::count!(this.counts.events += 1);
                            return Poll::Ready(Some(Event::Data { id, data }));
                        }
                        Some(Cut::End(error)) => {
                            return Poll::Ready(Some(this.hand_out(Event::Closed { id, error })));
                        }
                        None => continue,
                    }
                }
            }
            // Nothing to hand out, or a run of frames ended: a turn lets in
            // what was woken meanwhile (accepts, other channels, writes), so
            // one channel with endless buffered frames starves nobody.
            this.turn_due = false;
            if this.ended {
                return Poll::Ready(None);
            }
            // A turn spends one unit of tokio's cooperative budget (reads
            // spend theirs too): at most 64 frames of a channel go between
            // turns, so the task still yields after a bounded amount of
            // work, without a trip through the scheduler every 128 events.
            // Spent out: woken at once, back after the other tasks.
            let coop = ready!(tokio::task::coop::poll_proceed(cx));
            this.idle.poll(cx, &mut this.channels, &this.limits);
            // Before the turn takes the woken keys: one woken after it wakes
            // us. (Not needed while events are there to hand out.)
            this.queue.register(cx.waker());
            let turn = this.turn(MAX_EVENTS_PER_TURN);
            // (Handles' commands applied by the turn may have queued events.)
            if this.events.is_empty() && this.frames.is_empty() {
                match turn {
                    // The unit comes back as `coop` drops.
                    Turn::Idle => return Poll::Pending,
                    // The turn woke the task: it comes back after the others ran.
                    Turn::OutOfBudget => return Poll::Pending,
                    Turn::Worked | Turn::Full => {}
                }
            }
            coop.made_progress();
        }
        // Steps that only moved writes or found nothing to cut: let others
        // run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Poller {
    /// Cuts the next frame of `id`, the front of `frames`, which it stays
    /// while its run of frames lasts (its buffer is warm in the cache; no
    /// pop and push per frame); then it goes to the back, with a turn due,
    /// or off the queue when it had nothing to give (`None`) or ended.
    #[inline]
    fn cut_frame(&mut self, id: ChannelId) -> Option<Cut> {
        let Some(cut) = self.channels.next_frame(id) else {
            // Nothing buffered: the read registered the channel's waker.
            self.frames.pop_front();
            self.run = 0;
            return None;
        };
        if let Cut::End(_) = cut {
            self.frames.pop_front();
            self.run = 0;
        } else if self.run + 1 < FRAMES_PER_RUN {
            self.run += 1;
        } else {
            self.frames.pop_front();
            self.frames.push_back(id);
            self.run = 0;
            self.turn_due = true;
        }
        Some(cut)
    }
}

impl Poller {
    /// Does what yielding `event` means: a `Closed` frees its id (or lets
    /// the channel linger) and is remembered for `closed_expected`.
    fn hand_out(&mut self, event: Event) -> Event {
        crate::trace::count!(self.counts.events += 1);
        // (Only a `Closed` has more to do: nothing else is looked at per event.)
        if let Event::Closed { id, error } = &event {
            let local = if is_datagram(*id) {
                // A datagram channel only ends by a local close.
                self.datagrams.finalize(*id);
                Some(true)
            } else {
                match self.ended_early.remove(id) {
                    Some(local) => Some(local),
                    None => self.channels.finalize(*id, &self.limits),
                }
            };
            self.last_closed = local.map(|local| (*id, local));
            crate::trace::count!(self.counts.closed.count(error.as_ref(), local));
            crate::trace::debug_event!(
                %id,
                local = ?local,
                error = ?error.as_ref().map(ToString::to_string),
                "closed"
            );
        }
        event
    }
}
