//! Idle timeouts: a channel that receives nothing for the poller's idle
//! timeout is closed with `Closed { error: Some(Error::TimedOut) }`
//! (Netty's `IdleStateHandler` reader idle; the slowloris defence).
//!
//! One timer wheel (`tokio_util::time::DelayQueue`) holds one entry per
//! watched channel, due when it would have been idle for the timeout since
//! it was registered. When an entry comes due the channel's last input is
//! looked at: idle all along, it is closed; bytes came meanwhile, it is due
//! again a timeout after them. So a busy channel costs one wake-up per
//! timeout, an idle one a single wake-up, and nothing runs between them:
//! no timer per channel, no reset per read (the reader only notes when
//! bytes arrived). A channel exempted (`exempt_from_idle_timeout`) leaves
//! the wheel the next time it comes due, and is not watched again.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio_util::time::DelayQueue;

use super::channels::{Channels, Limits};
use super::ChannelId;
use crate::Error;

/// The idle timeout and the channels it watches.
#[derive(Debug, Default)]
pub(crate) struct Idle {
    timeout: Option<Duration>,
    due: DelayQueue<ChannelId>,
}

impl Idle {
    /// Sets the timeout; `channels` are every channel to watch from now on.
    pub(crate) fn set(
        &mut self,
        timeout: Option<Duration>,
        ids: Vec<ChannelId>,
        channels: &mut Channels,
    ) {
        self.due.clear();
        self.timeout = timeout;
        for id in ids {
            self.watch(id, channels);
        }
    }

    /// Watches a channel just registered: its reader notes when bytes
    /// arrive (a clock read per read, so only for watched channels).
    pub(crate) fn watch(&mut self, id: ChannelId, channels: &mut Channels) {
        if let Some(timeout) = self.timeout {
            if let Some(entry) = channels.get_mut(id).filter(|e| !e.idle_exempt) {
                entry.framed.note_input_times();
                self.due.insert(id, timeout);
            }
        }
    }

    /// Closes the channels due and idle; reschedules the others.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, channels: &mut Channels, limits: &Limits) {
        let Some(timeout) = self.timeout else {
            return;
        };
        let now = tokio::time::Instant::now();
        // At most a turn's worth, so a burst of expiries cannot hold the task.
        for _ in 0..super::MAX_EVENTS_PER_TURN {
            let Poll::Ready(Some(expired)) = self.due.poll_expired(cx) else {
                return;
            };
            let id = expired.into_inner();
            match channels.idle_for(id, timeout, now) {
                Ok(()) => {
                    let _ = channels.close_for(id, Error::TimedOut, limits);
                }
                Err(Some(left)) => {
                    self.due.insert(id, left);
                }
                // Gone or closing: no longer watched.
                Err(None) => {}
            }
        }
        // More may be due: come back after the others ran.
        cx.waker().wake_by_ref();
    }

    /// Stops watching everything (`close_all`).
    pub(crate) fn clear(&mut self) {
        self.due.clear();
    }
}
