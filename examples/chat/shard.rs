//! One shard of the chat ([`ChatShard`]), on its own task: its clients'
//! joins, lines, commands and leaves, and what the other shards send it.
//! The console's commands and `/stats` are in console.rs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use iochannels::{ChannelId, Error, Event, FramedChannel, PeerAddr, Shard};
use tokio::sync::{mpsc, oneshot};

use crate::room::{Audience, Bus, Rename, Room};
use crate::{check_nick, split_command, trim_line, CLOSE_TIMEOUT, SLOW_DELAY};

/// A client of this shard.
pub struct Member {
    pub nick: String,
    /// The room's change number of its join.
    joined: u64,
}

/// Bus messages taken in one go (see `run`).
const BUS_BATCH: usize = 64;

/// A shard's chat state: owned by its task alone, so no lock.
pub struct ChatShard {
    pub(crate) shard: Shard,
    pub(crate) room: Arc<Room>,
    bus: mpsc::UnboundedReceiver<Bus>,
    /// This shard's clients; the console is not in here.
    pub(crate) members: HashMap<ChannelId, Member>,
    /// The admin console (stdin/stdout), on shard 0, while it is open.
    pub(crate) console: Option<ChannelId>,
    /// Log joins, leaves and nick changes on stderr.
    verbose: bool,
    /// The shutdown notice is queued: nothing more is served.
    shutting_down: bool,
}

impl ChatShard {
    pub fn new(
        mut shard: Shard,
        room: Arc<Room>,
        bus: mpsc::UnboundedReceiver<Bus>,
        verbose: bool,
        idle: Option<Duration>,
    ) -> ChatShard {
        shard.poller_mut().set_close_timeout(CLOSE_TIMEOUT);
        // The poller closes a silent client: `Closed { error: Some(TimedOut) }`.
        shard.poller_mut().set_idle_timeout(idle);
        ChatShard {
            shard,
            room,
            bus,
            members: HashMap::new(),
            console: None,
            verbose,
            shutting_down: false,
        }
    }

    pub fn set_console(&mut self, console: FramedChannel) {
        let poller = self.shard.poller_mut();
        let id = poller.register(console);
        // The operator may be silent for hours: the idle timeout is for clients.
        let _ = poller.exempt_from_idle_timeout(id);
        self.console = Some(id);
    }

    /// Serves until the group shuts down; starts the shutdown when `stop`
    /// resolves, and prints `/stats` on stderr every `stats_every`.
    /// Returns the number of clients this shard was handed.
    pub async fn run<F: Future<Output = ()>>(
        mut self,
        stop: Option<F>,
        stats_every: Option<Duration>,
    ) -> u64 {
        let stop = async {
            match stop {
                Some(stop) => stop.await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stop);
        let mut stopped = false;
        let every = stats_every.unwrap_or(Duration::from_secs(3600));
        let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            // Both `next`s are cancel safe: a branch not taken loses nothing.
            tokio::select! {
                event = self.shard.next() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
                Some(message) = self.bus.recv() => {
                    self.on_bus(message);
                    // What else waits goes too, so that the writes of many
                    // lines leave together in the poller's next turn
                    // rather than one turn each; bounded, so the shard's
                    // own clients are not starved by a busy room.
                    for _ in 1..BUS_BATCH {
                        let Ok(message) = self.bus.try_recv() else { break };
                        self.on_bus(message);
                    }
                }
                _ = stats.tick(), if stats_every.is_some() => {
                    let report = self.gather_stats();
                    tokio::spawn(async move { eprint!("{}", report.await) });
                }
                () = &mut stop, if !stopped => {
                    stopped = true;
                    self.shut_down();
                }
            }
        }
        // (Clients the group handed this shard count as its own accepts.)
        self.shard.poller().totals().accepted
    }

