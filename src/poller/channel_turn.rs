//! One turn of one registered channel: send its queued output, read up to
//! a budget of frames into the poller's events, and move it along the life
//! in `channels.rs`'s state table (closing through the channel's own steps).

use std::collections::VecDeque;
use std::task::{Context, Poll};

use super::channels::{Channels, Entry, Limits, State};
use super::ready::SlotWaker;
use super::write_queue::WriteQueue;
use super::{ChannelId, Event};
use crate::{Error, FramedChannel};

impl Channels {
    /// One turn of slot `index`: send queued output, read up to a budget of
    /// frames into `events`, move along its life.
    pub(crate) fn poll_slot(&mut self, index: u32, events: &mut VecDeque<Event>, limits: &Limits) {
        let Some((generation, entry)) = self.slots.at_mut(index) else {
            return;
        };
        let id = ChannelId { index, generation };
        entry.notify.clear();
        let Entry {
            framed,
            notify,
            waker,
            out,
            state,
            paused,
            readable,
            write_error,
            ..
        } = entry;
        let mut cx = Context::from_waker(waker);
        let cx = &mut cx;

        let flushed = match *state {
            State::Reported => return,
            _ => poll_send(cx, framed, out),
        };
        match *state {
            State::Open => {
                if let Poll::Ready(Err(e)) = flushed {
                    // The peer is gone for writing; what it sent before may
                    // still be here: read it all, then report the failure.
                    write_error.get_or_insert(e);
                    *out = WriteQueue::default();
                    *paused = false;
                }
                if *paused && out.len() <= limits.low_water {
                    *paused = false;
                } else if out.len() >= limits.high_water {
                    *paused = true;
                }
                if !*paused && *readable {
                    read_frames(
                        cx,
                        id,
                        framed,
                        state,
                        readable,
                        write_error,
                        events,
                        limits,
                        notify,
                    );
                } else if !*readable && write_error.is_some() {
                    // Nothing to read and nothing can be written: it is over.
                    let error = write_error.take();
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

#[allow(clippy::too_many_arguments)]
fn read_frames(
    cx: &mut Context<'_>,
    id: ChannelId,
    framed: &mut FramedChannel,
    state: &mut State,
    readable: &mut bool,
    write_error: &mut Option<Error>,
    events: &mut VecDeque<Event>,
    limits: &Limits,
    notify: &SlotWaker,
) {
    for _ in 0..limits.frames_per_turn {
        match framed.poll_read_frame(cx) {
            Poll::Pending => return,
            Poll::Ready(Ok(Some(data))) => events.push_back(Event::Data { id, data }),
            Poll::Ready(Ok(None)) => {
                let error = write_error.take();
                events.push_back(Event::Closed { id, error });
                *state = State::EofReported;
                return;
            }
            // A write-only channel (a pipe with only a sink): keep it for writing.
            Poll::Ready(Err(Error::NotReadable)) => {
                *readable = false;
                return;
            }
            Poll::Ready(Err(e)) => {
                events.push_back(Event::Closed { id, error: Some(e) });
                *state = State::Reported;
                return;
            }
        }
    }
    // Budget spent with frames maybe left: the others go first, then us again.
    notify.notify();
}
