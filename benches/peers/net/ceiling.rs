//! The ceiling of the real-socket scenarios: what one thread on raw epoll
//! (mio) takes from the same sockets when it does nothing per line but
//! count it. Each socket is registered for readability (edge-triggered);
//! each ready socket is read in 64 KiB reads until a read comes back short
//! (the socket is then empty: the next arrival raises a new edge, as tokio
//! also assumes) or would block; newlines are counted with `memchr`.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::{Got, Sock, NOT_COUNTED};
use crate::lines::{Tally, READ_SIZE};

/// Reads `conns` until `lines` newlines have come; returns the sockets
/// (deregistered) and what was read (lines and bytes; first bytes not counted).
pub fn read_lines<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut poll = Poll::new().expect("epoll");
    let fds: Vec<RawFd> = conns.iter().map(|c| c.as_raw_fd()).collect();
    for (i, fd) in fds.iter().enumerate() {
        poll.registry()
            .register(&mut SourceFd(fd), Token(i), Interest::READABLE)
            .expect("epoll add");
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_SIZE];
    let mut t = Tally {
        first_bytes: NOT_COUNTED,
        ..Tally::default()
    };
    while t.frames < lines {
        poll.poll(&mut events, Some(super::GUARD))
            .expect("epoll wait");
        assert!(
            !events.is_empty(),
            "the ceiling got nothing for {:?}",
            super::GUARD
        );
        for event in &events {
            let conn = &conns[event.token().0];
            loop {
                match conn.read_now(&mut buf) {
                    Ok(0) => panic!("the sender closed a connection"),
                    Ok(n) => {
                        t.frames += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                        t.bytes += n as u64;
                        if n < buf.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => panic!("ceiling read: {e}"),
                }
            }
        }
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    for fd in &fds {
        poll.registry()
            .deregister(&mut SourceFd(fd))
            .expect("epoll del");
    }
    (conns, t, done)
}
