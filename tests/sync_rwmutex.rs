//! go_rwmutex_t from Rust through the C API: Go's RWMutex tests (try-lock
//! matrix, TestParallelReaders, HammerRWMutex), writer preference via
//! tryrlock, goroutines and threads, GOMAXPROCS 1 and 2.

mod sync_util;
use goro::*;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};
use std::sync::Arc;
use sync_util::*;

// SAFETY (every unsafe block in this file): the objects passed are valid
// and outlive the calls.

#[test]
fn try_matrix() {
    let m = go_rwmutex::new();
    unsafe {
        go_rwmutex_lock(p(&m));
        assert!(!go_rwmutex_trylock(p(&m)));
        assert!(!go_rwmutex_tryrlock(p(&m)));
        go_rwmutex_unlock(p(&m));
        assert!(go_rwmutex_trylock(p(&m)));
        go_rwmutex_unlock(p(&m));
        assert!(go_rwmutex_tryrlock(p(&m)));
        assert!(go_rwmutex_tryrlock(p(&m)));
        assert!(!go_rwmutex_trylock(p(&m)));
        go_rwmutex_runlock(p(&m));
        go_rwmutex_runlock(p(&m));
    }
}

/// Go's TestParallelReaders: all readers inside the read lock at once.
#[test]
fn parallel_readers() {
    each_procs(|_| {
        for (gs, ts) in [(1, 0), (3, 0), (4, 0), (8, 3), (0, 3)] {
            struct S {
                rw: go_rwmutex,
                inside: go_waitgroup,
                release: go_waitgroup,
            }
            let s = Arc::new(S {
                rw: go_rwmutex::new(),
                inside: go_waitgroup::new(),
                release: go_waitgroup::new(),
            });
            unsafe {
                go_waitgroup_add(p(&s.inside), (gs + ts) as i32);
                go_waitgroup_add(p(&s.release), 1);
            }
            let mut g = Group::new();
            let s2 = s.clone();
            g.start(gs, ts, move || unsafe {
                go_rwmutex_rlock(p(&s2.rw));
                go_waitgroup_done(p(&s2.inside));
                go_waitgroup_wait(p(&s2.release));
                go_rwmutex_runlock(p(&s2.rw));
            });
            unsafe {
                go_waitgroup_wait(p(&s.inside));
                assert!(!go_rwmutex_trylock(p(&s.rw)));
                go_waitgroup_done(p(&s.release));
            }
            g.wait();
            unsafe {
                assert!(go_rwmutex_trylock(p(&s.rw)));
                go_rwmutex_unlock(p(&s.rw));
            }
        }
    });
}

struct Ham {
    rw: go_rwmutex,
    activity: AtomicI64,
    writes: Racy<i64>,
}

const ITERS: i64 = 4000;

fn reader(h: &Ham) {
    for i in 0..ITERS {
        unsafe {
            if i % 5 == 0 {
                if go_rwmutex_tryrlock(p(&h.rw)) {
                    assert!(h.activity.fetch_add(1, SeqCst) + 1 < 10000);
                    h.activity.fetch_sub(1, SeqCst);
                    go_rwmutex_runlock(p(&h.rw));
                }
                continue;
            }
            go_rwmutex_rlock(p(&h.rw));
            assert!(
                h.activity.fetch_add(1, SeqCst) + 1 < 10000,
                "a writer inside with a reader"
            );
            let w0 = h.writes.get();
            std::hint::spin_loop();
            assert_eq!(h.writes.get(), w0);
            h.activity.fetch_sub(1, SeqCst);
            go_rwmutex_runlock(p(&h.rw));
        }
        if i % 500 == 0 {
            go_yield();
        }
    }
}

