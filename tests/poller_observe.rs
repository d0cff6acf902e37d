//! What the poller does on its own is observable: `Event::Flushed` when a
//! channel's output is all sent (asked for with `notify_flushed`), and
//! flow-control pauses in `stats()` and `is_paused`. (Accept errors:
//! tests/poller_faults.rs, `accept_survives_fd_exhaustion`.)

mod support;

use futures::StreamExt;
use iochannels::{Channel, Error, Event, Framing, Poller};
use support::within;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn flushed_comes_once_the_output_is_all_sent_and_once_per_ask() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut poller = Poller::new(Framing::Lines);
    let id = poller.register(Channel::from(server).framed(Framing::Lines));
    // More than the socket buffers hold: it cannot all go out before the client reads.
    const TOTAL: usize = 8 * 1024 * 1024;
    poller.write(id, vec![b'z'; TOTAL])?;
    poller.notify_flushed(id)?;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        let mut buf = vec![0; 64 * 1024];
        while got < TOTAL {
            got += client.read(&mut buf).await.expect("read");
        }
        client
    });
    match within(poller.next()).await {
        Some(Event::Flushed { id: sent }) => assert_eq!(sent, id),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(poller.queued(id), Some(0));
    let _client = within(reader).await.expect("reader");
    // Asked once, told once: nothing more comes.
    let more = tokio::time::timeout(std::time::Duration::from_millis(100), poller.next()).await;
    assert!(more.is_err(), "{more:?}");
    // Nothing queued: the next turn tells at once.
    poller.notify_flushed(id)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn flushed_is_refused_for_unknown_ids() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    peer.close();
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Closed { .. })
    ));
    assert!(matches!(poller.notify_flushed(id), Err(Error::Closed)));
}

#[tokio::test]
async fn flow_control_pauses_show_in_stats_and_end_when_the_peer_reads() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut poller = Poller::new(Framing::Lines);
    poller.set_write_limits(1024, 4096, 64 * 1024 * 1024);
    let id = poller.register(Channel::from(server).framed(Framing::Lines));
    assert_eq!(poller.is_paused(id), Some(false));
    poller.write(id, vec![b'p'; 16 * 1024 * 1024])?;
    let stats = poller.stats();
    assert_eq!((stats.channels, stats.paused, stats.pauses), (1, 1, 1));
    assert_eq!(poller.is_paused(id), Some(true));
    // The client reads it all: the pause ends.
    let reader = tokio::spawn(async move {
        let mut got = 0;
        let mut buf = vec![0; 64 * 1024];
        while got < 16 * 1024 * 1024 {
            got += client.read(&mut buf).await.expect("read");
        }
        client
    });
    poller.notify_flushed(id)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    let _client = within(reader).await.expect("reader");
    assert_eq!(poller.is_paused(id), Some(false));
    let stats = poller.stats();
    assert_eq!((stats.paused, stats.pauses, stats.accept_errors), (0, 1, 0));
    Ok(())
}
