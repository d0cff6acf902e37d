//! What every shard of the chat shares ([`Room`]): the group's handle,
//! each shard's bus, and the nick table. See the crate docs (main.rs) for
//! why lines take no lock here and nicks do.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use iochannels::{ChannelStats, GroupHandle, GroupId, PollerTotals};
use tokio::sync::{mpsc, oneshot};

/// What one shard tells another.
pub enum Bus {
    /// `line` for every member of the receiving shard but `except`.
    Broadcast {
        except: Option<GroupId>,
        line: Bytes,
    },
    /// Answer with the shard's counters and busiest clients.
    Stats(oneshot::Sender<ShardStats>),
    /// The server is shutting down: give the members `notice`, stop
    /// serving, and answer once it is queued.
    Shutdown {
        notice: Bytes,
        queued: oneshot::Sender<()>,
    },
}

/// One shard's part of a `/stats` report.
pub struct ShardStats {
    pub totals: PollerTotals,
    /// Its busiest clients, busiest first: (bytes in + out, nick, stats).
    pub busiest: Vec<(u64, String, ChannelStats)>,
}

/// Who is who, across shards.
#[derive(Default)]
struct Nicks {
    /// Every client's nick and where it lives.
    by_name: HashMap<String, GroupId>,
    /// Number of the last default nick handed out.
    guests: u64,
}

/// What a `/nick` did.
pub enum Rename {
    /// The client already had that nick.
    Same,
    Taken,
    Done,
}

/// The state every shard shares; one `Arc` of it per shard.
pub struct Room {
    group: GroupHandle,
    buses: Vec<mpsc::UnboundedSender<Bus>>,
    nicks: Mutex<Nicks>,
}

impl Room {
    /// A room for the group's shards, and each shard's end of its bus, by index.
    pub fn new(group: GroupHandle) -> (Room, Vec<mpsc::UnboundedReceiver<Bus>>) {
        let (buses, inboxes) = (0..group.shards())
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        let room = Room {
            group,
            buses,
            nicks: Mutex::default(),
        };
        (room, inboxes)
    }

    pub fn group(&self) -> &GroupHandle {
        &self.group
    }

    /// Sends `make()` to every shard but `from`.
    pub fn tell_others(&self, from: usize, mut make: impl FnMut() -> Bus) {
        for (shard, bus) in self.buses.iter().enumerate() {
            // A shard's receiver lives as long as its task: a send fails
            // only for a shard gone (panicked), which has no one to tell.
            if shard != from {
                let _ = bus.send(make());
            }
        }
    }

    /// `line` to every client on shards other than `from` (but `except`):
    /// one bus message per shard, whatever the number of clients.
    pub fn broadcast_from(&self, from: usize, except: Option<GroupId>, line: &Bytes) {
        self.tell_others(from, || Bus::Broadcast {
            except,
            line: line.clone(),
        });
    }

    /// A default nick `guestN`, not taken, now `client`'s.
    pub fn join(&self, client: GroupId) -> String {
        let mut nicks = self.nicks();
        let nick = loop {
            nicks.guests += 1;
            let nick = format!("guest{}", nicks.guests);
            if !nicks.by_name.contains_key(&nick) {
                break nick;
            }
        };
        nicks.by_name.insert(nick.clone(), client);
        nick
    }

    /// Gives `client` nick `new` instead of `old`, if nobody else has it.
    pub fn rename(&self, client: GroupId, old: &str, new: &str) -> Rename {
        let mut nicks = self.nicks();
        match nicks.by_name.get(new) {
            Some(&owner) if owner == client => Rename::Same,
            Some(_) => Rename::Taken,
            None => {
                nicks.by_name.remove(old);
                nicks.by_name.insert(new.to_string(), client);
                Rename::Done
            }
        }
    }

    pub fn leave(&self, nick: &str) {
        self.nicks().by_name.remove(nick);
    }

    pub fn find(&self, nick: &str) -> Option<GroupId> {
        self.nicks().by_name.get(nick).copied()
    }

    /// How many clients are in the room.
    pub fn len(&self) -> usize {
        self.nicks().by_name.len()
    }

    /// `* online (N): nick nick ...`, sorted.
    pub fn who_line(&self) -> String {
        let nicks = self.nicks();
        let mut names: Vec<&str> = nicks.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        format!("* online ({}): {}\n", names.len(), names.join(" "))
    }

    fn nicks(&self) -> MutexGuard<'_, Nicks> {
        // A shard that panicked holding it left the table whole: every
        // change above is one map operation.
        self.nicks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
