//! The `tracing` feature with a subscriber: a line echo server on a Poller
//! whose accepts, closes (with their reason), flow-control pauses and
//! frames are printed by `tracing-subscriber`, inside a `channel` span.
//!
//! Run with: cargo run --example tracing --features tracing
//! then:     nc 127.0.0.1 7879   (type lines; Ctrl-C to stop the server)

use futures::StreamExt;
use iochannels::{Event, Framing, Poller};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:7879").await?;
    println!(
        "echo server on {}; try `nc 127.0.0.1 7879`",
        listener.local_addr()?
    );
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    loop {
        tokio::select! {
            event = poller.next() => match event {
                Some(Event::Data { id, data }) => {
                    if let Err(e) = poller.write(id, data) {
                        eprintln!("echo to {id}: {e}");
                    }
                }
                Some(_) => {}
                None => break,
            },
            _ = tokio::signal::ctrl_c() => {
                poller.close_all().await;
                break;
            }
        }
    }
    Ok(())
}
