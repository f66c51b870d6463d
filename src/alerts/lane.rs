//! A hand-off queue that never blocks the producer and never loses a critical item.
//!
//! Why not a tokio `mpsc`: a bounded `try_send` can only refuse the *newest* item when full, and
//! the design asks for the *oldest* non-critical alert to go (the newest says most about "now"),
//! while critical alerts must never be dropped at all. So the lane is a `VecDeque` behind a
//! `std::sync::Mutex` that is held only for a push or a pop (tens of nanoseconds, never across an
//! `.await`), plus a `Notify` that wakes the single consumer. Non-critical items are bounded by
//! `capacity`; critical items are not bounded (they are rare: halts, kills, breaker trips).
//!
//! Waking the consumer is the expensive part of a hand-off: when the consumer task is parked,
//! `notify_one` makes the scheduler unpark a worker thread (a futex syscall, several µs on this
//! machine and worse at the tail). So a lane can be [`Wake::Batched`]: a push wakes the consumer
//! only for a critical item or when half the capacity is used, and otherwise the consumer picks
//! items up on its own short tick. The engine then pays one uncontended lock and one push.
//!
//! A tick that keeps running while nothing happens wakes a thread many times a second for nothing.
//! So a batched consumer that finds the lane empty *parks* it ([`Lane::take_all_or_park`]) and
//! waits without its tick; the next push into a parked lane wakes it, whatever the item. Only the
//! first alert after a quiet spell pays the wake-up; the ones behind it ride the tick again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Something that can say whether it may be dropped under pressure.
pub trait Urgency {
    fn is_critical(&self) -> bool;
}

/// What happened to a pushed item.
#[derive(Debug)]
pub enum Pushed<T> {
    /// Queued; nothing was lost.
    Queued,
    /// Queued, and the oldest non-critical item was dropped to make room (returned for accounting).
    DroppedOldest(T),
    /// The lane is closed (shutting down); the item is handed back.
    Closed(T),
}

struct State<T> {
    items: VecDeque<T>,
    non_critical: usize,
    closed: bool,
    /// The consumer found the lane empty and waits without its tick: the next push wakes it.
    parked: bool,
}

/// When a push wakes the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Every push: for consumers that only ever wait on the lane (channel workers).
    EveryPush,
    /// Critical items, a half-full lane and the first push into a parked lane only; the consumer
    /// also polls on a tick while items keep coming (the dispatcher).
    Batched,
}

/// A multi-producer, single-consumer lane. See the module documentation.
pub struct Lane<T> {
    state: Mutex<State<T>>,
    ready: Notify,
    capacity: AtomicUsize,
    wake: Wake,
}

