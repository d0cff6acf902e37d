//! One turn of one registered channel: send its queued output, queue it
//! for reading, and move it along the life in `channels.rs`'s state table
//! (closing through the channel's own steps); and cutting its next frame.
//!
//! Frames are cut one at a time, as they are yielded (`next_frame`), never
//! ahead: so `set_framing(id, ..)` applies exactly to the frame after the
//! last `Data` yielded, however the bytes arrived (pitfall 6). A turn only
//! puts a readable channel's id on the poller's frame queue; the poller
//! cuts one frame per event yielded, from the channel at the front, for up
//! to 64 frames in a row (its buffer stays warm in the cache), then puts it
//! at the back: ready channels take turns.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use super::channels::{Channels, Entry, Limits, State};
use super::write_queue::WriteQueue;
use super::{ChannelId, Event};
use crate::{Error, FramedChannel};

/// What cutting a channel's next frame gave: kept small (not an `Event`,
/// which is three times the size) because it is returned once per frame
/// and the `Event` is built only where it is handed out.
pub(crate) enum Cut {
    /// A frame: `Event::Data`.
    Data(bytes::Bytes),
    /// The input ended (with the error, if it failed): `Event::Closed`.
    End(Option<Error>),
}

impl Channels {
    /// The next frame of `id` if one is whole in its buffer now (no read,
    /// no event): for a consumer that handles a channel's burst in one go.
    pub(crate) fn take_frame(&mut self, id: ChannelId) -> Option<bytes::Bytes> {
        let entry = self.slots.get_mut(id.index, id.generation)?;
        if entry.state != State::Open || entry.paused || !entry.readable {
            return None;
        }
        entry.framed.buffered_frame()
    }

    /// Cuts the next frame of `id` (reading if none is buffered): its
    /// data, or its end once its input ended or failed (only a `Data` puts
    /// `id` back on the frame queue). `None` if there is nothing to yield
    /// now: the read registered the channel's waker, or the channel is not
    /// being read (closing, paused, gone).
    #[inline]
    pub(crate) fn next_frame(&mut self, id: ChannelId) -> Option<Cut> {
        let entry = self.slots.get_mut(id.index, id.generation)?;
        crate::trace::enter_span!(entry.span);
        entry.frames_queued = false;
        if entry.state != State::Open || entry.paused || !entry.readable {
            return None;
        }
        let mut cx = Context::from_waker(&entry.waker);
        match entry.framed.poll_read_frame(&mut cx) {
            Poll::Pending => None,
            Poll::Ready(Ok(Some(data))) => {
                crate::trace::trace_event!(len = data.len(), "frame");
                entry.frames_queued = true;
                Some(Cut::Data(data))
            }
            Poll::Ready(Ok(None)) => {
                entry.state = State::EofReported;
                Some(Cut::End(entry.end_error.take()))
            }
            // A write-only channel (a pipe with only a sink): keep it for writing.
            Poll::Ready(Err(Error::NotReadable)) => {
                entry.readable = false;
                entry.notify.notify();
                None
            }
            // Reading failed (a frame too long, a reset): the end, as EOF
            // is, so replies already queued still go out (or fail) after it.
            Poll::Ready(Err(e)) => {
                entry.state = State::EofReported;
                Some(Cut::End(Some(e)))
            }
        }
    }

