//! Integration tests of `iochannels::Queue` through its public API only: every
//! behaviour of Python's aiochannel, FIFO fairness of waiting puts checked
//! poll by poll, cancellation at every waiting point, and many tasks on a
//! multi-thread runtime with `close` racing the last puts.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{Sink, SinkExt, StreamExt};
use iochannels::{Closed, Queue, QueueClosed, TryGetError, TryPutError};
use tokio::time::timeout;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

/// Every wait in these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out: {what}"),
    }
}

// ---- put, get, try_put, try_get ----

#[tokio::test]
async fn put_then_get_returns_items_in_order_bounded_and_unbounded() {
    for queue in [Queue::bounded(8), Queue::unbounded()] {
        for n in 0..8 {
            within("put", queue.put(n)).await.unwrap();
        }
        for n in 0..8 {
            assert_eq!(within("get", queue.get()).await, Ok(n));
        }
    }
}

#[test]
fn try_put_then_try_get_returns_items_in_order() {
    let queue = Queue::bounded(3);
    for c in ['a', 'b', 'c'] {
        assert_eq!(queue.try_put(c), Ok(()));
    }
    assert_eq!(queue.try_get(), Ok('a'));
    assert_eq!(queue.try_get(), Ok('b'));
    assert_eq!(queue.try_get(), Ok('c'));
    assert_eq!(queue.try_get(), Err(TryGetError::Empty));
}

#[test]
fn try_put_into_a_full_queue_fails_full_with_the_item() {
    let queue = Queue::bounded(2);
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    let err = queue.try_put(3).unwrap_err();
    assert!(err.is_full() && !err.is_closed());
    assert_eq!(err, TryPutError::Full(3));
    assert_eq!(err.into_inner(), 3);
    assert_eq!(queue.len(), 2);
}

#[test]
fn try_put_into_a_closed_queue_fails_closed_with_the_item() {
    let queue = Queue::unbounded();
    queue.close();
    let err = queue.try_put("x").unwrap_err();
    assert!(err.is_closed() && !err.is_full());
    assert_eq!(err, TryPutError::Closed("x"));
}

#[test]
fn try_get_from_an_empty_open_queue_fails_empty() {
    let queue = Queue::<u8>::bounded(1);
    let err = queue.try_get().unwrap_err();
    assert!(err.is_empty() && !err.is_closed());
}

#[test]
fn try_get_from_a_closed_empty_queue_fails_closed() {
    let queue = Queue::<u8>::bounded(1);
    queue.close();
    let err = queue.try_get().unwrap_err();
    assert!(err.is_closed() && !err.is_empty());
}

#[test]
fn get_waits_for_a_put() {
    let queue = Queue::unbounded();
    let mut get = spawn(queue.get());
    assert_pending!(get.poll());
    queue.try_put(7).unwrap();
    assert!(get.is_woken());
    assert_ready_eq!(get.poll(), Ok(7));
}

#[test]
fn put_waits_for_room_in_a_full_queue() {
    let queue = Queue::bounded(1);
    queue.try_put(1).unwrap();
    let mut put = spawn(queue.put(2));
    assert_pending!(put.poll());
    assert_eq!(queue.try_get(), Ok(1));
    assert!(put.is_woken());
    assert_ready_eq!(put.poll(), Ok(()));
    assert_eq!(queue.try_get(), Ok(2));
}

#[test]
fn clones_share_one_queue() {
    let a = Queue::bounded(4);
    let b = a.clone();
    a.try_put(1).unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b.try_get(), Ok(1));
    b.close();
    assert!(a.is_closed());
}

// ---- close ----

#[test]
fn close_returns_true_only_for_the_call_that_closed() {
    let queue = Queue::<()>::unbounded();
    assert!(!queue.is_closed());
    assert!(queue.close());
    assert!(!queue.clone().close());
    assert!(queue.is_closed());
}

