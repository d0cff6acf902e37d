//! `iochannels::Queue` waiters through the public API: FIFO fairness of
//! waiting puts checked poll by poll, and cancellation at every waiting
//! point (puts, gets, streams; dropped by hand or by timeouts) losing no
//! item and no wake-up. The plain behaviours are in queue.rs.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iochannels::{Queue, QueueClosed, TryGetError, TryPutError};
use support::within;
use tokio::time::timeout;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq};

// ---- fairness ----

#[test]
fn waiting_putters_enter_first_come_first_served() {
    let queue = Queue::bounded(1);
    queue.try_put(0).unwrap();
    let mut a = spawn(queue.put(1));
    let mut b = spawn(queue.put(2));
    let mut c = spawn(queue.put(3));
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    assert_pending!(c.poll());

    assert_eq!(queue.try_get(), Ok(0));
    assert!(a.is_woken() && !b.is_woken() && !c.is_woken());
    // Polled out of order: the later ones still wait, the first one is in.
    assert_pending!(c.poll());
    assert_pending!(b.poll());
    assert_ready_eq!(a.poll(), Ok(()));

    assert_eq!(queue.try_get(), Ok(1));
    assert!(b.is_woken() && !c.is_woken());
    assert_ready_eq!(b.poll(), Ok(()));
    assert_eq!(queue.try_get(), Ok(2));
    assert_ready_eq!(c.poll(), Ok(()));
    assert_eq!(queue.try_get(), Ok(3));
}

#[test]
fn a_new_put_never_overtakes_waiting_putters() {
    let queue = Queue::bounded(2);
    queue.try_put(0).unwrap();
    queue.try_put(1).unwrap();
    let mut waiting = spawn(queue.put(2));
    assert_pending!(waiting.poll());
    // Room appears and goes to the waiting put, not to newcomers.
    assert_eq!(queue.try_get(), Ok(0));
    assert_eq!(queue.try_put(9), Err(TryPutError::Full(9)));
    let mut late = spawn(queue.put(3));
    assert_pending!(late.poll());
    assert_ready_eq!(waiting.poll(), Ok(()));
    assert_eq!(queue.try_get(), Ok(1));
    assert_ready_eq!(late.poll(), Ok(()));
    let rest: Vec<_> = std::iter::from_fn(|| queue.try_get().ok()).collect();
    assert_eq!(rest, [2, 3]);
}

// On one thread, so that both producers are waiting whenever the consumer
// makes room (on two workers under load one producer's thread may simply
// not run for a while, which is not starvation: the test flaked so).
#[tokio::test(flavor = "current_thread")]
async fn one_busy_producer_cannot_starve_another() {
    let queue = Queue::bounded(1);
    let mut producers = Vec::new();
    for who in 0..2u8 {
        let queue = queue.clone();
        producers.push(tokio::spawn(async move {
            while queue.put(who).await.is_ok() {}
        }));
    }
    let mut counts = [0usize; 2];
    for _ in 0..2000 {
        counts[usize::from(within(queue.get()).await.unwrap())] += 1;
    }
    queue.close();
    for p in producers {
        within(p).await.unwrap();
    }
    // FIFO among waiting puts serves both (here 1334 and 666, from the
    // order the two tasks run in); LIFO waiters would hand every free slot
    // to the same producer and leave the other near 0.
    assert!(counts.iter().all(|&n| n >= 600), "{counts:?}");
}

// ---- cancellation ----

#[test]
fn dropping_a_waiting_put_does_not_queue_its_item_and_drops_it() {
    let queue = Queue::bounded(1);
    queue.try_put(Arc::new(0)).unwrap();
    let item = Arc::new(1);
    let mut put = spawn(queue.put(Arc::clone(&item)));
    assert_pending!(put.poll());
    drop(put);
    assert_eq!(
        Arc::strong_count(&item),
        1,
        "the item was dropped with the future"
    );
    assert_eq!(*queue.try_get().unwrap(), 0);
    assert_eq!(queue.try_get().unwrap_err(), TryGetError::Empty);
}

#[test]
fn dropping_a_waiting_put_lets_the_next_putter_in() {
    let queue = Queue::bounded(1);
    queue.try_put(0).unwrap();
    let mut first = spawn(queue.put(1));
    let mut second = spawn(queue.put(2));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    drop(first);
    assert_eq!(queue.try_get(), Ok(0));
    assert!(second.is_woken());
    assert_ready_eq!(second.poll(), Ok(()));
    assert_eq!(queue.try_get(), Ok(2));
}