    /// One turn of slot `index`: send queued output, read up to a budget of
    /// frames into `events`, move along its life.
    pub(crate) fn poll_slot(
        &mut self,
        index: u32,
        events: &mut VecDeque<Event>,
        frames: &mut VecDeque<ChannelId>,
        limits: &Limits,
    ) {
        let Some((generation, entry)) = self.slots.at_mut(index) else {
            return;
        };
        let id = ChannelId { index, generation };
        crate::trace::enter_span!(entry.span);
        entry.notify.clear();
        let Entry {
            framed,
            waker,
            out,
            state,
            paused,
            readable,
            end_error,
            frames_queued,
            flushed_wanted,
            pauses,
            ..
        } = entry;
        let mut cx = Context::from_waker(waker);
        let cx = &mut cx;

        let flushed = match *state {
            State::Reported => return,
            _ => poll_send(cx, framed, out),
        };
        if *flushed_wanted
            && matches!(*state, State::Open | State::EofReported)
            && matches!(flushed, Poll::Ready(Ok(())))
        {
            *flushed_wanted = false;
            events.push_back(Event::Flushed { id });
        }
        match *state {
            State::Open => {
                let was_paused = *paused;
                if let Poll::Ready(Err(e)) = flushed {
                    // The peer is gone for writing; what it sent before may
                    // still be here: read it all, then report the failure.
                    end_error.get_or_insert(e);
                    *out = WriteQueue::default();
                    *paused = false;
                }
                if *paused && out.len() <= limits.low_water {
                    *paused = false;
                } else if out.len() >= limits.high_water {
                    *paused = true;
                }
                match (was_paused, *paused) {
                    (false, true) => {
                        crate::trace::debug_event!(
                            queued = out.len(),
                            "paused reading (flow control)"
                        );
                        *pauses += 1;
                        self.paused_now += 1;
                        self.pauses += 1;
                    }
                    (true, false) => {
                        crate::trace::debug_event!(queued = out.len(), "resumed reading");
                        self.paused_now -= 1;
                    }
                    _ => {}
                }
                if !*paused && *readable {
                    if !*frames_queued {
                        *frames_queued = true;
                        frames.push_back(id);
                    }
                } else if !*readable && end_error.is_some() {
                    // Nothing to read and nothing can be written: it is over.
                    let error = end_error.take();
                    events.push_back(Event::Closed { id, error });
                    *state = State::Reported;
                }
            }
            // A write error after the end was reported has no one to tell:
            // the queue is dropped with the slot when its `Closed` is yielded.
            State::EofReported => {}
            State::Draining => {
                let done = match flushed {
                    Poll::Ready(Ok(())) => match framed.poll_shutdown_for_close(cx) {
                        Poll::Ready(result) => Some(result.err()),
                        Poll::Pending => None,
                    },
                    Poll::Ready(Err(e)) => Some(Some(e)),
                    Poll::Pending => None,
                };
                let done = done.or_else(|| {
                    framed
                        .close_clock_fired(cx)
                        .then(|| Some(framed.close_timed_out(out.len())))
                });
                if let Some(error) = done {
                    if error.is_some() {
                        // Failed or out of time: no lingering, the fds go now.
                        framed.abort();
                    }
                    // Closed for a reason (idle): the `Closed` says it.
                    let error = error.or_else(|| end_error.take());
                    events.push_back(Event::Closed { id, error });
                    *state = State::Reported;
                    self.closing -= 1;
                }
            }
            State::Lingering => {
                let finished = match flushed {
                    // Shut down (if not yet), linger, release: the channel's own steps.
                    Poll::Ready(Ok(())) => framed.poll_close(cx).is_ready(),
                    Poll::Ready(Err(_)) => true,
                    Poll::Pending => framed.close_clock_fired(cx),
                };
                if finished {
                    self.free_slot(index);
                }
            }
            State::Reported => {}
        }
    }
}

/// Writes the channel's own Sink buffer, then the poller's queue for it.
fn poll_send(
    cx: &mut Context<'_>,
    framed: &mut FramedChannel,
    out: &mut WriteQueue,
) -> Poll<crate::Result<()>> {
    if framed.write_buffer_len() > 0 {
        std::task::ready!(framed.poll_flush_sink(cx))?;
    }
    if out.is_empty() {
        return Poll::Ready(Ok(()));
    }
    let sent = std::task::ready!(out.poll_flush(cx, framed.get_mut()));
    Poll::Ready(sent.map_err(|e| framed.name_endpoint(Error::from_io_write(e))))
}
