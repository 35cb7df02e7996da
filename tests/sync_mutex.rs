//! go_mutex_t from Rust through the C API: Go's mutex tests (hammer with
//! a non-atomic holder count, TestMutexFairness), parking instead of
//! blocking, goroutines and plain threads on one mutex, under GOMAXPROCS
//! 1 and 2.

mod sync_util;
use goro::*;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use sync_util::*;

#[test]
fn abi_and_zero_value() {
    assert_eq!(core::mem::size_of::<go_mutex_t>(), 8);
    assert_eq!(core::mem::size_of::<go_rwmutex_t>(), 24);
    assert_eq!(core::mem::size_of::<go_waitgroup_t>(), 16);
    assert_eq!(core::mem::size_of::<go_once_t>(), 8);
    static M: go_mutex = go_mutex::new();
    // SAFETY (all calls in these tests): valid objects that outlive the calls.
    unsafe {
        go_mutex_lock(p(&M));
        assert!(!go_mutex_trylock(p(&M)));
        go_mutex_unlock(p(&M));
        assert!(go_mutex_trylock(p(&M)));
        go_mutex_unlock(p(&M));
    }
    // Unlocked is all-zero again.
    // SAFETY: plain bytes of an 8-byte object.
    let bytes: [u8; 8] = unsafe { core::mem::transmute_copy(&M) };
    assert_eq!(bytes, [0; 8]);
}

struct Hammer {
    mu: go_mutex,
    holders: Racy<i64>,
    count: Racy<i64>,
    trylocks: AtomicI64,
}

const ITERS: i64 = 20_000;

fn hammer_body(h: &Hammer) {
    for i in 0..ITERS {
        // SAFETY: valid mutex.
        unsafe {
            if i % 3 == 0 {
                if go_mutex_trylock(p(&h.mu)) {
                    h.holders.set(h.holders.get() + 1);
                    assert_eq!(h.holders.get(), 1);
                    h.count.set(h.count.get() + 1);
                    h.trylocks.fetch_add(1, SeqCst);
                    h.holders.set(h.holders.get() - 1);
                    go_mutex_unlock(p(&h.mu));
                }
                continue;
            }
            go_mutex_lock(p(&h.mu));
            h.holders.set(h.holders.get() + 1);
            assert_eq!(h.holders.get(), 1, "two holders at once");
            h.count.set(h.count.get() + 1);
            h.holders.set(h.holders.get() - 1);
            go_mutex_unlock(p(&h.mu));
        }
        if i % 1000 == 0 {
            go_yield();
        }
    }
}

#[test]
fn hammer_goroutines_and_threads() {
    each_procs(|_| {
        for (gs, ts) in [(8, 0), (6, 3), (0, 4), (16, 2)] {
            let h = Arc::new(Hammer {
                mu: go_mutex::new(),
                holders: Racy::new(0),
                count: Racy::new(0),
                trylocks: AtomicI64::new(0),
            });
            let mut g = Group::new();
            let hh = h.clone();
            g.start(gs, ts, move || hammer_body(&hh));
            g.wait();
            let locks = (gs + ts) as i64 * (ITERS - (ITERS + 2) / 3);
            assert_eq!(h.count.get(), locks + h.trylocks.load(SeqCst));
        }
    });
}

/// With one worker: A holds the lock and sleeps, B blocks on it, C runs
/// to completion before A unlocks (B parked, not blocking the worker).
#[test]
fn blocking_parks_the_goroutine() {
    with_procs(1, || {
        struct S {
            mu: go_mutex,
            b_started: AtomicBool,
            b_got: AtomicBool,
            c_done: AtomicBool,
            a_checked: AtomicBool,
        }
        let s = Arc::new(S {
            mu: go_mutex::new(),
            b_started: AtomicBool::new(false),
            b_got: AtomicBool::new(false),
            c_done: AtomicBool::new(false),
            a_checked: AtomicBool::new(false),
        });
        let mut g = Group::new();
        let s2 = s.clone();
        g.go(move || {
            let s = s2;
            // SAFETY: valid mutex.
            unsafe { go_mutex_lock(p(&s.mu)) };
            let sb = s.clone();
            go(move || {
                sb.b_started.store(true, SeqCst);
                // SAFETY: valid mutex.
                unsafe { go_mutex_lock(p(&sb.mu)) };
                assert!(sb.a_checked.load(SeqCst));
                sb.b_got.store(true, SeqCst);
                // SAFETY: valid mutex.
                unsafe { go_mutex_unlock(p(&sb.mu)) };
            });
            await_cond("B started", || s.b_started.load(SeqCst));
            go_sleep(1_000_000);
            let sc = s.clone();
            go(move || sc.c_done.store(true, SeqCst));
            await_cond("C done", || s.c_done.load(SeqCst));
            assert!(!s.b_got.load(SeqCst));
            s.a_checked.store(true, SeqCst);
            // SAFETY: valid mutex.
            unsafe { go_mutex_unlock(p(&s.mu)) };
        });
        g.wait();
        await_cond("B got the lock", || s.b_got.load(SeqCst));
    });
}

