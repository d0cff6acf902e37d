//! UnixSocketListener on real socket files in temp dirs: a stale file from a
//! crashed run is probed and replaced, a live one or a non-socket is left
//! alone, and the file goes with the listener — however the listener goes —
//! unless someone else's file has taken its place.

mod support;

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use futures::StreamExt;
use iochannels::{Channel, Error, Event, Framing, PeerAddr, Poller, UnixSocketListener};
use support::{socket_path, within};

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).expect("stat").ino()
}

fn expect_in_use(result: iochannels::Result<UnixSocketListener>, path: &Path, says: &str) {
    match result {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(says), "{text}");
        }
        other => panic!("expected AddrInUse, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced_and_the_server_serves() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("stale.sock");
    // A crashed run: bound, then gone without unlinking.
    drop(std::os::unix::net::UnixListener::bind(&path)?);
    assert!(is_socket(&path));
    // (Its inode number says nothing: the file system may give the new
    // socket the freed number at once. That the bind works and a client
    // reaches us shows the file was replaced.)
    let listener = within(UnixSocketListener::bind(&path)).await?;
    assert_eq!(listener.path(), path);

    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(listener);
    let mut client = within(Channel::connect_unix(&path))
        .await?
        .framed(Framing::Lines);
    let id = match within(poller.next()).await {
        Some(Event::Accepted {
            server: s,
            id,
            peer: PeerAddr::Unix(None),
        }) if s == server => id,
        other => panic!("expected Accepted from the unix server, got {other:?}"),
    };
    within(client.write(b"hello\n")).await?;
    match within(poller.next()).await {
        Some(Event::Data { id: from, data }) if from == id => assert_eq!(&data[..], b"hello\n"),
        other => panic!("expected the client's line, got {other:?}"),
    }
    poller.write(id, "welcome\n")?;
    let reply = tokio::select! {
        reply = client.read() => reply?,
        _ = poller.next() => panic!("no event expected"),
    };
    assert_eq!(reply.as_deref(), Some(&b"welcome\n"[..]));
    Ok(())
}

#[tokio::test]
async fn a_live_socket_is_addr_in_use_and_left_untouched() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("live.sock");
    let live = std::os::unix::net::UnixListener::bind(&path)?;
    let before = inode(&path);
    expect_in_use(
        within(UnixSocketListener::bind(&path)).await,
        &path,
        "a server is listening",
    );
    assert_eq!(inode(&path), before);
    // The live server still works: our probe was just one connection.
    let _client = within(Channel::connect_unix(&path)).await?;
    let (_probe, _) = live.accept()?;
    Ok(())
}

#[tokio::test]
async fn a_live_listener_of_ours_is_addr_in_use_too() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("ours.sock");
    let first = within(UnixSocketListener::bind(&path)).await?;
    expect_in_use(
        within(UnixSocketListener::bind(&path)).await,
        &path,
        "a server is listening",
    );
    // The failed second bind must not take the first one's file with it.
    assert!(is_socket(&path));
    drop(first);
    assert!(!path.exists());
    Ok(())
}

#[tokio::test]
async fn a_regular_file_is_an_error_naming_the_path_and_untouched() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("notes.txt");
    std::fs::write(&path, b"precious")?;
    expect_in_use(
        within(UnixSocketListener::bind(&path)).await,
        &path,
        "not a socket",
    );
    assert_eq!(std::fs::read(&path)?, b"precious");
    Ok(())
}

#[tokio::test]
async fn a_symlink_to_a_stale_socket_is_not_followed() -> iochannels::Result<()> {
    let (dir, path) = socket_path("link.sock");
    let target = dir.path().join("target.sock");
    drop(std::os::unix::net::UnixListener::bind(&target)?);
    std::os::unix::fs::symlink(&target, &path)?;
    expect_in_use(
        within(UnixSocketListener::bind(&path)).await,
        &path,
        "not a socket",
    );
    assert!(is_socket(&target));
    assert!(std::fs::symlink_metadata(&path)?.file_type().is_symlink());
    Ok(())
}

#[tokio::test]
async fn a_missing_directory_is_not_found_naming_the_path() {
    let path = Path::new("/nonexistent-iochannels-dir/x.sock");
    match within(UnixSocketListener::bind(path)).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn the_file_is_removed_when_the_listener_is_dropped() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("drop.sock");
    let listener = within(UnixSocketListener::bind(&path)).await?;
    assert!(is_socket(&path));
    drop(listener);
    assert!(!path.exists());
    Ok(())
}

#[tokio::test]
async fn the_file_is_removed_when_the_poller_removes_the_server() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("remove.sock");
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(within(UnixSocketListener::bind(&path)).await?);
    assert!(is_socket(&path));
    assert!(poller.remove_server(server));
    assert!(!path.exists());
    Ok(())
}

#[tokio::test]
async fn the_file_is_removed_by_close_all() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("close_all.sock");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(within(UnixSocketListener::bind(&path)).await?);
    within(poller.close_all()).await;
    assert!(!path.exists());
    assert!(within(poller.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn the_file_is_removed_when_the_poller_is_dropped() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("poller_drop.sock");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(within(UnixSocketListener::bind(&path)).await?);
    drop(poller);
    assert!(!path.exists());
    Ok(())
}

#[tokio::test]
async fn a_file_replaced_after_bind_is_not_removed() -> iochannels::Result<()> {
    let (_dir, path) = socket_path("replaced.sock");
    let listener = within(UnixSocketListener::bind(&path)).await?;
    // Someone else takes the path over: a regular file...
    std::fs::remove_file(&path)?;
    std::fs::write(&path, b"theirs")?;
    drop(listener);
    assert_eq!(std::fs::read(&path)?, b"theirs");

    // ...or another server's socket.
    std::fs::remove_file(&path)?;
    let listener = within(UnixSocketListener::bind(&path)).await?;
    std::fs::remove_file(&path)?;
    let _other = std::os::unix::net::UnixListener::bind(&path)?;
    let theirs = inode(&path);
    drop(listener);
    assert!(is_socket(&path));
    assert_eq!(inode(&path), theirs);
    Ok(())
}
