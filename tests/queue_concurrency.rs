//! `iochannels::Queue` under concurrency through the public API: many tasks
//! on multi-thread and current-thread runtimes with `close` racing the last
//! puts, and random interleavings of every operation checked poll by poll.
//! The plain behaviours are in queue.rs.

mod support;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use iochannels::{Closed, Queue, QueueClosed, TryGetError, TryPutError};
use support::within;
use tokio_test::assert_ready;
use tokio_test::task::spawn;

// ---- many tasks ----

/// `producers` tasks put their share of `0..items` through `bounded(64)`,
/// `consumers` tasks get; `close` races the last puts. Every item whose put
/// returned `Ok` must arrive exactly once; every item given back must not.
async fn move_numbered_items(items: u64, producers: u64, consumers: usize) {
    let queue = Queue::bounded(64);
    let taken = Arc::new(AtomicUsize::new(0));
    let mut consumer_tasks = Vec::new();
    for _ in 0..consumers {
        let (queue, taken) = (queue.clone(), Arc::clone(&taken));
        consumer_tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(n) = queue.get().await {
                got.push(n);
                taken.fetch_add(1, Ordering::Relaxed);
            }
            got
        }));
    }
    let mut producer_tasks = Vec::new();
    for p in 0..producers {
        let queue = queue.clone();
        producer_tasks.push(tokio::spawn(async move {
            let (mut ok, mut refused) = (Vec::new(), Vec::new());
            for n in (items * p / producers)..(items * (p + 1) / producers) {
                match queue.put(n).await {
                    Ok(()) => ok.push(n),
                    Err(Closed(back)) => {
                        assert_eq!(back, n, "a refused put gives its own item back");
                        refused.push(n);
                    }
                }
            }
            (ok, refused)
        }));
    }
    // Close while the producers are still putting their last items.
    let close_at = (items - items / 100) as usize;
    while taken.load(Ordering::Relaxed) < close_at {
        tokio::task::yield_now().await;
    }
    queue.close();
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for t in producer_tasks {
        let (o, r) = within(t).await.unwrap();
        ok.extend(o);
        refused.extend(r);
    }
    let mut got = Vec::new();
    for t in consumer_tasks {
        got.extend(within(t).await.unwrap());
    }
    assert_eq!(ok.len() + refused.len(), items as usize);
    got.sort_unstable();
    ok.sort_unstable();
    assert_eq!(got, ok, "exactly the accepted items arrive, each once");
    within(queue.join()).await;
}

#[test]
fn many_producers_and_consumers_move_every_accepted_item_exactly_once() {
    let items = 1_000_000;
    for _ in 0..3 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(move_numbered_items(items, 8, 8));
    }
}

#[test]
#[ignore = "soak: ten more rounds of a million items; run with --release --ignored"]
fn many_producers_and_consumers_soak_ten_rounds_of_a_million_items() {
    for _ in 0..10 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(move_numbered_items(1_000_000, 8, 8));
    }
}

#[tokio::test]
async fn many_tasks_on_a_current_thread_runtime_move_every_item() {
    move_numbered_items(20_000, 8, 8).await;
}

