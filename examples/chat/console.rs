//! The admin console (stdin/stdout, registered in shard 0's poller) and the
//! `/stats` report, gathered from every shard.

use std::future::Future;

use bytes::Bytes;
use iochannels::{ChannelStats, PollerTotals};
use tokio::sync::oneshot;

use crate::room::{Audience, Bus, ShardStats};
use crate::shard::ChatShard;
use crate::{split_command, trim_line};

/// Busiest clients listed by `/stats`.
const BUSIEST: usize = 3;

impl ChatShard {
    /// One line from the admin console.
    pub(crate) fn on_console(&mut self, data: &[u8]) {
        let line = String::from_utf8_lossy(trim_line(data));
        if line.is_empty() {
            return;
        }
        let (command, arg) = split_command(&line);
        match command {
            "/who" => {
                let who = self.room.who_line();
                self.tell_console(who);
            }
            "/say" if !arg.is_empty() => {
                let line = Bytes::from(format!("* admin: {arg}\n"));
                self.broadcast(Audience::EVERYONE, line);
                let n = self.room.len();
                let plural = if n == 1 { "" } else { "s" };
                self.tell_console(format!("* said to {n} client{plural}\n"));
            }
            "/kick" if !arg.is_empty() => match self.room.find(arg) {
                Some(to) => {
                    // On any shard; the close goes out after the line.
                    let _ = self.shard.write(to, "* you were kicked by the admin\n");
                    let _ = self.shard.close(to);
                    self.tell_console(format!("* kicked {arg}\n"));
                }
                None => self.tell_console(format!("* no such nick {arg}\n")),
            },
            "/stats" => {
                let Some(console) = self.console else { return };
                let to = self.shard.group_id(console);
                let group = self.room.group().clone();
                let report = self.gather_stats();
                // The console is gone if the write fails: nobody to tell.
                tokio::spawn(async move {
                    let _ = group.write(to, report.await);
                });
            }
            "/shutdown" => {
                self.tell_console("* shutting down\n");
                self.shut_down();
            }
            _ => self.tell_console("* commands: /who, /say TEXT, /kick NICK, /stats, /shutdown\n"),
        }
    }

    fn tell_console(&mut self, text: impl Into<Bytes>) {
        if let Some(console) = self.console {
            self.send(console, text.into());
        }
    }

    /// The `/stats` report of every shard: this one's now, the others' as
    /// they answer over their buses (a shard gone is left out).
    pub(crate) fn gather_stats(&self) -> impl Future<Output = String> + Send + 'static {
        let own = self.shard_stats();
        let mut answers = Vec::new();
        self.room.tell_others(self.shard.index(), || {
            let (tx, rx) = oneshot::channel();
            answers.push(rx);
            Bus::Stats(tx)
        });
        async move {
            let mut all = vec![own];
            for rx in answers {
                if let Ok(stats) = rx.await {
                    all.push(stats);
                }
            }
            stats_report(&all)
        }
    }

    /// This shard's counters and busiest clients.
    pub(crate) fn shard_stats(&self) -> ShardStats {
        let poller = self.shard.poller();
        let totals = poller.totals();
        let mut busiest: Vec<(u64, &String, ChannelStats)> = self
            .members
            .iter()
            .filter_map(|(id, member)| {
                let s = poller.stats(*id)?;
                Some((s.bytes_in + s.bytes_out, &member.nick, s))
            })
            .collect();
        busiest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        ShardStats {
            totals,
            busiest: busiest
                .into_iter()
                .take(BUSIEST)
                .map(|(bytes, nick, s)| (bytes, nick.clone(), s))
                .collect(),
        }
    }
}

/// The counters summed over the shards (with each shard's channels when
/// there are several) and the busiest clients, as `* stats:` lines.
fn stats_report(shards: &[ShardStats]) -> String {
    let mut t = PollerTotals::default();
    for shard in shards {
        t += shard.totals;
    }
    let c = t.closed;
    let mut report = format!(
        "* stats: {} channels ({} registered, {} accepted, {} accept errors), \
         {} paused now ({} pauses), {} events, {} turns; closed: {} by peers, \
         {} here, {} too long, {} not reading, {} idle, {} failed\n",
        t.channels,
        t.registered,
        t.accepted,
        t.accept_errors,
        t.paused,
        t.pauses,
        t.events,
        t.turns,
        c.peer_eof,
        c.local,
        c.frame_too_long,
        c.queue_full,
        c.idle_timeout,
        c.error
    );
    if shards.len() > 1 {
        let each: Vec<String> = shards
            .iter()
            .map(|s| s.totals.channels.to_string())
            .collect();
        report.push_str(&format!(
            "* stats: {} shards, channels on each: {}\n",
            shards.len(),
            each.join(" ")
        ));
    }
    let mut busiest: Vec<&(u64, String, ChannelStats)> =
        shards.iter().flat_map(|s| &s.busiest).collect();
    busiest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, nick, s) in busiest.into_iter().take(BUSIEST) {
        report.push_str(&format!(
            "* stats: {nick}: {} lines ({} B) in, {} writes ({} B) out, {} B queued\n",
            s.frames_in, s.bytes_in, s.frames_out, s.bytes_out, s.queued
        ));
    }
    report
}
