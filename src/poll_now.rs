//! Polling once, from synchronous code, outside tokio's cooperative budget.
//!
//! `try_read`, `abort` and the test peer's `put`/`get` never wait: they poll
//! once with a no-op waker. Inside a task that has spent its cooperative
//! budget, tokio's I/O returns `Pending` for everything — a `try_read` in a
//! tight loop would then say "nothing yet" with a frame ready. Polling
//! unconstrained gives the answer the I/O really has.

use std::future::poll_fn;
use std::task::{Context, Poll};

use futures::FutureExt;

/// `f` polled once, unconstrained: `Some` if it was ready.
pub(crate) fn poll_now<T>(f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Option<T> {
    tokio::task::coop::unconstrained(poll_fn(f)).now_or_never()
}
