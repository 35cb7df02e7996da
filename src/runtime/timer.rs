//! Timers for `go_sleep`: one heap ordered by deadline, and the earliest
//! deadline mirrored in an atomic so that workers can check "anything due?"
//! with one load (and read the clock only when something is pending).

use super::g::GPtr;
use core::cmp::Reverse;
use core::sync::atomic::{AtomicU64, Ordering::*};
use std::collections::BinaryHeap;
use std::sync::Mutex;

pub(crate) const NONE: u64 = u64::MAX;

pub(crate) struct Timers {
    heap: Mutex<BinaryHeap<Reverse<(u64, u64, usize)>>>,
    seq: AtomicU64,
    /// Earliest pending deadline, or NONE.
    pub(crate) next: AtomicU64,
}

impl Timers {
    pub(crate) const fn new() -> Timers {
        Timers {
            heap: Mutex::new(BinaryHeap::new()),
            seq: AtomicU64::new(0),
            next: AtomicU64::new(NONE),
        }
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, BinaryHeap<Reverse<(u64, u64, usize)>>> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a timer waking `g` at `deadline`. Returns true when it became
    /// the earliest (the caller then tells an idle worker).
    pub(crate) fn add(&self, g: GPtr, deadline: u64) -> bool {
        let seq = self.seq.fetch_add(1, Relaxed);
        let mut h = self.heap();
        h.push(Reverse((deadline, seq, g.0 as usize)));
        if deadline < self.next.load(Relaxed) {
            self.next.store(deadline, SeqCst);
            true
        } else {
            false
        }
    }

    /// Whether a timer is due at `now`; reads one atomic.
    #[inline]
    pub(crate) fn due(&self, now: u64) -> bool {
        self.next.load(Relaxed) <= now
    }

    /// Whether any timer is pending.
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.next.load(Relaxed) != NONE
    }

    /// Removes the timers due at `now` and passes their goroutines to `f`
    /// (after releasing the heap lock). Returns how many fired.
    pub(crate) fn fire(&self, now: u64, mut f: impl FnMut(GPtr)) -> usize {
        let mut due: Vec<GPtr> = Vec::new();
        {
            let mut h = self.heap();
            while let Some(Reverse((d, _, g))) = h.peek() {
                if *d > now {
                    break;
                }
                due.push(GPtr(*g as *mut _));
                h.pop();
            }
            let next = h.peek().map(|Reverse((d, _, _))| *d).unwrap_or(NONE);
            self.next.store(next, SeqCst);
        }
        let n = due.len();
        for g in due {
            f(g);
        }
        n
    }
}