/// Go's TestMutexFairness: a looper that re-locks while sleeping under
/// the lock cannot starve a waiter (starvation mode). Every combination of
/// goroutine and thread.
#[test]
fn fairness() {
    each_procs(|_| {
        for (looper_thread, waiter_thread) in
            [(false, false), (false, true), (true, false), (true, true)]
        {
            let mu = Arc::new(go_mutex::new());
            let stop = Arc::new(AtomicBool::new(false));
            let mut g = Group::new();
            let (m1, s1) = (mu.clone(), stop.clone());
            let looper = move || {
                while !s1.load(SeqCst) {
                    // SAFETY: valid mutex.
                    unsafe { go_mutex_lock(p(&*m1)) };
                    nap(100_000);
                    // SAFETY: valid mutex.
                    unsafe { go_mutex_unlock(p(&*m1)) };
                }
            };
            let (m2, s2) = (mu.clone(), stop.clone());
            let waiter = move || {
                for _ in 0..10 {
                    nap(100_000);
                    // SAFETY: valid mutex.
                    unsafe {
                        go_mutex_lock(p(&*m2));
                        go_mutex_unlock(p(&*m2));
                    }
                }
                s2.store(true, SeqCst);
            };
            if looper_thread {
                g.thread(looper)
            } else {
                g.go(looper)
            }
            if waiter_thread {
                g.thread(waiter)
            } else {
                g.go(waiter)
            }
            g.wait();
        }
    });
}

/// Not owned: a thread locks, a goroutine unlocks, and the other way.
#[test]
fn any_goroutine_or_thread_may_unlock() {
    static M: go_mutex = go_mutex::new();
    let mut g = Group::new();
    // SAFETY: valid mutex.
    unsafe { go_mutex_lock(p(&M)) };
    // SAFETY: valid mutex.
    g.go(|| unsafe { go_mutex_unlock(p(&M)) });
    g.wait();
    // SAFETY: valid mutex.
    unsafe { go_mutex_lock(p(&M)) };
    // SAFETY: valid mutex.
    g.thread(|| unsafe { go_mutex_unlock(p(&M)) });
    g.wait();
    // SAFETY: valid mutex.
    unsafe {
        assert!(go_mutex_trylock(p(&M)));
        go_mutex_unlock(p(&M));
    }
}

/// Many goroutines queue on a held mutex (a goroutine holds it), then all
/// get through in turn: exact count.
#[test]
fn queue_of_waiters() {
    each_procs(|_| {
        let mu = Arc::new(go_mutex::new());
        let n = Arc::new(AtomicUsize::new(0));
        // SAFETY: valid mutex.
        unsafe { go_mutex_lock(p(&*mu)) };
        let mut g = Group::new();
        let (m, c) = (mu.clone(), n.clone());
        g.start(50, 3, move || {
            // SAFETY: valid mutex.
            unsafe { go_mutex_lock(p(&*m)) };
            c.fetch_add(1, SeqCst);
            // SAFETY: valid mutex.
            unsafe { go_mutex_unlock(p(&*m)) };
        });
        nap(2_000_000);
        assert_eq!(n.load(SeqCst), 0);
        // SAFETY: valid mutex.
        unsafe { go_mutex_unlock(p(&*mu)) };
        g.wait();
        assert_eq!(n.load(SeqCst), 53);
    });
}
