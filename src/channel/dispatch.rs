//! `Channel` passes `AsyncRead + AsyncWrite` on to whichever kind it holds,
//! and each kind converts into a `Channel`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use super::{Channel, IoChannel, PipeChannel, ProcessChannel, TestChannel};

impl From<TcpStream> for Channel {
    fn from(stream: TcpStream) -> Channel {
        Channel::Tcp(stream)
    }
}

impl From<UnixStream> for Channel {
    fn from(stream: UnixStream) -> Channel {
        Channel::Unix(stream)
    }
}

impl From<PipeChannel> for Channel {
    fn from(channel: PipeChannel) -> Channel {
        Channel::Pipe(channel)
    }
}

impl From<ProcessChannel> for Channel {
    fn from(channel: ProcessChannel) -> Channel {
        Channel::Process(channel)
    }
}

impl From<IoChannel> for Channel {
    fn from(channel: IoChannel) -> Channel {
        Channel::Io(channel)
    }
}

impl From<TestChannel> for Channel {
    fn from(channel: TestChannel) -> Channel {
        Channel::Test(channel)
    }
}

impl AsyncRead for Channel {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_kind!(self.get_mut(), c => Pin::new(c).poll_read(cx, buf))
    }
}

impl AsyncWrite for Channel {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_kind!(self.get_mut(), c => Pin::new(c).poll_write(cx, data))
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_kind!(self.get_mut(), c => Pin::new(c).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each_kind!(self, c => c.is_write_vectored())
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_kind!(self.get_mut(), c => Pin::new(c).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_kind!(self.get_mut(), c => Pin::new(c).poll_shutdown(cx))
    }
}
