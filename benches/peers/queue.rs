//! The `queue` scenarios: N numbered `u64` moved through a bounded(1024) and
//! an unbounded queue, by 1 producer/1 consumer and by 4 producers/4
//! consumers, on a current-thread runtime and on a 2-worker multi-thread
//! runtime; `iochannels::Queue` side by side with tokio's mpsc (single
//! consumer only), async-channel, flume and kanal (async API).
//!
//! Every contender does the same work: producers split the numbers, consumers
//! take until the end, and the run checks that every item arrived. The end
//! is each contender's own: `Queue::close` after the producers finished, or
//! the last sender dropped for the channels.
//!
//! `IOCHANNELS_BENCH_QUEUE_N=N` sets the item count (default 2,000,000, so
//! that the eight tables together stay well under a minute).

use std::future::Future;
use std::hint::black_box;

use tokio::task::JoinHandle;

use crate::harness::{runtime, time_on, Harness, Table};

const DEFAULT_N: u64 = 2_000_000;
const BOUND: usize = 1024;

pub fn run(h: &Harness) {
    if !h.wants("queue") {
        return;
    }
    let n = std::env::var("IOCHANNELS_BENCH_QUEUE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_N);
    println!("\n# queue: {n} u64 items per run");
    for workers in [0, 2] {
        let rt = runtime(workers);
        let rt_name = if workers == 0 {
            "current_thread".to_owned()
        } else {
            format!("multi_thread({workers})")
        };
        for cap in [Some(BOUND), None] {
            for (p, c) in [(1, 1), (4, 4)] {
                let cap_name = cap.map_or("unbounded".to_owned(), |b| format!("bounded({b})"));
                let title = format!("queue {cap_name}, {p}p/{c}c, {rt_name}, {n} items");
                let mut table = Table::new(title, "items/s", n);
                let s = Scenario { cap, p, c, n };
                table.time("iochannels::Queue", h.reps, || time_on(&rt, s.iochannels()));
                if c == 1 {
                    table.time("tokio::sync::mpsc", h.reps, || time_on(&rt, s.tokio_mpsc()));
                }
                table.time("async-channel", h.reps, || time_on(&rt, s.async_channel()));
                table.time("flume", h.reps, || time_on(&rt, s.flume()));
                table.time("kanal", h.reps, || time_on(&rt, s.kanal()));
                table.print("async-channel");
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Scenario {
    cap: Option<usize>,
    p: usize,
    c: usize,
    n: u64,
}

impl Scenario {
    /// The numbers producer `i` of `p` puts: a contiguous share of 0..n.
    fn share(&self, i: usize) -> std::ops::Range<u64> {
        let (p, i) = (self.p as u64, i as u64);
        (self.n * i / p)..(self.n * (i + 1) / p)
    }

    /// Spawns the producers and consumers, drops the closures (and the
    /// senders they own) so only the tasks keep the channel open, waits for
    /// the producers, runs `end` (the queue's close), then checks the
    /// consumers saw every item.
    async fn drive<P, PF, C, CF>(&self, mut produce: P, mut consume: C, end: impl FnOnce())
    where
        P: FnMut(std::ops::Range<u64>) -> PF,
        PF: Future<Output = ()> + Send + 'static,
        C: FnMut() -> CF,
        CF: Future<Output = u64> + Send + 'static,
    {
        let producers: Vec<JoinHandle<()>> = (0..self.p)
            .map(|i| tokio::spawn(produce(self.share(i))))
            .collect();
        let consumers: Vec<JoinHandle<u64>> =
            (0..self.c).map(|_| tokio::spawn(consume())).collect();
        drop((produce, consume));
        for p in producers {
            p.await.expect("producer");
        }
        end();
        let mut got = 0;
        for c in consumers {
            got += c.await.expect("consumer");
        }
        assert_eq!(got, self.n, "every item arrives");
    }

    async fn iochannels(self) {
        let q = match self.cap {
            Some(cap) => iochannels::Queue::bounded(cap),
            None => iochannels::Queue::unbounded(),
        };
        let (pq, cq) = (q.clone(), q.clone());
        self.drive(
            move |range| {
                let q = pq.clone();
                async move {
                    for v in range {
                        q.put(v).await.expect("open");
                    }
                }
            },
            move || {
                let q = cq.clone();
                async move {
                    let mut count = 0;
                    while let Ok(v) = q.get().await {
                        black_box(v);
                        count += 1;
                    }
                    count
                }
            },
            move || {
                q.close();
            },
        )
        .await;
    }

    async fn tokio_mpsc(self) {
        use tokio::sync::mpsc;
        assert_eq!(self.c, 1, "tokio's mpsc has one consumer");
        match self.cap {
            Some(cap) => {
                let (tx, rx) = mpsc::channel::<u64>(cap);
                let mut rx = Some(rx);
                self.drive(
                    move |range| {
                        let tx = tx.clone();
                        async move {
                            for v in range {
                                tx.send(v).await.expect("open");
                            }
                        }
                    },
                    move || {
                        let mut rx = rx.take().expect("one consumer");
                        async move {
                            let mut count = 0;
                            while let Some(v) = rx.recv().await {
                                black_box(v);
                                count += 1;
                            }
                            count
                        }
                    },
                    || {},
                )
                .await;
            }
            None => {
                let (tx, rx) = mpsc::unbounded_channel::<u64>();
                let mut rx = Some(rx);
                self.drive(
                    move |range| {
                        let tx = tx.clone();
                        async move {
                            for v in range {
                                tx.send(v).expect("open");
                            }
                        }
                    },
                    move || {
                        let mut rx = rx.take().expect("one consumer");
                        async move {
                            let mut count = 0;
                            while let Some(v) = rx.recv().await {
                                black_box(v);
                                count += 1;
                            }
                            count
                        }
                    },
                    || {},
                )
                .await;
            }
        }
    }

    async fn async_channel(self) {
        let (tx, rx) = match self.cap {
            Some(cap) => async_channel::bounded::<u64>(cap),
            None => async_channel::unbounded(),
        };
        self.drive(
            move |range| {
                let tx = tx.clone();
                async move {
                    for v in range {
                        tx.send(v).await.expect("open");
                    }
                }
            },
            move || {
                let rx = rx.clone();
                async move {
                    let mut count = 0;
                    while let Ok(v) = rx.recv().await {
                        black_box(v);
                        count += 1;
                    }
                    count
                }
            },
            || {},
        )
        .await;
    }

    async fn flume(self) {
        let (tx, rx) = match self.cap {
            Some(cap) => flume::bounded::<u64>(cap),
            None => flume::unbounded(),
        };
        self.drive(
            move |range| {
                let tx = tx.clone();
                async move {
                    for v in range {
                        tx.send_async(v).await.expect("open");
                    }
                }
            },
            move || {
                let rx = rx.clone();
                async move {
                    let mut count = 0;
                    while let Ok(v) = rx.recv_async().await {
                        black_box(v);
                        count += 1;
                    }
                    count
                }
            },
            || {},
        )
        .await;
    }

    async fn kanal(self) {
        let (tx, rx) = match self.cap {
            Some(cap) => kanal::bounded_async::<u64>(cap),
            None => kanal::unbounded_async(),
        };
        self.drive(
            move |range| {
                let tx = tx.clone();
                async move {
                    for v in range {
                        tx.send(v).await.expect("open");
                    }
                }
            },
            move || {
                let rx = rx.clone();
                async move {
                    let mut count = 0;
                    while let Ok(v) = rx.recv().await {
                        black_box(v);
                        count += 1;
                    }
                    count
                }
            },
            || {},
        )
        .await;
    }
}