    fn handle(&mut self, event: Event) {
        if self.shutting_down {
            return;
        }
        match event {
            Event::Accepted { id, peer, .. } => self.on_join(id, &peer),
            Event::Data { id, data } if Some(id) == self.console => self.on_console(&data),
            Event::Data { id, data } => self.on_line(id, &data),
            Event::Closed { id, error } if Some(id) == self.console => {
                self.console = None;
                match error {
                    None => eprintln!("chat: console closed (stdin ended); still serving"),
                    Some(e) => eprintln!("chat: console failed ({e}); still serving"),
                }
            }
            Event::Closed { id, error } => self.on_leave(id, error),
            _ => {}
        }
    }

    fn on_bus(&mut self, message: Bus) {
        match message {
            Bus::Broadcast { to, line } if !self.shutting_down => self.fan_out(to, &line),
            Bus::Broadcast { .. } => {}
            Bus::Stats(answer) => {
                let _ = answer.send(self.shard_stats());
            }
            Bus::Shutdown { notice, queued } => {
                self.stop_serving(&notice);
                let _ = queued.send(());
            }
        }
    }

    fn on_join(&mut self, id: ChannelId, peer: &PeerAddr) {
        let me = self.shard.group_id(id);
        let (nick, joined) = self.room.join(me);
        if self.verbose {
            eprintln!("chat: {nick} joined from {peer}");
        }
        let notice = Bytes::from(format!("* {nick} joined\n"));
        self.broadcast(Audience::before(joined, Some(me)), notice);
        self.send(
            id,
            format!("* welcome, you are {nick} (commands: /nick NAME, /who, /slow TEXT, /quit)\n")
                .into(),
        );
        self.members.insert(id, Member { nick, joined });
    }

    fn on_leave(&mut self, id: ChannelId, error: Option<Error>) {
        let Some(Member { nick, .. }) = self.members.remove(&id) else {
            return;
        };
        let left = self.room.leave(&nick);
        if self.verbose {
            match &error {
                None => eprintln!("chat: {nick} left"),
                Some(e) => eprintln!("chat: {nick} left ({e})"),
            }
        }
        let why = match error {
            Some(Error::TimedOut) => " (idle)",
            _ => "",
        };
        let notice = Bytes::from(format!("* {nick} left{why}\n"));
        self.broadcast(Audience::before(left, None), notice);
    }

    /// One line from a client: a command, or a message for the others.
    fn on_line(&mut self, id: ChannelId, data: &[u8]) {
        let line = trim_line(data);
        if line.is_empty() {
            return;
        }
        if line[0] == b'/' {
            let line = String::from_utf8_lossy(line);
            let (command, arg) = split_command(&line);
            match command {
                "/nick" => self.cmd_nick(id, arg),
                "/who" => self.send(id, self.room.who_line().into()),
                "/slow" => self.cmd_slow(id, arg),
                "/quit" => {
                    self.send(id, Bytes::from_static(b"* bye\n"));
                    let _ = self.shard.poller_mut().close(id);
                }
                _ => self.send(id, format!("* unknown command {command}\n").into()),
            }
            return;
        }
        let Some(Member { nick, .. }) = self.members.get(&id) else {
            return;
        };
        // One buffer per line, shared by every receiver on every shard.
        let mut out = BytesMut::with_capacity(nick.len() + 2 + line.len() + 1);
        out.put_slice(nick.as_bytes());
        out.put_slice(b": ");
        out.put_slice(line);
        out.put_u8(b'\n');
        self.broadcast(Audience::all_but(self.shard.group_id(id)), out.freeze());
    }

    /// Answers from a spawned task, later, through the `GroupHandle`: how
    /// long work (here a sleep) replies without holding up any shard. If
    /// the client has left meanwhile, the write fails with `Closed` and the
    /// answer is dropped.
    fn cmd_slow(&mut self, id: ChannelId, text: &str) {
        let group = self.room.group().clone();
        let to = self.shard.group_id(id);
        let answer = Bytes::from(format!("* slow: {text}\n"));
        tokio::spawn(async move {
            tokio::time::sleep(SLOW_DELAY).await;
            let _ = group.write(to, answer);
        });
    }

