//! A model of the parking layer (`crate::park`) for loom: one wait queue
//! per key behind a loom `Mutex`, waiters blocked on a loom `Condvar`.
//! The real layer needs goroutines and futexes, which loom cannot model;
//! what the sync types rely on is kept: `validate` runs atomically with
//! respect to every unpark on the same key, wake-ups are FIFO (or LIFO on
//! request) and carry a token, and `unpark_n`'s callback runs under the
//! lock.

use crate::runtime::g::WaitReason;
use loom::sync::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};

#[derive(Default)]
struct Table {
    /// Parked waiters per key, by ticket.
    queues: HashMap<usize, VecDeque<u64>>,
    /// Tokens of woken waiters not yet collected.
    woken: HashMap<u64, usize>,
    next: u64,
}

loom::lazy_static! {
    static ref TABLE: Mutex<Table> = Mutex::new(Table::default());
    static ref WAKE: Condvar = Condvar::new();
}

pub(crate) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    _reason: WaitReason,
    lifo: bool,
) -> Option<usize> {
    let mut t = TABLE.lock().unwrap();
    if !validate() {
        return None;
    }
    let me = t.next;
    t.next += 1;
    let q = t.queues.entry(key).or_default();
    if lifo {
        q.push_front(me);
    } else {
        q.push_back(me);
    }
    loop {
        if let Some(token) = t.woken.remove(&me) {
            return Some(token);
        }
        t = WAKE.wait(t).unwrap();
    }
}

pub(crate) fn unpark_all(key: usize, token: usize) -> usize {
    let mut t = TABLE.lock().unwrap();
    let ws: Vec<u64> = t.queues.remove(&key).unwrap_or_default().into();
    for &w in &ws {
        t.woken.insert(w, token);
    }
    if !ws.is_empty() {
        WAKE.notify_all();
    }
    ws.len()
}

pub(crate) fn unpark_n(key: usize, max: usize, callback: impl FnOnce(usize) -> usize) -> usize {
    let mut t = TABLE.lock().unwrap();
    let q = t.queues.entry(key).or_default();
    let n = q.len().min(max);
    let ws: Vec<u64> = q.drain(..n).collect();
    let token = callback(n);
    for &w in &ws {
        t.woken.insert(w, token);
    }
    if n != 0 {
        WAKE.notify_all();
    }
    n
}
