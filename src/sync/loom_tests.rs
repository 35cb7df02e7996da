//! Loom models of the sync state machines: every interleaving (up to the
//! preemption bound) of a few threads over Mutex, RwMutex, WaitGroup and
//! Once, with the parking layer modelled by `loom_park.rs`. Shared data
//! lives in loom's `UnsafeCell`, so an access that the sync object fails to
//! order is reported as a data race; counts check exclusion and
//! exactly-once.
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" \
//!     cargo test --release --lib sync::loom_tests
//! ```

use super::atomic::{loom_set_worker, LOOM_CLOCK_STEP, LOOM_SPINS};
use super::{Mutex, Once, RwMutex, WaitGroup};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Release, SeqCst},
};
use loom::sync::Arc;
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// Runs `f` with the model clock advancing `step_ns` per reading (2 ms:
/// every waiter counts as starving after one wait).
fn with_clock(step_ns: u64, f: impl FnOnce()) {
    LOOM_CLOCK_STEP.with(|s| s.set(step_ns));
    f();
    LOOM_CLOCK_STEP.with(|s| s.set(0));
}

struct Guarded<T> {
    lock: T,
    data: UnsafeCell<usize>,
}

fn mutex_threads(n: usize) {
    model(move || {
        let s = Arc::new(Guarded {
            lock: Mutex::new(),
            data: UnsafeCell::new(0),
        });
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    s.lock.lock();
                    s.data.with_mut(|d| unsafe { *d += 1 });
                    // SAFETY: locked by us; `s` keeps it alive.
                    unsafe { Mutex::unlock(&s.lock) };
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        s.lock.lock();
        assert_eq!(s.data.with(|d| unsafe { *d }), n);
        // SAFETY: locked by us.
        unsafe { Mutex::unlock(&s.lock) };
    });
}

#[test]
fn mutex_two_threads() {
    mutex_threads(2);
}

#[test]
fn mutex_three_threads() {
    mutex_threads(3);
}

/// With spinning: a spinner sets WOKEN so that unlock wakes nobody.
#[test]
fn mutex_three_threads_spinning() {
    LOOM_SPINS.with(|s| s.set(1));
    mutex_threads(3);
    LOOM_SPINS.with(|s| s.set(0));
}

/// Starvation mode: every waiter has "waited over 1 ms". One thread
/// re-locks (barging past the woken waiter, which then sets STARVING);
/// its next unlock hands the mutex over.
#[test]
fn mutex_starvation_handoff() {
    with_clock(2_000_000, || {
        model(|| {
            let s = Arc::new(Guarded {
                lock: Mutex::new(),
                data: UnsafeCell::new(0),
            });
            let s2 = s.clone();
            let h = thread::spawn(move || {
                s2.lock.lock();
                s2.data.with_mut(|d| unsafe { *d += 1 });
                // SAFETY: locked by us.
                unsafe { Mutex::unlock(&s2.lock) };
            });
            for _ in 0..2 {
                s.lock.lock();
                s.data.with_mut(|d| unsafe { *d += 1 });
                // SAFETY: locked by us.
                unsafe { Mutex::unlock(&s.lock) };
            }
            h.join().unwrap();
            assert_eq!(s.data.with(|d| unsafe { *d }), 3);
        })
    });
}

#[test]
fn mutex_three_threads_starving() {
    with_clock(2_000_000, || mutex_threads(3));
}

#[test]
fn mutex_trylock_excludes() {
    model(|| {
        let s = Arc::new(Guarded {
            lock: Mutex::new(),
            data: UnsafeCell::new(0),
        });
        let s2 = s.clone();
        let h = thread::spawn(move || {
            if s2.lock.try_lock() {
                s2.data.with_mut(|d| unsafe { *d += 1 });
                // SAFETY: locked by us.
                unsafe { Mutex::unlock(&s2.lock) };
            }
        });
        s.lock.lock();
        s.data.with_mut(|d| unsafe { *d += 1 });
        // SAFETY: locked by us.
        unsafe { Mutex::unlock(&s.lock) };
        h.join().unwrap();
    });
}

#[test]
fn rwmutex_writer_and_readers() {
    writer_and_readers(false);
}

/// The RWMutex models' shared data, and the critical sections they run.
impl Guarded<RwMutex> {
    fn rw() -> Arc<Self> {
        Arc::new(Guarded {
            lock: RwMutex::new(),
            data: UnsafeCell::new(0),
        })
    }

    /// Holding the write lock: one write, then unlock.
    fn write_and_unlock(&self) {
        self.data.with_mut(|d| unsafe { *d += 1 });
        // SAFETY: write-locked by the caller.
        unsafe { RwMutex::unlock(&self.lock) };
    }

    /// Holding a read lock: the value read, then runlock.
    fn read_and_runlock(&self) -> usize {
        let v = self.data.with(|d| unsafe { *d });
        // SAFETY: read-locked by the caller.
        unsafe { RwMutex::runlock(&self.lock) };
        v
    }

    fn write(&self) {
        self.lock.lock();
        self.write_and_unlock();
    }

