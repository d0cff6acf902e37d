//! How a registered channel leaves the poller: the moves of `channels.rs`'s
//! state table out of `Open` (`close` → `Draining`, `abort` → `Reported`)
//! and out of the poller once its `Closed` is yielded (`finalize`: freed, or
//! `Lingering` while its output or a shut socket's linger lasts), and the
//! sweeps of `close_all`. The poller's public `close`, `abort` and
//! `close_all` are in `closing.rs`.

use std::collections::VecDeque;

use super::channels::{Channels, Limits, State};
use super::write_queue::WriteQueue;
use super::{ChannelId, Event};
use crate::Error;

impl Channels {
    /// Closes `id` gracefully, its `Closed` carrying `error` (`TimedOut`).
    pub(crate) fn close_for(
        &mut self,
        id: ChannelId,
        error: Error,
        limits: &Limits,
    ) -> crate::Result<()> {
        self.close(id, limits)?;
        if let Some(entry) = self.get_mut(id) {
            entry.end_error = Some(error);
        }
        Ok(())
    }

    /// Starts a graceful close of `id`: flush, shut down, then `Closed`.
    pub(crate) fn close(&mut self, id: ChannelId, limits: &Limits) -> crate::Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        match entry.state {
            State::Open => {
                entry.state = State::Draining;
                entry.closed_locally = true;
                entry.framed.set_linger(limits.linger);
                entry.framed.start_close_clock(limits.close_timeout);
                entry.notify.notify();
                self.closing += 1;
                Ok(())
            }
            // Closing or already ended: its `Closed` is coming.
            _ => Ok(()),
        }
    }

    /// Ends `id` now: queued output is dropped and `Closed { error: None }`
    /// queued (unless its `Closed` is already queued).
    pub(crate) fn abort(
        &mut self,
        id: ChannelId,
        error: Option<Error>,
        events: &mut VecDeque<Event>,
    ) -> crate::Result<()> {
        let entry = self.get_mut(id).ok_or(Error::Closed)?;
        entry.out = WriteQueue::default();
        let state = entry.state;
        entry.state = State::Reported;
        if state == State::Open || state == State::Draining {
            entry.closed_locally = true;
        }
        match state {
            State::Open => events.push_back(Event::Closed { id, error }),
            State::Draining => {
                self.closing -= 1;
                events.push_back(Event::Closed { id, error });
            }
            // Its `Closed` is queued already.
            State::EofReported | State::Reported | State::Lingering => {}
        }
        Ok(())
    }

    /// Called as `id`'s `Closed` event is yielded: the id is gone from now on.
    /// Returns whether the channel was closed locally (`None` if unknown).
    pub(crate) fn finalize(&mut self, id: ChannelId, limits: &Limits) -> Option<bool> {
        let entry = self.get_mut(id)?;
        let closed_locally = entry.closed_locally;
        let unsent = !entry.out.is_empty() || entry.framed.write_buffer_len() > 0;
        let framed = &entry.framed;
        let linger = match entry.state {
            State::EofReported => unsent,
            // Shut down by `close`, fds not yet released: a socket lingers.
            State::Reported => framed.is_closed() && !framed.is_released(),
            _ => false,
        };
        if linger {
            entry.state = State::Lingering;
            entry.framed.set_linger(limits.linger);
            entry.framed.start_close_clock(limits.close_timeout);
            entry.notify.notify();
            self.visible -= 1;
            self.closing += 1;
            self.ids.hide(id);
        } else {
            self.free_slot(id.index);
        }
        Some(closed_locally)
    }

    /// Ends every channel for `close_all`: open ones drain (and will queue
    /// their `Closed`), those whose `Closed` is queued are freed or linger;
    /// those are returned with how they ended, for when their `Closed` is yielded.
    pub(crate) fn close_every(&mut self, limits: &Limits) -> Vec<(ChannelId, bool)> {
        let mut ended = Vec::new();
        for index in self.slots.indices() {
            let Some((generation, entry)) = self.slots.at_mut(index) else {
                continue;
            };
            let state = entry.state;
            let id = ChannelId { index, generation };
            match state {
                State::Open => {
                    let _ = self.close(id, limits);
                }
                State::EofReported | State::Reported => {
                    if let Some(local) = self.finalize(id, limits) {
                        ended.push((id, local));
                    }
                }
                State::Draining | State::Lingering => {}
            }
        }
        ended
    }

    /// Ends every entry whose `Closed` is queued (after `close_all`
    /// drained): each lingers or is freed as when its `Closed` is yielded.
    /// Returns how each ended.
    pub(crate) fn end_reported(&mut self, limits: &Limits) -> Vec<(ChannelId, bool)> {
        let mut ended = Vec::new();
        for index in self.slots.matching(|e| e.state == State::Reported) {
            let Some((generation, _)) = self.slots.at_mut(index) else {
                continue;
            };
            let id = ChannelId { index, generation };
            if let Some(local) = self.finalize(id, limits) {
                ended.push((id, local));
            }
        }
        ended
    }
}