fn writer(h: &Ham) {
    for i in 0..ITERS / 4 {
        unsafe {
            if i % 5 == 0 && go_rwmutex_trylock(p(&h.rw)) {
                assert_eq!(h.activity.fetch_add(10000, SeqCst) + 10000, 10000);
                h.writes.set(h.writes.get() + 1);
                h.activity.fetch_sub(10000, SeqCst);
                go_rwmutex_unlock(p(&h.rw));
                continue;
            }
            go_rwmutex_lock(p(&h.rw));
            assert_eq!(
                h.activity.fetch_add(10000, SeqCst) + 10000,
                10000,
                "not alone with the write lock"
            );
            h.writes.set(h.writes.get() + 1);
            h.activity.fetch_sub(10000, SeqCst);
            go_rwmutex_unlock(p(&h.rw));
        }
    }
}

/// Go's HammerRWMutex with writers and readers as goroutines and threads.
#[test]
fn hammer() {
    each_procs(|_| {
        for (gw, tw, gr, tr) in [
            (1, 0, 1, 0),
            (1, 0, 3, 0),
            (1, 1, 5, 2),
            (4, 0, 10, 0),
            (3, 2, 6, 3),
            (0, 2, 0, 3),
        ] {
            let h = Arc::new(Ham {
                rw: go_rwmutex::new(),
                activity: AtomicI64::new(0),
                writes: Racy::new(0),
            });
            let mut g = Group::new();
            let hw = h.clone();
            g.start(gw, tw, move || writer(&hw));
            let hr = h.clone();
            g.start(gr, tr, move || reader(&hr));
            g.wait();
            assert_eq!(h.writes.get(), (gw + tw) as i64 * (ITERS / 4));
            assert_eq!(h.activity.load(SeqCst), 0);
        }
    });
}

