//! The `chat` example on several shards (`--workers`) with real TCP
//! clients: clients on different shards chat exactly as on one, and
//! notices reach exactly the clients that were there.

mod support;

use support::chat::{ChatProcess, Client};

/// Four TCP clients on two shards (the group hands them out round-robin:
/// the 1st and 3rd on shard 0, the 2nd and 4th on shard 1) chat as on
/// one: joins, nick changes, lines and leaves reach everyone exactly once
/// and in order, nicks are unique across shards, and the console's
/// `/who`, `/stats` and `/kick` see every shard.
#[tokio::test(flavor = "multi_thread")]
async fn clients_on_different_shards_chat_with_exact_lines() {
    let mut chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--no-unix", "--workers", "2"]);
    let (addr, _) = chat.listening().await;
    let names = ["alice", "bob", "carol", "dave"];
    let mut clients: Vec<Client> = Vec::new();
    let mut guests = Vec::new();
    for _ in names {
        let mut client = Client::tcp(addr).await;
        let guest = client.welcome().await;
        for other in &mut clients {
            other.expect(&format!("* {guest} joined\n")).await;
        }
        clients.push(client);
        guests.push(guest);
    }
    for (k, name) in names.iter().enumerate() {
        clients[k].send(&format!("/nick {name}")).await;
        clients[k].expect(&format!("* you are now {name}\n")).await;
        for (j, other) in clients.iter_mut().enumerate() {
            if j != k {
                other
                    .expect(&format!("* {} is now {name}\n", guests[k]))
                    .await;
            }
        }
    }
    // Taken on the other shard (alice is on 0, bob on 1), and on its own.
    clients[1].send("/nick alice").await;
    clients[1].expect("* alice is taken\n").await;
    clients[3].send("/nick bob").await;
    clients[3].expect("* bob is taken\n").await;

    // Each client in turn sends a burst; every other gets it all, in order.
    for (k, name) in names.iter().enumerate() {
        let burst: String = (0..50).map(|i| format!("{name} says {i}\n")).collect();
        clients[k].send_raw(&burst).await;
        for (j, other) in clients.iter_mut().enumerate() {
            if j != k {
                for i in 0..50 {
                    other.expect(&format!("{name}: {name} says {i}\n")).await;
                }
            }
        }
    }
    // Nothing more is on the way: the next line anyone gets is /who's reply.
    for client in &mut clients {
        client.send("/who").await;
        client.expect("* online (4): alice bob carol dave\n").await;
    }

    chat.console("/who").await;
    assert_eq!(
        chat.console_reply().await,
        "* online (4): alice bob carol dave\n"
    );
    chat.console("/stats").await;
    let totals = chat.console_reply().await;
    assert!(
        totals.starts_with("* stats: 5 channels (5 registered, 4 accepted, 0 accept errors), "),
        "{totals}"
    );
    // The console is on shard 0 beside alice and carol.
    assert_eq!(
        chat.console_reply().await,
        "* stats: 2 shards, channels on each: 3 2\n"
    );
    for _ in 0..3 {
        assert!(chat.console_reply().await.starts_with("* stats: "));
    }

    // Kicked from the console on shard 0: dave, on shard 1.
    chat.console("/kick dave").await;
    assert_eq!(chat.console_reply().await, "* kicked dave\n");
    let mut dave = clients.pop().expect("dave");
    dave.expect("* you were kicked by the admin\n").await;
    dave.eof().await;
    for client in &mut clients {
        client.expect("* dave left\n").await;
    }
    // bob (shard 1) quits: alice and carol (shard 0) hear it.
    clients[1].send("/quit").await;
    clients[1].expect("* bye\n").await;
    clients[1].eof().await;
    clients.remove(1);
    for client in &mut clients {
        client.expect("* bob left\n").await;
    }

    chat.shut_down(&mut clients).await;
}

/// Eight clients on four shards, joining one after another: each hears of
/// the joins after its own, each once, and of none before it (shards learn
/// of a join at different times; a notice must not reach a client that
/// joined after it on another shard). Then the shutdown notice reaches
/// every shard before the connections end.
#[tokio::test(flavor = "multi_thread")]
async fn join_and_shutdown_notices_reach_exactly_who_was_there() {
    let mut chat = ChatProcess::start(&["--tcp", "127.0.0.1:0", "--no-unix", "--workers", "4"]);
    let (addr, _) = chat.listening().await;
    let mut clients = Vec::new();
    let mut guests = Vec::new();
    for _ in 0..8 {
        let mut client = Client::tcp(addr).await;
        guests.push(client.welcome().await);
        clients.push(client);
    }
    for (k, client) in clients.iter_mut().enumerate() {
        // Joins on different shards come in either order.
        let mut heard = Vec::new();
        for _ in k + 1..guests.len() {
            heard.push(client.line().await);
        }
        heard.sort_unstable();
        let mut later: Vec<String> = guests[k + 1..]
            .iter()
            .map(|guest| format!("* {guest} joined\n"))
            .collect();
        later.sort_unstable();
        assert_eq!(heard, later, "client {k} ({})", guests[k]);
    }
    // Nothing else was on its way: next comes the shutdown notice.
    chat.shut_down(&mut clients).await;
}