    fn read(&self) -> usize {
        self.lock.rlock();
        self.read_and_runlock()
    }

    /// Nobody holds or waits for it: the write lock is free.
    fn assert_free(&self) {
        assert!(self.lock.try_lock());
        // SAFETY: write-locked by us.
        unsafe { RwMutex::unlock(&self.lock) };
    }
}

#[test]
fn rwmutex_two_writers_and_tries() {
    model(|| {
        let s = Guarded::rw();
        let w = {
            let s = s.clone();
            thread::spawn(move || s.write())
        };
        let t = {
            let s = s.clone();
            thread::spawn(move || {
                if s.lock.try_rlock() {
                    s.read_and_runlock();
                }
                if s.lock.try_lock() {
                    s.write_and_unlock();
                }
            })
        };
        s.write();
        w.join().unwrap();
        t.join().unwrap();
        let v = s.data.with(|d| unsafe { *d });
        assert!(v == 2 || v == 3);
    });
}

/// An RWMutex whose write unlock has set BIAS, so that readers on the
/// modelled workers use their slots.
fn biased() -> Arc<Guarded<RwMutex>> {
    let s = Guarded::rw();
    s.lock.lock();
    // SAFETY: write-locked by us.
    unsafe { RwMutex::unlock(&s.lock) };
    s
}

/// Readers in slots of two workers and a writer (a plain thread) that
/// revokes the bias: exclusion (loom reports the data race otherwise),
/// every reader sees 0 or 1, the write happens once.
#[test]
fn rwmutex_slot_readers_and_writer() {
    writer_and_readers(true);
}

/// The same with one poll before parking (a reader waiting for the
/// writer, the writer for the readers, as on a multicore).
#[test]
fn rwmutex_slot_readers_and_writer_polling() {
    LOOM_SPINS.with(|s| s.set(1));
    writer_and_readers(true);
    LOOM_SPINS.with(|s| s.set(0));
}

/// A writer (a plain thread) and two readers; with `slots`, the RWMutex
/// starts biased and the readers run on the two modelled workers (so they
/// use their slots and the writer revokes the bias), otherwise all three
/// are plain threads on Go's shared count.
fn writer_and_readers(slots: bool) {
    model(move || {
        let s = if slots { biased() } else { Guarded::rw() };
        let w = {
            let s = s.clone();
            thread::spawn(move || s.write())
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || {
                loom_set_worker(slots.then_some(1));
                assert!(s.read() <= 1);
            })
        };
        loom_set_worker(slots.then_some(0));
        assert!(s.read() <= 1);
        w.join().unwrap();
        r.join().unwrap();
        assert_eq!(s.data.with(|d| unsafe { *d }), 1);
    });
}

/// A read lock taken in worker 0's slot and released on worker 1 (a
/// goroutine that moved, or another goroutine: Go allows both) while a
/// writer comes: the unit is found wherever it is, nothing underflows
/// (that would be a fatal error), and the writer gets in only after it.
#[test]
fn rwmutex_slot_runlock_elsewhere() {
    model(|| {
        let s = biased();
        loom_set_worker(Some(0));
        s.lock.rlock();
        let w = {
            let s = s.clone();
            thread::spawn(move || {
                loom_set_worker(Some(0));
                s.write();
            })
        };
        assert_eq!(s.data.with(|d| unsafe { *d }), 0);
        let u = {
            let s = s.clone();
            thread::spawn(move || {
                loom_set_worker(Some(1));
                // SAFETY: the read lock main took is ours to release.
                unsafe { RwMutex::runlock(&s.lock) };
            })
        };
        u.join().unwrap();
        w.join().unwrap();
        assert_eq!(s.data.with(|d| unsafe { *d }), 1);
        // Back to a clean state: both slot paths and the count work.
        s.read();
        s.assert_free();
    });
}

/// The first write unlock of the process (it sets SLOTS_USED, then BIAS)
/// races a reader on worker 0, which hands its read lock to a thread on
/// worker 1 that releases it: through `spawn`, or through a Release store
/// seen by an Acquire load in a thread that existed before the read lock
/// was taken (so only that flag orders it after the RLock). Whether the
/// unit went to a slot or to the count, the release finds it: nothing
/// underflows (a fatal error), and the lock ends free. With the flag set
/// after BIAS instead of before, both fail. (A Relaxed hand-off is outside
/// Go's contract, and fails.)
fn first_bias_handoff(by_spawn: bool) {
    model(move || {
        let s = Guarded::rw(); // never biased: the process's first unlock
        let w = {
            let s = s.clone();
            thread::spawn(move || s.write())
        };
        loom_set_worker(Some(0));
        if by_spawn {
            s.lock.rlock();
            assert!(s.data.with(|d| unsafe { *d }) <= 1);
            let s2 = s.clone();
            thread::spawn(move || {
                loom_set_worker(Some(1));
                // SAFETY: the read lock the spawner took is ours to release.
                unsafe { RwMutex::runlock(&s2.lock) };
            })
            .join()
            .unwrap();
        } else {
            let flag = Arc::new(AtomicUsize::new(0));
            let x = {
                let (s, flag) = (s.clone(), flag.clone());
                thread::spawn(move || {
                    loom_set_worker(Some(1));
                    while flag.load(Acquire) == 0 {
                        thread::yield_now();
                    }
                    // SAFETY: handed the read lock through the flag.
                    unsafe { RwMutex::runlock(&s.lock) };
                })
            };
            s.lock.rlock();
            assert!(s.data.with(|d| unsafe { *d }) <= 1);
            flag.store(1, Release);
            x.join().unwrap();
        }
        w.join().unwrap();
        s.assert_free();
        assert_eq!(s.read(), 1);
        s.assert_free();
    });
}

