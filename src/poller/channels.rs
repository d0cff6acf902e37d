//! The poller's registry of channels and their life; what one turn of one
//! channel does is in `channel_turn.rs`, how a channel leaves (`close`,
//! `abort`, its `Closed` yielded, `close_all`) in `channel_close.rs`.
//!
//! A slot's life (`State`):
//!
//! | state         | reads | writes sent | `write(id)` | leaves when |
//! |---------------|-------|-------------|-------------|-------------|
//! | `Open`        | yes (unless paused by flow control) | yes, until one fails | accepted (refused once a write failed) | EOF or a read error (frame too long, reset) → `EofReported`; `close` → `Draining` |
//! | `EofReported` | no    | yes         | accepted (the peer may still read) | its `Closed` is yielded → `Lingering` (output left) or freed |
//! | `Draining`    | no    | yes, then shutdown | refused | flushed and shut (or error, deadline) → `Closed` queued → `Reported` |
//! | `Reported`    | no    | no          | refused     | its `Closed` is yielded → `Lingering` (a shut socket) or freed |
//! | `Lingering`   | thrown away | yes, then shutdown | id unknown | flushed, shut and lingered, failed or deadline → freed |
//!
//! A slot's `Closed` event is queued while the slot still exists and the
//! slot is only freed when that event is yielded: so a reply the user
//! writes to a channel's last `Data` still goes out. A failed write does
//! not end an `Open` channel at once: its output is dropped and it is read
//! to its end, so frames that had already arrived are still yielded, and
//! its `Closed` carries the write error.
//!
//! Closing goes through the channel's own close steps (`framed/close.rs`:
//! flush, shutdown, linger, release) under one clock, the close timeout
//! started by `close`: `Lingering` keeps a socket until the peer's EOF or
//! a quiet spell, so releasing it cannot reset replies still in flight.

use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;

use super::ids::Ids;
use super::ready::{ReadyQueue, SlotWaker};
use super::slab::Slab;
use super::write_queue::WriteQueue;
use super::ChannelId;
use crate::{Error, FramedChannel};

/// Settings every slot's turn obeys; set on the [`Poller`](crate::Poller).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Queued output at which reading from a channel pauses.
    pub(crate) high_water: usize,
    /// Queued output under which reading resumes.
    pub(crate) low_water: usize,
    /// Queued output past which `write` is refused.
    pub(crate) max_queued: usize,
    /// How long a graceful close may take before it is aborted.
    pub(crate) close_timeout: Duration,
    /// How long a closing socket waits for more input before release.
    pub(crate) linger: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    EofReported,
    Draining,
    Reported,
    Lingering,
}

/// One registered channel and everything the poller keeps for it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) framed: FramedChannel,
    pub(super) notify: Arc<SlotWaker>,
    pub(super) waker: Waker,
    pub(crate) out: WriteQueue,
    pub(crate) state: State,
    /// Flow control: reading stopped until `out` drains under the low-water mark.
    pub(super) paused: bool,
    /// False once the channel said it has no read side: it is only written to.
    pub(super) readable: bool,
    /// Ended by `close`, `abort` or `close_all` (kaa's `closed(expected)`).
    pub(crate) closed_locally: bool,
    /// What its `Closed` will carry: a write that failed while `Open`
    /// (output is dropped, reading goes on to the end), or `TimedOut` for
    /// a channel closed for being idle.
    pub(super) end_error: Option<Error>,
    /// When it was registered: its idle time counts from here until bytes arrive.
    pub(super) registered_at: tokio::time::Instant,
    /// Its id is in the poller's queue of channels to cut a frame from.
    pub(super) frames_queued: bool,
    /// `notify_flushed` asked for an `Event::Flushed` once its output is all sent.
    pub(super) flushed_wanted: bool,
    /// Never closed for being idle (`exempt_from_idle_timeout`).
    pub(super) idle_exempt: bool,
    /// `write` calls, the most output ever queued, flow-control pauses.
    pub(super) writes: u64,
    pub(super) queued_high: usize,
    pub(super) pauses: u64,
    /// Its `channel` span (id and endpoint), entered while the poller works on it.
    #[cfg(feature = "tracing")]
    pub(super) span: tracing::Span,
}

/// Every channel of a poller, by slot index.
#[derive(Debug)]
pub(crate) struct Channels {
    pub(super) slots: Slab<Entry>,
    /// Entries a user can see: all but `Lingering`.
    pub(super) visible: usize,
    /// Entries in `Draining` or `Lingering`: `close_all` waits for them.
    pub(super) closing: usize,
    queue: Arc<ReadyQueue>,
    /// Who allocates the ids (shared with handles).
    pub(super) ids: Arc<Ids>,
    /// Channels whose reading is paused by flow control now.
    pub(super) paused_now: usize,
    /// Flow-control pauses since the poller was made.
    pub(super) pauses: u64,
    /// Channels registered since the poller was made.
    pub(super) registered: u64,
}

