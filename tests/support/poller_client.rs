//! A Poller with a TCP server on 127.0.0.1 and one client: the start of
//! the fault tests (tests/poller_faults.rs, tests/poller_process_limits.rs).

use std::time::Duration;

use iochannels::{ChannelId, Event, Framing, PeerAddr, Poller};
use tokio::net::{TcpListener, TcpStream};

use super::next_event;

/// A poller with a TCP server on 127.0.0.1, one connected client and the
/// client's id (its `Accepted` checked).
pub async fn poller_with_client() -> (Poller, TcpStream, ChannelId) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(listener);
    let client = TcpStream::connect(addr).await.unwrap();
    let id = match next_event(&mut poller).await {
        Event::Accepted {
            server: s,
            id,
            peer,
        } => {
            assert_eq!(s, server);
            assert_eq!(peer, PeerAddr::Tcp(client.local_addr().unwrap()));
            id
        }
        other => panic!("expected Accepted, got {other:?}"),
    };
    (poller, client, id)
}

/// A poller with a client that connected and then closed completely; the
/// client's FIN has arrived but the poller has not been polled since.
pub async fn poller_with_departed_client() -> (Poller, ChannelId) {
    let (mut poller, client, id) = poller_with_client().await;
    poller.set_write_limits(64 * 1024, 256 * 1024, 64 * 1024 * 1024);
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    (poller, id)
}
