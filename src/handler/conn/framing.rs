//! How a [`Conn`]'s frames are cut: the framing and the frame limit a
//! callback reads and changes. Forwards to the poller (a server's) or the
//! `FramedChannel` (a per-task driver's) through the private `Io` of
//! `conn.rs`, and touches nothing else.

use super::{Conn, Io};
use crate::Framing;

impl Conn<'_> {
    /// The framing that cuts the next frame.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert_eq!(conn.framing(), &Framing::Lines);
    /// conn.set_framing(Framing::Exact(4));
    /// assert_eq!(conn.framing(), &Framing::Exact(4));
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn framing(&self) -> &Framing {
        match &self.io {
            Io::Poller { framing, .. } => framing,
            Io::Framed { framed, .. } => framed.framing(),
        }
    }

    /// Changes how frames are cut, from the very next frame on (Pants'
    /// `read_delimiter`). Exact in every driver: frames are cut one at a
    /// time, as the handler takes them (by the server's poller, see
    /// [`Poller::set_framing`](crate::Poller::set_framing), or by the
    /// driver's `FramedChannel`), so bytes already received are cut the new
    /// way; none is lost or re-ordered.
    ///
    /// # Examples
    ///
    /// See [`Conn`].
    pub fn set_framing(&mut self, framing: Framing) {
        match &mut self.io {
            Io::Poller {
                poller,
                id,
                framing: current,
            } => {
                // Err only once the poller has ended the channel (its
                // `Closed` is coming): no frame is left to cut either way.
                if poller.set_framing(*id, framing.clone()).is_ok() {
                    **current = framing;
                }
            }
            Io::Framed { framed, .. } => framed.set_framing(framing),
        }
    }

    /// Sets the frame limit from the next frame on (default 8 MiB, or what
    /// the [`Server`](crate::Server) was given). A frame over it ends the
    /// connection with [`Error::FrameTooLong`](crate::Error::FrameTooLong).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{drive, Channel, Conn, ConnInfo, Error, Framing, Handler};
    ///
    /// #[derive(Default)]
    /// struct Strict(Option<String>);
    /// impl Handler for Strict {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         conn.set_max_frame_len(8);
    ///     }
    ///     async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
    ///         self.0 = error.map(|e| e.to_string());
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// peer.put("far too long a line\n");
    /// let strict = drive(channel.framed(Framing::Lines), Strict::default()).await;
    /// assert_eq!(strict.0.as_deref(), Some("frame longer than the limit of 8 bytes"));
    /// # }
    /// ```
    pub fn set_max_frame_len(&mut self, n: usize) {
        match &mut self.io {
            Io::Poller { poller, id, .. } => {
                // As in `set_framing`: Err only once no frame is left to cut.
                let _ = poller.set_channel_max_frame_len(*id, n);
            }
            Io::Framed { framed, .. } => framed.set_max_frame_len(n),
        }
    }
}
