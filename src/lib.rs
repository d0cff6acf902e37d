//! iochannels: one async interface to every byte pipe a program talks through.
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod channel;
mod error;
mod framed;
mod framing;
mod poller;
mod queue;

pub use crate::channel::{Channel, PipeChannel, ProcessChannel, TestChannel, TestPeer};
pub use crate::error::{Error, Result};
pub use crate::framed::FramedChannel;
pub use crate::framing::{FrameCodec, Framing, DEFAULT_MAX_FRAME_LEN};
pub use crate::poller::{ChannelId, Event, Listener, PeerAddr, Poller, ServerId};
pub use crate::queue::{Closed, Queue, QueueClosed, TryGetError, TryPutError};
