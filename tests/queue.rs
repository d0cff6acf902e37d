//! Integration tests of `iochannels::Queue` through its public API only:
//! every behaviour of Python's aiochannel (put and get, close, join, the
//! stream and sink, inspection, the errors). Waiting puts' fairness and
//! cancellation at every waiting point are in queue_waiting.rs; many tasks,
//! and random interleavings poll by poll, in queue_concurrency.rs.

mod support;

use futures::{Sink, SinkExt, StreamExt};
use iochannels::{Closed, Queue, QueueClosed, TryGetError, TryPutError};
use support::within;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

// ---- put, get, try_put, try_get ----

#[tokio::test]
async fn put_then_get_returns_items_in_order_bounded_and_unbounded() {
    for queue in [Queue::bounded(8), Queue::unbounded()] {
        for n in 0..8 {
            within(queue.put(n)).await.unwrap();
        }
        for n in 0..8 {
            assert_eq!(within(queue.get()).await, Ok(n));
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
    assert_eq!(within(queue.put(vec![1, 2])).await, Err(Closed(vec![1, 2])));
}

#[tokio::test]
async fn get_after_close_drains_the_remaining_items_in_order_then_fails() {
    let queue = Queue::bounded(4);
    for n in 0..4 {
        queue.put(n).await.unwrap();
    }
    queue.close();
    for n in 0..4 {
        assert_eq!(within(queue.get()).await, Ok(n));
    }
    assert_eq!(within(queue.get()).await, Err(QueueClosed));
    assert_eq!(within(queue.get()).await, Err(QueueClosed));
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
    within(queue.join()).await;
    within(queue.join()).await;
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
    within(queue.join()).await;
    assert!(queue.is_empty());
    assert_eq!(within(consumer).await.unwrap(), (0..16).collect::<Vec<_>>());
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
    let got: Vec<i32> = within(queue.stream().collect()).await;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    within(producer).await.unwrap();
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
    within(sink.send_all(&mut items)).await.unwrap();
    within(sink.close()).await.unwrap();
    assert!(
        !queue.is_closed(),
        "closing the sink does not close the queue"
    );
    queue.close();
    assert_eq!(within(consumer).await.unwrap(), (0..50).collect::<Vec<_>>());
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