/// A writer waiting behind a reader shuts out new readers (tryrlock
/// fails, rlock waits) until it is done: no writer starvation.
#[test]
fn writer_preference() {
    each_procs(|_| {
        for (writer_thread, reader_thread) in
            [(false, false), (false, true), (true, false), (true, true)]
        {
            struct S {
                rw: go_rwmutex,
                writer_waiting: AtomicBool,
                writer_done: AtomicBool,
                late_in: AtomicBool,
            }
            let s = Arc::new(S {
                rw: go_rwmutex::new(),
                writer_waiting: AtomicBool::new(false),
                writer_done: AtomicBool::new(false),
                late_in: AtomicBool::new(false),
            });
            unsafe { go_rwmutex_rlock(p(&s.rw)) };
            let mut g = Group::new();
            let sw = s.clone();
            let w = move || unsafe {
                sw.writer_waiting.store(true, SeqCst);
                go_rwmutex_lock(p(&sw.rw));
                assert!(!sw.late_in.load(SeqCst));
                sw.writer_done.store(true, SeqCst);
                go_rwmutex_unlock(p(&sw.rw));
            };
            if writer_thread {
                g.thread(w)
            } else {
                g.go(w)
            }
            await_cond("writer waiting", || s.writer_waiting.load(SeqCst));
            await_cond("tryrlock refused", || unsafe {
                let got = go_rwmutex_tryrlock(p(&s.rw));
                if got {
                    go_rwmutex_runlock(p(&s.rw));
                }
                !got
            });
            let sr = s.clone();
            let r = move || unsafe {
                go_rwmutex_rlock(p(&sr.rw));
                assert!(
                    sr.writer_done.load(SeqCst),
                    "reader overtook a waiting writer"
                );
                sr.late_in.store(true, SeqCst);
                go_rwmutex_runlock(p(&sr.rw));
            };
            if reader_thread {
                g.thread(r)
            } else {
                g.go(r)
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert!(!s.late_in.load(SeqCst) && !s.writer_done.load(SeqCst));
            unsafe { go_rwmutex_runlock(p(&s.rw)) };
            g.wait();
            assert!(s.writer_done.load(SeqCst) && s.late_in.load(SeqCst));
        }
    });
}

/// Readers keep getting in while writers follow each other without a
/// pause: a reader that meets a writer polls for a while, then queues as
/// Go's do, and the writer's unlock lets the queued readers in before the
/// next writer. Everyone yields between locks so that GOMAXPROCS=1 runs
/// everyone; the reads must complete, and see writes, while the writers
/// keep writing.
#[test]
fn readers_progress_under_a_stream_of_writers() {
    each_procs(|procs| {
        for reader_thread in [false, true] {
            struct S {
                rw: go_rwmutex,
                stop: AtomicBool,
                writes: AtomicI64,
                data: std::cell::UnsafeCell<i64>,
            }
            // SAFETY: `data` is written under the write lock only, read
            // under the read lock.
            unsafe impl Sync for S {}
            let s = Arc::new(S {
                rw: go_rwmutex::new(),
                stop: AtomicBool::new(false),
                writes: AtomicI64::new(0),
                data: std::cell::UnsafeCell::new(0),
            });
            let mut g = Group::new();
            for _ in 0..2 {
                let sw = s.clone();
                g.go(move || unsafe {
                    while !sw.stop.load(SeqCst) {
                        go_rwmutex_lock(p(&sw.rw));
                        *sw.data.get() += 1;
                        sw.writes.fetch_add(1, SeqCst);
                        go_rwmutex_unlock(p(&sw.rw));
                        go_yield();
                    }
                });
            }
            await_cond("writers started", || s.writes.load(SeqCst) > 100);
            let sr = s.clone();
            let r = move || unsafe {
                // The writers stop even if an assertion below fails, so
                // that the failure is reported rather than waited on.
                struct Stop<'a>(&'a AtomicBool);
                impl Drop for Stop<'_> {
                    fn drop(&mut self) {
                        self.0.store(true, SeqCst);
                    }
                }
                let _stop = Stop(&sr.stop);
                // At least 2000 reads, and among them at least 50 that
                // saw a new write: reads and writes interleave. Reading on
                // until the writers have written (rather than counting the
                // writes of a fixed number of reads) keeps the test
                // independent of the OS's scheduling: a writer's thread
                // may be off the CPU for a few ms, while 2000 reads take
                // well under one.
                let t0 = std::time::Instant::now();
                let (mut reads, mut changes, mut last) = (0, 0, -1);
                while reads < 2000 || changes < 50 {
                    go_rwmutex_rlock(p(&sr.rw));
                    let v = *sr.data.get();
                    go_rwmutex_runlock(p(&sr.rw));
                    assert!(v >= last, "a read went back in time");
                    changes += (last >= 0 && v > last) as u32;
                    last = v;
                    reads += 1;
                    go_yield(); // lets the writers run at GOMAXPROCS=1
                    assert!(
                        t0.elapsed() < std::time::Duration::from_secs(60),
                        "{reads} reads saw {changes} writes in 60 s; \
                         procs {procs}, reader_thread {reader_thread}"
                    );
                }
            };
            if reader_thread {
                g.thread(r)
            } else {
                g.go(r)
            }
            // Fails (after a minute) rather than hangs if readers starve.
            await_cond("reads among the writes", || s.stop.load(SeqCst));
            g.wait();
            assert_eq!(unsafe { *s.data.get() }, s.writes.load(SeqCst));
        }
    });
}

/// With one worker, a reader blocked behind a writer parks: others run.
#[test]
fn blocking_parks_the_goroutine() {
    with_procs(1, || {
        let rw = Arc::new(go_rwmutex::new());
        let other = Arc::new(AtomicBool::new(false));
        let reader_in = Arc::new(AtomicBool::new(false));
        let mut g = Group::new();
        let (rw2, o2, r2) = (rw.clone(), other.clone(), reader_in.clone());
        g.go(move || unsafe {
            go_rwmutex_lock(p(&*rw2));
            let (rw3, r3) = (rw2.clone(), r2.clone());
            go(move || {
                go_rwmutex_rlock(p(&*rw3));
                r3.store(true, SeqCst);
                go_rwmutex_runlock(p(&*rw3));
            });
            go_sleep(1_000_000);
            let o3 = o2.clone();
            go(move || o3.store(true, SeqCst));
            await_cond("other goroutine ran", || o2.load(SeqCst));
            assert!(!r2.load(SeqCst));
            go_rwmutex_unlock(p(&*rw2));
        });
        g.wait();
        await_cond("reader got in", || reader_in.load(SeqCst));
    });
}

