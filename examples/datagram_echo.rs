//! A UDP echo server and a client in one process: the server answers every
//! datagram to whoever sent it, the client sends a few and checks each
//! answer comes back whole.
//!
//! Shows `DatagramChannel::bind_udp`, the channel as a `Stream` of
//! `(datagram, sender)`, `send_to` back to the sender, and a connected
//! client using `send` / `recv`.
//!
//! Run with: cargo run --example datagram_echo

use std::time::Duration;

use futures::StreamExt;
use iochannels::DatagramChannel;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("datagram_echo: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    let server_addr = server.local_addr()?;
    println!("echo server on {server_addr}");

    let echo = tokio::spawn(async move {
        while let Some(item) = server.next().await {
            match item {
                Ok((data, from)) => {
                    if let Err(e) = server.send_to(&data, &from).await {
                        eprintln!("server: answering {from}: {e}");
                    }
                }
                // A bad datagram is not the end of the server.
                Err(e) => eprintln!("server: {e}"),
            }
        }
    });

    let mut client = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    client.connect(&server_addr).await?;
    for message in [
        "hello",
        "",
        "datagrams keep their edges",
        &"x".repeat(60_000),
    ] {
        client.send(message).await?;
        let answer = tokio::time::timeout(Duration::from_secs(5), client.recv()).await??;
        if answer != message.as_bytes() {
            return Err(format!("sent {} bytes, got back {}", message.len(), answer.len()).into());
        }
        let shown: String = message.chars().take(30).collect();
        println!("echoed {:>5} bytes: {shown:?}", answer.len());
    }
    echo.abort();
    println!("all echoes came back whole");
    Ok(())
}