#[test]
fn rwmutex_first_bias_handoff_by_spawn() {
    first_bias_handoff(true);
}

#[test]
fn rwmutex_first_bias_handoff_by_flag() {
    first_bias_handoff(false);
}

/// try_lock against a reader in a slot: it fails while the reader is in,
/// and when it succeeds the reader is excluded.
#[test]
fn rwmutex_slot_trylock() {
    model(|| {
        let s = biased();
        let r = {
            let s = s.clone();
            thread::spawn(move || {
                loom_set_worker(Some(1));
                if s.lock.try_rlock() {
                    assert!(s.read_and_runlock() <= 1);
                }
            })
        };
        if s.lock.try_lock() {
            s.write_and_unlock();
        }
        r.join().unwrap();
        s.assert_free();
    });
}

struct Wg {
    wg: WaitGroup,
    a: UnsafeCell<usize>,
    b: UnsafeCell<usize>,
}

/// Two workers write and call done; the waiter sees both writes.
#[test]
fn waitgroup_wait_sees_done() {
    model(|| {
        let s = Arc::new(Wg {
            wg: WaitGroup::new(),
            a: UnsafeCell::new(0),
            b: UnsafeCell::new(0),
        });
        // SAFETY: `s` keeps it alive.
        unsafe { WaitGroup::add(&s.wg, 2) };
        let h1 = {
            let s = s.clone();
            thread::spawn(move || {
                s.a.with_mut(|d| unsafe { *d = 1 });
                // SAFETY: as above.
                unsafe { WaitGroup::add(&s.wg, -1) };
            })
        };
        let h2 = {
            let s = s.clone();
            thread::spawn(move || {
                s.b.with_mut(|d| unsafe { *d = 2 });
                // SAFETY: as above.
                unsafe { WaitGroup::add(&s.wg, -1) };
            })
        };
        s.wg.wait();
        assert_eq!(s.a.with(|d| unsafe { *d }) + s.b.with(|d| unsafe { *d }), 3);
        h1.join().unwrap();
        h2.join().unwrap();
    });
}

/// Two waiters at once, then the WaitGroup is reused.
#[test]
fn waitgroup_two_waiters_and_reuse() {
    model(|| {
        let s = Arc::new(Wg {
            wg: WaitGroup::new(),
            a: UnsafeCell::new(0),
            b: UnsafeCell::new(0),
        });
        // SAFETY: `s` keeps it alive.
        unsafe { WaitGroup::add(&s.wg, 1) };
        let waiter = {
            let s = s.clone();
            thread::spawn(move || {
                s.wg.wait();
                assert_eq!(s.a.with(|d| unsafe { *d }), 1);
            })
        };
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                s.a.with_mut(|d| unsafe { *d = 1 });
                // SAFETY: as above.
                unsafe { WaitGroup::add(&s.wg, -1) };
            })
        };
        s.wg.wait();
        assert_eq!(s.a.with(|d| unsafe { *d }), 1);
        waiter.join().unwrap();
        worker.join().unwrap();
        // Reuse after every wait returned.
        // SAFETY: as above.
        unsafe { WaitGroup::add(&s.wg, 1) };
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                s.b.with_mut(|d| unsafe { *d = 1 });
                // SAFETY: as above.
                unsafe { WaitGroup::add(&s.wg, -1) };
            })
        };
        s.wg.wait();
        assert_eq!(s.b.with(|d| unsafe { *d }), 1);
        worker.join().unwrap();
    });
}

struct O {
    once: Once,
    calls: AtomicUsize,
    data: UnsafeCell<usize>,
}

fn once_call(s: &O) {
    // SAFETY: `s` is alive for the call.
    unsafe {
        Once::do_slow(&s.once, || {
            s.calls.fetch_add(1, SeqCst);
            s.data.with_mut(|d| *d = 7);
        })
    };
    assert!(s.once.is_done());
    assert_eq!(s.data.with(|d| unsafe { *d }), 7);
}

/// Exactly one call; everyone returns after it and sees its write.
#[test]
fn once_three_callers() {
    model(|| {
        let s = Arc::new(O {
            once: Once::new(),
            calls: AtomicUsize::new(0),
            data: UnsafeCell::new(0),
        });
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || once_call(&s))
            })
            .collect();
        once_call(&s);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(s.calls.load(SeqCst), 1);
    });
}
