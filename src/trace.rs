//! The `tracing` feature's events and spans, behind macros that compile to
//! nothing without it (so the hot paths are the same code either way).
//!
//! Debug level: a client accepted, a channel registered, a channel closed
//! (with its reason), flow control pausing and resuming a channel, an
//! accept error and its pause. Trace level: every frame, and a span per
//! channel (`channel`, with its id) entered while the poller works on it.
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

/// Enters a trace-level span for channel `$id` until the end of the scope
/// (nothing without the `tracing` feature).
macro_rules! channel_span {
    ($id:expr) => {
        #[cfg(feature = "tracing")]
        let _span = tracing::trace_span!(target: "iochannels", "channel", id = %$id).entered();
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

pub(crate) use {channel_span, count, debug_event, trace_event};