impl Channels {
    pub(crate) fn new(queue: Arc<ReadyQueue>, ids: Arc<Ids>) -> Channels {
        Channels {
            slots: Slab::new(),
            visible: 0,
            closing: 0,
            queue,
            ids,
            paused_now: 0,
            pauses: 0,
            registered: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.visible
    }

    pub(crate) fn closing(&self) -> usize {
        self.closing
    }

    /// Registers `framed`; it is polled on the next turn, so input it
    /// already buffered is not left waiting for a wake-up.
    pub(crate) fn insert(&mut self, framed: FramedChannel) -> ChannelId {
        let id = self.ids.allocate(framed.is_writable());
        self.insert_as(id, framed);
        id
    }

    /// Registers `framed` under `id`, allocated already (by a handle).
    pub(crate) fn insert_as(&mut self, id: ChannelId, framed: FramedChannel) {
        crate::trace::count!(self.registered += 1);
        let (notify, waker) = SlotWaker::new(&self.queue, id.index);
        notify.notify();
        #[cfg(feature = "tracing")]
        let span = crate::trace::channel_span(id, &framed);
        let entry = Entry {
            #[cfg(feature = "tracing")]
            span,
            framed,
            notify,
            waker,
            out: WriteQueue::default(),
            state: State::Open,
            paused: false,
            readable: true,
            closed_locally: false,
            end_error: None,
            registered_at: tokio::time::Instant::now(),
            frames_queued: false,
            flushed_wanted: false,
            idle_exempt: false,
            writes: 0,
            queued_high: 0,
            pauses: 0,
        };
        self.slots.insert_at(id.index, id.generation, entry);
        self.visible += 1;
    }

    /// The entry behind `id`, if the id is current and not lingering.
    pub(crate) fn get(&self, id: ChannelId) -> Option<&Entry> {
        self.slots
            .get(id.index, id.generation)
            .filter(|e| e.state != State::Lingering)
    }

    /// The entry behind `id`, if the id is current and not lingering.
    pub(crate) fn get_mut(&mut self, id: ChannelId) -> Option<&mut Entry> {
        self.slots
            .get_mut(id.index, id.generation)
            .filter(|e| e.state != State::Lingering)
    }

    /// Takes `id`'s entry out of the poller.
    pub(crate) fn remove(&mut self, id: ChannelId) -> Option<Entry> {
        self.get_mut(id)?;
        let entry = self.free_slot(id.index)?;
        Some(entry)
    }

    pub(super) fn free_slot(&mut self, index: u32) -> Option<Entry> {
        let entry = self.slots.remove_at(index)?;
        self.ids.free(index);
        if entry.paused {
            self.paused_now -= 1;
        }
        match entry.state {
            State::Lingering => self.closing -= 1,
            State::Draining => {
                self.closing -= 1;
                self.visible -= 1;
            }
            _ => self.visible -= 1,
        }
        Some(entry)
    }

    /// Queues `data` for `id`; pauses its reading past the high-water mark.
    pub(crate) fn write(
        &mut self,
        id: ChannelId,
        data: Bytes,
        limits: &Limits,
    ) -> crate::Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        if !matches!(entry.state, State::Open | State::EofReported) || entry.end_error.is_some() {
            return Err(Error::Closed);
        }
        entry.framed.check_writable()?;
        if entry.out.len() + data.len() > limits.max_queued {
            return Err(Error::QueueFull {
                limit: limits.max_queued,
            });
        }
        entry.out.push(data);
        crate::trace::count!({
            entry.writes += 1;
            entry.queued_high = entry.queued_high.max(entry.out.len());
        });
        let pauses = entry.out.len() >= limits.high_water && !entry.paused;
        entry.notify.notify();
        if pauses {
            crate::trace::debug_event!(%id, queued = entry.out.len(), "paused reading (flow control)");
            entry.paused = true;
            entry.pauses += 1;
            self.paused_now += 1;
            self.pauses += 1;
        }
        Ok(())
    }

    /// Whether `id` has been idle for `timeout` at `now`: `Ok(())` if so
    /// (it is open and nothing arrived), `Err(Some(left))` if it must be
    /// looked at again after `left`, `Err(None)` if it is gone or closing.
    pub(crate) fn idle_for(
        &mut self,
        id: ChannelId,
        timeout: Duration,
        now: tokio::time::Instant,
    ) -> Result<(), Option<Duration>> {
        let entry = self.get_mut(id).ok_or(None)?;
        if entry.state != State::Open || entry.idle_exempt {
            return Err(None);
        }
        let since = entry
            .framed
            .last_input()
            .map_or(entry.registered_at, |t| t.max(entry.registered_at));
        match (since + timeout).checked_duration_since(now) {
            Some(left) if !left.is_zero() => Err(Some(left)),
            _ => Ok(()),
        }
    }

    /// Every channel that could go idle (open), for a new idle timeout.
    pub(crate) fn open_ids(&self) -> Vec<ChannelId> {
        self.slots
            .matching(|e| e.state == State::Open)
            .into_iter()
            .filter_map(|index| {
                let generation = self.slots.generation_at(index)?;
                Some(ChannelId { index, generation })
            })
            .collect()
    }

    /// Asks for an `Event::Flushed` of `id` once its output is all sent.
    pub(crate) fn notify_flushed(&mut self, id: ChannelId) -> crate::Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        if !matches!(entry.state, State::Open | State::EofReported) {
            return Err(Error::Closed);
        }
        entry.flushed_wanted = true;
        // Its next turn looks (the queue may be empty already).
        entry.notify.notify();
        Ok(())
    }
}