impl<T: Urgency> Lane<T> {
    pub fn new(capacity: usize, wake: Wake) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.min(4096)),
                non_critical: 0,
                closed: false,
                parked: false,
            }),
            ready: Notify::new(),
            capacity: AtomicUsize::new(capacity.max(1)),
            wake,
        }
    }

    /// The bound on non-critical items; takes effect at the next push (config hot reload).
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity.max(1), Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the deque inconsistent, so poison is ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Never blocks beyond the short lock and never awaits.
    pub fn push(&self, item: T) -> Pushed<T> {
        let critical = item.is_critical();
        let capacity = self.capacity.load(Ordering::Relaxed);
        let (dropped, wake) = {
            let mut state = self.lock();
            if state.closed {
                return Pushed::Closed(item);
            }
            let mut dropped = None;
            if !critical {
                if state.non_critical >= capacity {
                    let oldest = state.items.iter().position(|queued| !queued.is_critical());
                    dropped = oldest.and_then(|i| state.items.remove(i));
                    if dropped.is_some() {
                        state.non_critical -= 1;
                    }
                }
                state.non_critical += 1;
            }
            state.items.push_back(item);
            let parked = std::mem::take(&mut state.parked);
            let wake = match self.wake {
                Wake::EveryPush => true,
                Wake::Batched => parked || critical || state.non_critical.saturating_mul(2) >= capacity,
            };
            (dropped, wake)
        };
        if wake {
            self.ready.notify_one();
        }
        match dropped {
            Some(old) => Pushed::DroppedOldest(old),
            None => Pushed::Queued,
        }
    }

    /// Moves every queued item into `out`, oldest first. Returns false once closed and empty.
    pub fn take_all(&self, out: &mut Vec<T>) -> bool {
        let mut state = self.lock();
        state.non_critical = 0;
        out.extend(state.items.drain(..));
        !(state.closed && out.is_empty())
    }

    /// As [`Lane::take_all`], and when nothing was queued the lane is marked parked: the next push
    /// wakes the consumer (see the module documentation). Returns whether something was taken.
    /// The mark is set under the same lock as the pushes, so no push can slip between the look and
    /// the mark unseen.
    pub fn take_all_or_park(&self, out: &mut Vec<T>) -> bool {
        let mut state = self.lock();
        state.non_critical = 0;
        let before = out.len();
        out.extend(state.items.drain(..));
        let took = out.len() > before;
        state.parked = !took;
        took
    }

    /// The oldest item, if any.
    pub fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        let item = state.items.pop_front()?;
        if !item.is_critical() {
            state.non_critical -= 1;
        }
        Some(item)
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Refuses further pushes; what is queued can still be taken. Wakes the consumer.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Resolves after a push or a close that happened since the last wait. Check the lane before
    /// waiting: a push with no waiter leaves a permit, so no wake-up is ever lost.
    pub async fn wait(&self) {
        self.ready.notified().await;
    }

    /// The next item, waiting for one; `None` once the lane is closed and empty.
    pub async fn recv(&self) -> Option<T> {
        loop {
            if let Some(item) = self.pop() {
                return Some(item);
            }
            if self.is_closed() {
                return None;
            }
            self.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item(u32, bool);

    impl Urgency for Item {
        fn is_critical(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn overflow_drops_the_oldest_non_critical_and_keeps_every_critical() {
        let lane = Lane::new(2, Wake::EveryPush);
        assert!(matches!(lane.push(Item(1, true)), Pushed::Queued));
        assert!(matches!(lane.push(Item(2, false)), Pushed::Queued));
        assert!(matches!(lane.push(Item(3, false)), Pushed::Queued));
        match lane.push(Item(4, false)) {
            Pushed::DroppedOldest(old) => assert_eq!(old, Item(2, false)),
            other => panic!("expected a drop, got {other:?}"),
        }
        assert!(matches!(lane.push(Item(5, true)), Pushed::Queued));
        let mut all = Vec::new();
        assert!(lane.take_all(&mut all));
        assert_eq!(all, vec![Item(1, true), Item(3, false), Item(4, false), Item(5, true)]);
    }

    #[test]
    fn only_critical_items_never_drop() {
        let lane = Lane::new(1, Wake::EveryPush);
        for i in 0..100 {
            assert!(matches!(lane.push(Item(i, true)), Pushed::Queued));
        }
        assert_eq!(lane.len(), 100);
    }

    #[test]
    fn batched_lane_wakes_only_for_critical_items_or_when_half_full() {
        let lane = Lane::new(4, Wake::Batched);
        let woken = |lane: &Lane<Item>| futures::FutureExt::now_or_never(lane.wait()).is_some();
        lane.push(Item(1, false));
        assert!(!woken(&lane), "one of four: no wake-up");
        lane.push(Item(2, false));
        assert!(woken(&lane), "half full: wake");
        lane.push(Item(3, true));
        assert!(woken(&lane), "critical: wake");
    }

    #[test]
    fn a_parked_lane_wakes_its_consumer_at_the_first_push_only() {
        let lane = Lane::new(4, Wake::Batched);
        let woken = |lane: &Lane<Item>| futures::FutureExt::now_or_never(lane.wait()).is_some();
        let mut out = Vec::new();
        assert!(!lane.take_all_or_park(&mut out), "empty: parked");
        lane.push(Item(1, false));
        assert!(woken(&lane), "the first push into a parked lane wakes the consumer");
        lane.push(Item(2, false));
        assert!(woken(&lane), "half full: wake");
        assert!(lane.take_all_or_park(&mut out), "items taken: not parked");
        assert_eq!(out, vec![Item(1, false), Item(2, false)]);
        lane.push(Item(3, false));
        assert!(!woken(&lane), "a lane that is not parked waits for the tick");
    }

    #[tokio::test]
    async fn closed_lane_refuses_pushes_but_drains() {
        let lane = Lane::new(4, Wake::EveryPush);
        lane.push(Item(1, false));
        lane.close();
        assert!(matches!(lane.push(Item(2, false)), Pushed::Closed(Item(2, false))));
        assert_eq!(lane.recv().await, Some(Item(1, false)));
        assert_eq!(lane.recv().await, None);
    }
}