#[test]
fn close_wakes_waiting_putters_with_their_items() {
    let queue = Queue::bounded(1);
    queue.try_put(0).unwrap();
    let mut puts: Vec<_> = (1..=3).map(|n| spawn(queue.put(n))).collect();
    for put in &mut puts {
        assert_pending!(put.poll());
    }
    assert!(queue.close());
    for (n, put) in (1..=3).zip(&mut puts) {
        assert!(put.is_woken());
        assert_ready_eq!(put.poll(), Err(Closed(n)));
    }
    // The item queued before the close is still delivered, the waiting ones are not.
    assert_eq!(queue.try_get(), Ok(0));
    assert_eq!(queue.try_get(), Err(TryGetError::Closed));
}

#[test]
fn close_wakes_waiting_getters_of_an_empty_queue_with_an_error() {
    let queue = Queue::<u32>::bounded(4);
    let mut gets: Vec<_> = (0..3).map(|_| spawn(queue.get())).collect();
    for get in &mut gets {
        assert_pending!(get.poll());
    }
    queue.close();
    for get in &mut gets {
        assert!(get.is_woken());
        assert_ready_eq!(get.poll(), Err(QueueClosed));
    }
}

#[tokio::test]
async fn put_after_close_fails_with_the_item() {
    let queue = Queue::bounded(4);
    queue.close();
    assert_eq!(
        within("put", queue.put(vec![1, 2])).await,
        Err(Closed(vec![1, 2]))
    );
}

#[tokio::test]
async fn get_after_close_drains_the_remaining_items_in_order_then_fails() {
    let queue = Queue::bounded(4);
    for n in 0..4 {
        queue.put(n).await.unwrap();
    }
    queue.close();
    for n in 0..4 {
        assert_eq!(within("get", queue.get()).await, Ok(n));
    }
    assert_eq!(within("get", queue.get()).await, Err(QueueClosed));
    assert_eq!(within("get", queue.get()).await, Err(QueueClosed));
}

// ---- join ----

#[test]
fn join_is_pending_until_closed_and_drained() {
    let queue = Queue::unbounded();
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    let mut join = spawn(queue.join());
    assert_pending!(join.poll());
    queue.close();
    assert!(!join.is_woken(), "items remain after the close");
    assert_pending!(join.poll());
    assert_eq!(queue.try_get(), Ok(1));
    assert!(!join.is_woken(), "one item remains");
    assert_pending!(join.poll());
    assert_eq!(queue.try_get(), Ok(2));
    assert!(join.is_woken(), "the last item was taken after the close");
    assert_ready!(join.poll());
}

#[test]
fn join_returns_at_close_when_the_queue_is_empty() {
    let queue = Queue::<u8>::bounded(2);
    let mut joins: Vec<_> = (0..2).map(|_| spawn(queue.join())).collect();
    for join in &mut joins {
        assert_pending!(join.poll());
    }
    queue.close();
    for join in &mut joins {
        assert!(join.is_woken());
        assert_ready!(join.poll());
    }
}

#[tokio::test]
async fn join_of_a_closed_drained_queue_returns_at_once() {
    let queue = Queue::<u8>::unbounded();
    queue.close();
    within("join", queue.join()).await;
    within("join again", queue.join()).await;
}

#[tokio::test]
async fn join_returns_once_a_consumer_task_drained_the_closed_queue() {
    let queue = Queue::bounded(16);
    for n in 0..16 {
        queue.put(n).await.unwrap();
    }
    queue.close();
    let consumer = tokio::spawn({
        let queue = queue.clone();
        async move {
            let mut got = Vec::new();
            while let Ok(n) = queue.get().await {
                got.push(n);
            }
            got
        }
    });
    within("join", queue.join()).await;
    assert!(queue.is_empty());
    assert_eq!(
        within("consumer", consumer).await.unwrap(),
        (0..16).collect::<Vec<_>>()
    );
}

// ---- stream and sink ----

