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
    /// `line` for the receiving shard's members in `to`.
    Broadcast { to: Audience, line: Bytes },
    /// Answer with the shard's counters and busiest clients.
    Stats(oneshot::Sender<ShardStats>),
    /// The server is shutting down: give the members `notice`, stop
    /// serving, and answer once it is queued.
    Shutdown {
        notice: Bytes,
        queued: oneshot::Sender<()>,
    },
}

/// Who a broadcast is for: every client but `except` that joined before
/// the room's change number `joined_before`.
///
/// Shards hear of a change (a join, a rename, a leave) at different times:
/// without the number, a client that joined on shard 1 just after another
/// joined on shard 0 could be told of that earlier join, which it would
/// never be on one shard. Every notice of a change carries the change's
/// number, taken under the nick table's lock with the change itself.
#[derive(Clone, Copy)]
pub struct Audience {
    pub except: Option<GroupId>,
    pub joined_before: u64,
}

impl Audience {
    /// Whoever is in the room when the line arrives.
    pub const EVERYONE: Audience = Audience {
        except: None,
        joined_before: u64::MAX,
    };

    /// Whoever is in the room but `client`.
    pub fn all_but(client: GroupId) -> Audience {
        Audience {
            except: Some(client),
            ..Audience::EVERYONE
        }
    }

    /// Those who were in the room before change `change`, but `except`.
    pub fn before(change: u64, except: Option<GroupId>) -> Audience {
        Audience {
            except,
            joined_before: change,
        }
    }
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
    /// Number of the last change (join, rename, leave).
    changes: u64,
}

impl Nicks {
    fn change(&mut self) -> u64 {
        self.changes += 1;
        self.changes
    }
}

/// What a `/nick` did.
pub enum Rename {
    /// The client already had that nick.
    Same,
    Taken,
    /// Renamed, by this change.
    Done(u64),
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

    /// `line` to the clients in `to` on shards other than `from`: one bus
    /// message per shard, whatever the number of clients.
    pub fn broadcast_from(&self, from: usize, to: Audience, line: &Bytes) {
        self.tell_others(from, || Bus::Broadcast {
            to,
            line: line.clone(),
        });
    }

    /// A default nick `guestN`, not taken, now `client`'s; and the
    /// number of this change.
    pub fn join(&self, client: GroupId) -> (String, u64) {
        let mut nicks = self.nicks();
        let nick = loop {
            nicks.guests += 1;
            let nick = format!("guest{}", nicks.guests);
            if !nicks.by_name.contains_key(&nick) {
                break nick;
            }
        };
        nicks.by_name.insert(nick.clone(), client);
        (nick, nicks.change())
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
                Rename::Done(nicks.change())
            }
        }
    }

    /// Frees `nick`; returns the number of this change.
    pub fn leave(&self, nick: &str) -> u64 {
        let mut nicks = self.nicks();
        nicks.by_name.remove(nick);
        nicks.change()
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