/// Read locks released elsewhere than where they were taken, while writers
/// keep coming: by the same goroutine after a sleep (it may resume on
/// another worker), by another goroutine, by a plain thread (Go allows any
/// of them). Readers on several workers count themselves in per-worker
/// slots that each writer gathers, so this checks that a unit is found
/// wherever it is: no writer inside with a reader, no "RUnlock of
/// unlocked", exact write count, nothing left held.
#[test]
fn read_locks_released_elsewhere() {
    each_procs(|_| {
        const HANDS: i64 = 600;
        let h = Arc::new(Ham {
            rw: go_rwmutex::new(),
            activity: AtomicI64::new(0),
            writes: Racy::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let wrote = Arc::new(AtomicI64::new(0));
        let mut writers = Group::new();
        let (hw, sw, ww) = (h.clone(), stop.clone(), wrote.clone());
        writers.start(1, 1, move || {
            while !sw.load(SeqCst) {
                unsafe { go_rwmutex_lock(p(&hw.rw)) };
                assert_eq!(hw.activity.fetch_add(10000, SeqCst), 0, "not alone");
                hw.writes.set(hw.writes.get() + 1);
                hw.activity.fetch_sub(10000, SeqCst);
                unsafe { go_rwmutex_unlock(p(&hw.rw)) };
                ww.fetch_add(1, SeqCst);
                nap(20_000);
            }
        });
        let mut readers = Group::new();
        let hr = h.clone();
        readers.start(4, 1, move || {
            for i in 0..HANDS {
                unsafe { go_rwmutex_rlock(p(&hr.rw)) };
                assert!(hr.activity.fetch_add(1, SeqCst) + 1 < 10000);
                let w0 = hr.writes.get();
                let release = {
                    let hr = hr.clone();
                    move || {
                        nap(3_000);
                        assert_eq!(hr.writes.get(), w0, "a write inside a read lock");
                        hr.activity.fetch_sub(1, SeqCst);
                        unsafe { go_rwmutex_runlock(p(&hr.rw)) };
                    }
                };
                match i % 3 {
                    0 => release(),
                    1 => {
                        let done = Arc::new(go_waitgroup::new());
                        unsafe { go_waitgroup_add(p(&*done), 1) };
                        let d = done.clone();
                        go(move || {
                            release();
                            unsafe { go_waitgroup_done(p(&*d)) };
                        });
                        unsafe { go_waitgroup_wait(p(&*done)) };
                    }
                    _ => std::thread::spawn(release).join().unwrap(),
                }
            }
        });
        readers.wait();
        stop.store(true, SeqCst);
        writers.wait();
        assert_eq!(h.writes.get(), wrote.load(SeqCst));
        assert_eq!(h.activity.load(SeqCst), 0);
        unsafe {
            assert!(go_rwmutex_trylock(p(&h.rw)), "a read unit was left behind");
            go_rwmutex_unlock(p(&h.rw));
        }
    });
}

/// The plain case of the above, alone (so that no other reader's unit can
/// stand in for it): a goroutine read-locks an RWMutex that a write unlock
/// has switched to per-worker slots, a plain thread and then another
/// goroutine unlock it; the write lock is free afterwards each time.
#[test]
fn read_lock_released_by_thread_or_goroutine() {
    with_procs(2, || {
        let rw = Arc::new(go_rwmutex::new());
        for by_thread in [true, false, true, false] {
            unsafe {
                go_rwmutex_lock(p(&*rw));
                go_rwmutex_unlock(p(&*rw));
            }
            let mut g = Group::new();
            let r = rw.clone();
            g.go(move || unsafe { go_rwmutex_rlock(p(&*r)) });
            g.wait();
            let mut g = Group::new();
            let r = rw.clone();
            let f = move || unsafe { go_rwmutex_runlock(p(&*r)) };
            if by_thread {
                g.thread(f)
            } else {
                g.go(f)
            }
            g.wait();
            unsafe {
                assert!(go_rwmutex_trylock(p(&*rw)), "the read unit is still held");
                go_rwmutex_unlock(p(&*rw));
            }
        }
    });
}
