//! The `tracing` feature's events and spans, behind macros that compile to
//! nothing without it (so the hot paths are the same code either way).
//!
//! Debug level: a client accepted, a channel registered, a channel closed
//! (with its reason), flow control pausing and resuming a channel, an
//! accept error and its pause. Trace level: every frame. A debug-level
//! span per channel (`channel`, with its id and endpoint: kind and
//! addresses), made once at registration and entered while the poller works
//! on the channel.
//!
//! Also here: [`count!`], around every update of a counter of
//! [`ChannelStats`](crate::ChannelStats) and
//! [`PollerTotals`](crate::PollerTotals), so that what the counters cost
//! can be measured: built with `RUSTFLAGS="--cfg iochannels_uncounted"`,
//! the updates are compiled out (the counters then read zero). That cfg is
//! for the benchmark only (README, Observability); nothing else changes.

/// A debug-level event (nothing without the `tracing` feature).
macro_rules! debug_event {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "iochannels", $($arg)*);
    };
}

/// A trace-level event (nothing without the `tracing` feature).
macro_rules! trace_event {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "iochannels", $($arg)*);
    };
}

/// The debug-level span of a registered channel: its id, and its endpoint
/// as [`Channel::describe`](crate::Channel::describe) gives it (kind and
/// addresses: `tcp 127.0.0.1:7878 -> 127.0.0.1:40000`). Made once, at
/// registration; the events of the poller's work on the channel are inside it.
#[cfg(feature = "tracing")]
pub(crate) fn channel_span(id: crate::ChannelId, framed: &crate::FramedChannel) -> tracing::Span {
    // The endpoint's text (a syscall for a socket's addresses) is made only
    // if a subscriber wants the span: the macro evaluates fields then.
    tracing::debug_span!(target: "iochannels", "channel", id = %id, endpoint = %framed.endpoint_text())
}

/// Enters a channel's span (from `channel_span`) until the end of the
/// scope (nothing without the `tracing` feature).
macro_rules! enter_span {
    ($span:expr) => {
        // (A span no subscriber wanted is not even cloned.)
        #[cfg(feature = "tracing")]
        let _span = (!$span.is_disabled()).then(|| $span.clone().entered());
    };
}

/// A counter update (a statement or a block of them), compiled out under
/// `--cfg iochannels_uncounted` to measure what the counters cost.
macro_rules! count {
    ($($update:tt)*) => {{
        #[cfg(not(iochannels_uncounted))]
        {
            $($update)*;
        }
    }};
}

pub(crate) use {count, debug_event, enter_span, trace_event};