    fn cmd_nick(&mut self, id: ChannelId, name: &str) {
        if let Err(why) = check_nick(name) {
            self.send(id, format!("* invalid nick: {why}\n").into());
            return;
        }
        let Some(old) = self.members.get(&id).map(|m| m.nick.clone()) else {
            return;
        };
        let me = self.shard.group_id(id);
        match self.room.rename(me, &old, name) {
            Rename::Same => self.send(id, format!("* you are now {name}\n").into()),
            Rename::Taken => self.send(id, format!("* {name} is taken\n").into()),
            Rename::Done(change) => {
                if let Some(member) = self.members.get_mut(&id) {
                    member.nick = name.to_string();
                }
                if self.verbose {
                    eprintln!("chat: {old} is now {name}");
                }
                self.send(id, format!("* you are now {name}\n").into());
                let notice = Bytes::from(format!("* {old} is now {name}\n"));
                self.broadcast(Audience::before(change, Some(me)), notice);
            }
        }
    }

    /// Sends `line` to the clients in `to` on every shard: this shard's
    /// directly, the others' through one bus message per shard.
    pub(crate) fn broadcast(&mut self, to: Audience, line: Bytes) {
        self.room.broadcast_from(self.shard.index(), to, &line);
        self.fan_out(to, &line);
    }

    /// Sends `line` to the members of this shard in `to`: the same `Bytes`
    /// to all, so the line is never copied.
    fn fan_out(&mut self, to: Audience, line: &Bytes) {
        let except = to
            .except
            .filter(|client| client.shard == self.shard.index())
            .map(|client| client.id);
        for (&id, member) in &self.members {
            if Some(id) != except && member.joined < to.joined_before {
                send(&mut self.shard, &self.members, id, line.clone());
            }
        }
    }

    /// Queues `data` for this shard's channel `id`; see [`send`].
    pub(crate) fn send(&mut self, id: ChannelId, data: Bytes) {
        send(&mut self.shard, &self.members, id, data);
    }

    /// Starts the shutdown (console `/shutdown`, a signal, the demo's end):
    /// every shard queues the notice for its clients, then the group shuts
    /// down, closing every connection once what is queued is sent.
    pub(crate) fn shut_down(&mut self) {
        if self.shutting_down {
            return;
        }
        let notice = Bytes::from_static(b"* server shutting down\n");
        self.stop_serving(&notice);
        let mut queued = Vec::new();
        self.room.tell_others(self.shard.index(), || {
            let (tx, rx) = oneshot::channel();
            queued.push(rx);
            Bus::Shutdown {
                notice: notice.clone(),
                queued: tx,
            }
        });
        let group = self.room.group().clone();
        tokio::spawn(async move {
            // An error is a shard gone: it has nobody to tell.
            for rx in queued {
                let _ = rx.await;
            }
            group.shutdown();
        });
    }

    fn stop_serving(&mut self, notice: &Bytes) {
        self.fan_out(Audience::EVERYONE, notice);
        self.shutting_down = true;
    }
}

/// Queues `data` for `id` on `shard`. A client whose queue is full is not
/// reading: it is disconnected. Other failures mean it is already going.
/// A function of the fields it needs, so a fan-out can borrow `members`
/// while it writes.
fn send(shard: &mut Shard, members: &HashMap<ChannelId, Member>, id: ChannelId, data: Bytes) {
    match shard.poller_mut().write(id, data) {
        Ok(()) => {}
        Err(Error::QueueFull { limit }) => {
            let who = members.get(&id).map_or("the console", |m| m.nick.as_str());
            eprintln!("chat: disconnecting {who}: not reading ({limit} bytes queued)");
            // Not gracefully: it would not read what is queued anyway.
            let _ = shard.poller_mut().abort(id);
        }
        Err(_) => {}
    }
}