#[tokio::test]
async fn stream_yields_items_in_order_and_ends_once_closed_and_drained() {
    let queue = Queue::bounded(4);
    let producer = tokio::spawn({
        let queue = queue.clone();
        async move {
            for n in 0..100 {
                queue.put(n).await.unwrap();
            }
            queue.close();
        }
    });
    let got: Vec<i32> = within("stream", queue.stream().collect()).await;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    within("producer", producer).await.unwrap();
}

#[test]
fn stream_waits_for_items_and_is_fused_after_its_end() {
    use futures::stream::FusedStream;
    let queue = Queue::unbounded();
    let mut stream = spawn(queue.stream());
    assert_pending!(stream.poll_next());
    queue.try_put(1).unwrap();
    assert!(stream.is_woken());
    assert_ready_eq!(stream.poll_next(), Some(1));
    assert!(!stream.is_terminated());
    assert_pending!(stream.poll_next());
    queue.close();
    assert!(stream.is_woken());
    assert_ready_eq!(stream.poll_next(), None);
    assert!(stream.is_terminated());
    assert_ready_eq!(stream.poll_next(), None);
}

#[tokio::test]
async fn sink_puts_items_in_order_and_leaves_the_queue_open_on_close() {
    let queue = Queue::bounded(2);
    let consumer = tokio::spawn({
        let queue = queue.clone();
        async move { queue.stream().collect::<Vec<_>>().await }
    });
    let mut sink = queue.sink();
    let mut items = futures::stream::iter(0..50).map(Ok);
    within("send_all", sink.send_all(&mut items)).await.unwrap();
    within("sink close", sink.close()).await.unwrap();
    assert!(
        !queue.is_closed(),
        "closing the sink does not close the queue"
    );
    queue.close();
    assert_eq!(
        within("consumer", consumer).await.unwrap(),
        (0..50).collect::<Vec<_>>()
    );
}

#[test]
fn sink_waits_for_room_and_gives_the_item_back_when_closed() {
    let queue = Queue::bounded(1);
    let mut sink = spawn(queue.sink());
    assert_ready_eq!(sink.enter(|cx, s| s.poll_ready(cx)), Ok(()));
    sink.enter(|_, s| s.start_send(1)).unwrap();
    assert_ready_eq!(sink.enter(|cx, s| s.poll_ready(cx)), Ok(()));
    sink.enter(|_, s| s.start_send(2)).unwrap(); // no room: waits in line
    assert_pending!(sink.enter(|cx, s| s.poll_flush(cx)));
    assert_eq!(queue.try_get(), Ok(1));
    assert!(sink.is_woken());
    assert_ready_eq!(sink.enter(|cx, s| s.poll_ready(cx)), Ok(()));
    sink.enter(|_, s| s.start_send(3)).unwrap();
    assert_pending!(sink.enter(|cx, s| s.poll_ready(cx)));
    queue.close();
    assert!(sink.is_woken());
    assert_ready_eq!(sink.enter(|cx, s| s.poll_ready(cx)), Err(Closed(3)));
    assert_eq!(sink.enter(|_, s| s.start_send(4)), Err(Closed(4)));
    assert_eq!(queue.try_get(), Ok(2));
    assert_eq!(queue.try_get(), Err(TryGetError::Closed));
}

// ---- inspection ----

#[test]
fn len_capacity_is_empty_and_is_full_report_exact_values() {
    let queue = Queue::bounded(3);
    assert_eq!((queue.len(), queue.capacity()), (0, Some(3)));
    assert!(queue.is_empty() && !queue.is_full());
    queue.try_put(1).unwrap();
    assert_eq!(queue.len(), 1);
    assert!(!queue.is_empty() && !queue.is_full());
    queue.try_put(2).unwrap();
    queue.try_put(3).unwrap();
    assert_eq!(queue.len(), 3);
    assert!(queue.is_full());
    let mut waiting = spawn(queue.put(4));
    assert_pending!(waiting.poll());
    assert_eq!(queue.len(), 3, "a waiting put is not in the queue yet");
    queue.try_get().unwrap();
    assert_eq!(queue.len(), 3, "the waiting put took the room at once");
    assert_ready_eq!(waiting.poll(), Ok(()));
    queue.close();
    assert_eq!(queue.len(), 3, "closing keeps the items");
    while queue.try_get().is_ok() {}
    assert_eq!(queue.len(), 0);
    assert!(queue.is_empty() && !queue.is_full());

    let unbounded = Queue::unbounded();
    for n in 0..1000 {
        unbounded.try_put(n).unwrap();
    }
    assert_eq!((unbounded.len(), unbounded.capacity()), (1000, None));
    assert!(!unbounded.is_full() && !unbounded.is_empty());
}