#[test]
fn a_put_dropped_after_its_item_entered_still_delivers_it_once() {
    let queue = Queue::bounded(1);
    queue.try_put(0).unwrap();
    let mut put = spawn(queue.put(1));
    assert_pending!(put.poll());
    assert_eq!(queue.try_get(), Ok(0));
    drop(put); // woken, never polled again
    assert_eq!(queue.try_get(), Ok(1));
    assert_eq!(queue.try_get(), Err(TryGetError::Empty));
}

#[test]
fn dropping_a_woken_get_passes_the_item_to_the_next_getter() {
    let queue = Queue::unbounded();
    let mut first = spawn(queue.get());
    let mut second = spawn(queue.get());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    queue.try_put("item").unwrap();
    assert!(first.is_woken() && !second.is_woken());
    drop(first);
    assert!(second.is_woken(), "the wake-up was passed on");
    assert_ready_eq!(second.poll(), Ok("item"));
}

#[test]
fn dropping_a_woken_get_leaves_the_item_gettable() {
    let queue = Queue::unbounded();
    let mut get = spawn(queue.get());
    assert_pending!(get.poll());
    queue.try_put(5).unwrap();
    drop(get);
    assert_eq!(queue.try_get(), Ok(5));
}

#[test]
fn dropping_a_waiting_stream_passes_the_wake_up_on() {
    let queue = Queue::unbounded();
    let mut stream = spawn(queue.stream());
    let mut get = spawn(queue.get());
    assert_pending!(stream.poll_next());
    assert_pending!(get.poll());
    queue.try_put(1).unwrap();
    drop(stream);
    assert!(get.is_woken());
    assert_ready_eq!(get.poll(), Ok(1));
}

#[test]
fn a_getter_woken_for_an_item_someone_else_took_waits_again_in_its_place() {
    let queue = Queue::unbounded();
    let mut first = spawn(queue.get());
    let mut second = spawn(queue.get());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    queue.try_put(1).unwrap();
    assert_eq!(queue.try_get(), Ok(1)); // taken before the woken getter ran
    assert_pending!(first.poll());
    queue.try_put(2).unwrap();
    assert!(
        first.is_woken() && !second.is_woken(),
        "the first getter kept its place"
    );
    assert_ready_eq!(first.poll(), Ok(2));
}

#[test]
fn an_item_entering_from_a_waiting_put_wakes_a_waiting_getter() {
    let queue = Queue::bounded(1);
    let mut first = spawn(queue.get());
    let mut second = spawn(queue.get());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    queue.try_put(0).unwrap(); // wakes the first getter
    let mut put = spawn(queue.put(1));
    assert_pending!(put.poll()); // full: waits
    assert_ready_eq!(first.poll(), Ok(0)); // room: 1 enters from the waiting put
    assert!(put.is_woken());
    assert!(second.is_woken(), "the item that entered was announced");
    assert_ready_eq!(second.poll(), Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_cancelled_by_timeouts_lose_no_item_and_no_wake_up() {
    let queue = Queue::bounded(4);
    let total = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    let received = Arc::new(AtomicUsize::new(0));
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let (queue, received) = (queue.clone(), Arc::clone(&received));
        consumers.push(tokio::spawn(async move {
            let mut sum = 0u64;
            loop {
                // Short timeouts cancel gets at every stage: waiting, woken, ready.
                match timeout(Duration::from_micros(50), queue.get()).await {
                    Ok(Ok(n)) => {
                        sum += n;
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(QueueClosed)) => return sum,
                    Err(_elapsed) => tokio::task::yield_now().await,
                }
            }
        }));
    }
    for n in 0..total {
        within(queue.put(n)).await.unwrap();
        if n % 64 == 0 {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
    }
    queue.close();
    let mut sum = 0;
    for c in consumers {
        sum += within(c).await.unwrap();
    }
    assert_eq!(received.load(Ordering::Relaxed), total as usize);
    assert_eq!(sum, (0..total).sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_cancelled_by_timeouts_are_either_delivered_or_dropped_never_both() {
    let queue = Queue::bounded(2);
    let rounds = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    let consumer = tokio::spawn({
        let queue = queue.clone();
        async move {
            let mut got = Vec::new();
            while let Ok(n) = queue.get().await {
                got.push(n);
                if got.len() % 16 == 0 {
                    tokio::time::sleep(Duration::from_micros(50)).await;
                }
            }
            got
        }
    });
    let mut completed = HashSet::new();
    for n in 0..rounds {
        if let Ok(done) = timeout(Duration::from_micros(20), queue.put(n)).await {
            done.unwrap();
            completed.insert(n);
        }
    }
    queue.close();
    let got = within(consumer).await.unwrap();
    let unique: HashSet<_> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "no item arrived twice");
    assert!(
        completed.is_subset(&unique),
        "every completed put was delivered"
    );
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "one producer's items stay in order"
    );
}