// ---- random interleavings, poll by poll ----

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::pin::Pin;
    use tokio_test::task::Spawn;

    #[derive(Debug, Clone)]
    enum Op {
        TryPut,
        TryGet,
        StartPut,
        StartGet,
        StartJoin,
        PollPut(usize),
        PollGet(usize),
        PollJoin(usize),
        DropPut(usize),
        DropGet(usize),
        Close,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::TryPut),
            3 => Just(Op::TryGet),
            4 => Just(Op::StartPut),
            4 => Just(Op::StartGet),
            1 => Just(Op::StartJoin),
            4 => any::<usize>().prop_map(Op::PollPut),
            4 => any::<usize>().prop_map(Op::PollGet),
            1 => any::<usize>().prop_map(Op::PollJoin),
            2 => any::<usize>().prop_map(Op::DropPut),
            2 => any::<usize>().prop_map(Op::DropGet),
            1 => Just(Op::Close),
        ]
    }

    type Task<'a, O> = Spawn<Pin<Box<dyn Future<Output = O> + 'a>>>;
    type PutTask<'a> = (u32, Task<'a, Result<(), Closed<u32>>>);

    /// Runs `ops` against one queue, checking after every step that items
    /// come out in the order they went in, that no waiter is left unwoken
    /// while it could proceed, and at the end that exactly the accepted items
    /// (plus possibly those of puts dropped after they entered) came out once.
    fn run(capacity: usize, ops: Vec<Op>) {
        let queue = Queue::bounded(capacity);
        let mut next = 0u32;
        let (mut accepted, mut refused, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
        let mut delivered: Vec<u32> = Vec::new();
        let mut puts: Vec<PutTask<'_>> = Vec::new();
        let mut gets: Vec<Task<'_, Result<u32, QueueClosed>>> = Vec::new();
        let mut joins: Vec<Task<'_, ()>> = Vec::new();
        let put_done =
            |v: u32, r: Result<(), Closed<u32>>, acc: &mut Vec<u32>, refd: &mut Vec<u32>| match r {
                Ok(()) => acc.push(v),
                Err(Closed(back)) => {
                    assert_eq!(back, v, "a refused put gives its own item back");
                    refd.push(v);
                }
            };
        for op in ops {
            match op {
                Op::TryPut => {
                    let v = next;
                    next += 1;
                    match queue.try_put(v) {
                        Ok(()) => accepted.push(v),
                        Err(TryPutError::Closed(back)) => {
                            assert_eq!(back, v);
                            refused.push(v);
                        }
                        Err(TryPutError::Full(back)) => {
                            assert_eq!(back, v);
                            let waiting = puts.iter().any(|(_, p)| !p.is_woken());
                            assert!(
                                queue.is_full() || waiting,
                                "Full only when full or puts wait"
                            );
                            refused.push(v);
                        }
                    }
                }
                Op::TryGet => match queue.try_get() {
                    Ok(v) => delivered.push(v),
                    Err(TryGetError::Empty) => assert!(queue.is_empty() && !queue.is_closed()),
                    Err(TryGetError::Closed) => assert!(queue.is_empty() && queue.is_closed()),
                },
                Op::StartPut => {
                    let v = next;
                    next += 1;
                    let mut task: Task<'_, _> = spawn(Box::pin(queue.put(v)));
                    match task.poll() {
                        std::task::Poll::Ready(r) => put_done(v, r, &mut accepted, &mut refused),
                        std::task::Poll::Pending => puts.push((v, task)),
                    }
                }
                Op::StartGet => {
                    let mut task: Task<'_, _> = spawn(Box::pin(queue.get()));
                    match task.poll() {
                        std::task::Poll::Ready(Ok(v)) => delivered.push(v),
                        std::task::Poll::Ready(Err(QueueClosed)) => assert!(queue.is_closed()),
                        std::task::Poll::Pending => gets.push(task),
                    }
                }
                Op::StartJoin => {
                    let mut task: Task<'_, ()> = spawn(Box::pin(queue.join()));
                    if task.poll().is_pending() {
                        joins.push(task);
                    }
                }
                Op::PollPut(i) if !puts.is_empty() => {
                    let i = i % puts.len();
                    if let std::task::Poll::Ready(r) = puts[i].1.poll() {
                        let (v, _) = puts.remove(i);
                        put_done(v, r, &mut accepted, &mut refused);
                    }
                }
                Op::PollGet(i) if !gets.is_empty() => {
                    let i = i % gets.len();
                    if let std::task::Poll::Ready(r) = gets[i].poll() {
                        drop(gets.remove(i));
                        if let Ok(v) = r {
                            delivered.push(v);
                        }
                    }
                }
                Op::PollJoin(i) if !joins.is_empty() => {
                    let i = i % joins.len();
                    if joins[i].poll().is_ready() {
                        drop(joins.remove(i));
                    }
                }
                Op::DropPut(i) if !puts.is_empty() => dropped.push(puts.remove(i % puts.len()).0),
                Op::DropGet(i) if !gets.is_empty() => drop(gets.remove(i % gets.len())),
                Op::Close => {
                    queue.close();
                }
                _ => {}
            }
            // Items leave in the order they entered.
            assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{delivered:?}");
            assert!(queue.len() <= capacity);
            // A put still waiting unwoken means the queue is full and open.
            if puts.iter().any(|(_, p)| !p.is_woken()) {
                assert!(queue.is_full() && !queue.is_closed());
            }
            // While items wait, as many waiting gets are woken as could take one.
            let woken = gets.iter().filter(|g| g.is_woken()).count();
            assert!(woken >= queue.len().min(gets.len()), "a wake-up was lost");
            if queue.is_closed() {
                assert!(gets.iter().all(|g| g.is_woken()));
                if queue.is_empty() {
                    assert!(joins.iter().all(|j| j.is_woken()));
                }
            }
        }
        queue.close();
        for (v, mut put) in puts {
            let r = assert_ready!(put.poll());
            put_done(v, r, &mut accepted, &mut refused);
        }
        for mut get in gets {
            if let Ok(v) = assert_ready!(get.poll()) {
                delivered.push(v);
            }
        }
        while let Ok(v) = queue.try_get() {
            delivered.push(v);
        }
        for mut join in joins {
            assert_ready!(join.poll());
        }
        assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{delivered:?}");
        let delivered: HashSet<u32> = delivered.into_iter().collect();
        for v in &accepted {
            assert!(delivered.contains(v), "accepted {v} was lost");
        }
        for v in &refused {
            assert!(!delivered.contains(v), "refused {v} was delivered");
        }
        for v in &delivered {
            assert!(
                accepted.contains(v) || dropped.contains(v),
                "{v} came from nowhere"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 500 } else { 5000 }))]

        #[test]
        fn random_interleavings_keep_order_wake_ups_and_items(
            capacity in 1usize..4,
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            run(capacity, ops);
        }
    }
}