#[test]
#[should_panic(expected = "capacity of at least 1")]
fn bounded_with_capacity_zero_panics() {
    let _ = Queue::<u8>::bounded(0);
}

#[test]
fn queue_is_send_sync_clone_debug_without_t_debug() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Queue<u64>>();
    struct NotDebug;
    let queue = Queue::bounded(2);
    queue.try_put(NotDebug).unwrap();
    let shown = format!("{queue:?}");
    assert!(
        shown.contains("len: 1") && shown.contains("capacity: Some(2)"),
        "{shown}"
    );
    let _ = format!("{:?} {:?}", queue.put(NotDebug), queue.get());
    let _ = format!("{:?} {:?} {:?}", queue.stream(), queue.sink(), queue.join());
}

#[test]
fn futures_stream_and_sink_are_send_for_send_items() {
    fn assert_send<T: Send>(_: &T) {}
    let queue = Queue::<String>::bounded(1);
    assert_send(&queue.put(String::new()));
    assert_send(&queue.get());
    assert_send(&queue.join());
    assert_send(&queue.stream());
    assert_send(&queue.sink());
}

#[test]
fn errors_display_lower_case_and_debug_without_t_debug() {
    struct NotDebug;
    assert_eq!(Closed(NotDebug).to_string(), "putting into a closed queue");
    assert_eq!(format!("{:?}", Closed(NotDebug)), "Closed(..)");
    assert_eq!(
        TryPutError::Full(NotDebug).to_string(),
        "putting into a full queue"
    );
    assert_eq!(
        TryPutError::Closed(NotDebug).to_string(),
        "putting into a closed queue"
    );
    assert_eq!(format!("{:?}", TryPutError::Full(NotDebug)), "Full(..)");
    assert_eq!(
        TryGetError::Empty.to_string(),
        "getting from an empty queue"
    );
    assert_eq!(TryGetError::Closed.to_string(), "queue is closed and empty");
    assert_eq!(QueueClosed.to_string(), "queue is closed and empty");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Closed(NotDebug));
    assert!(boxed.source().is_none());
    assert_eq!(Closed(5).into_inner(), 5);
    assert_eq!(TryPutError::from(Closed(6)), TryPutError::Closed(6));
    assert_eq!(TryGetError::from(QueueClosed), TryGetError::Closed);
}

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
        counts[usize::from(within("get", queue.get()).await.unwrap())] += 1;
    }
    queue.close();
    for p in producers {
        within("producer", p).await.unwrap();
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
        within("put", queue.put(n)).await.unwrap();
        if n % 64 == 0 {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
    }
    queue.close();
    let mut sum = 0;
    for c in consumers {
        sum += within("consumer", c).await.unwrap();
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
    let got = within("consumer", consumer).await.unwrap();
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
        let (o, r) = within("producer", t).await.unwrap();
        ok.extend(o);
        refused.extend(r);
    }
    let mut got = Vec::new();
    for t in consumer_tasks {
        got.extend(within("consumer", t).await.unwrap());
    }
    assert_eq!(ok.len() + refused.len(), items as usize);
    got.sort_unstable();
    ok.sort_unstable();
    assert_eq!(got, ok, "exactly the accepted items arrive, each once");
    within("join", queue.join()).await;
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
