//! The runtime core, hammered from goroutines and plain threads under
//! GOMAXPROCS 1 and 2, with exact counts.

mod common;

use common::*;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn spawn_from_goroutines_and_threads_exact_counts() {
    for procs in [1, 2] {
        with_procs(procs, || {
            const THREADS: usize = 4;
            const PER_THREAD: usize = 5_000;
            let count = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..THREADS)
                .map(|_| {
                    let count = count.clone();
                    std::thread::spawn(move || {
                        for _ in 0..PER_THREAD {
                            let c = count.clone();
                            go(move || {
                                // Each goroutine spawns two children.
                                for _ in 0..2 {
                                    let c = c.clone();
                                    go(move || {
                                        c.fetch_add(1, Relaxed);
                                    });
                                }
                                c.fetch_add(1, Relaxed);
                            });
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            wait_count(&count, THREADS * PER_THREAD * 3);
            wait_no_goroutines();
            assert_eq!(count.load(SeqCst), THREADS * PER_THREAD * 3);
        });
    }
}

#[test]
fn ids_are_unique_and_zero_on_threads() {
    assert_eq!(goro::go_id(), 0);
    with_procs(2, || {
        const N: usize = 10_000;
        let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(N)));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let (ids, done) = (ids.clone(), done.clone());
            go(move || {
                let id = goro::go_id();
                assert_ne!(id, 0);
                goro::go_yield();
                assert_eq!(goro::go_id(), id, "id changed across a yield");
                ids.lock().unwrap().push(id);
                done.fetch_add(1, SeqCst);
            });
        }
        wait_count(&done, N);
        let mut v = ids.lock().unwrap().clone();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), N, "duplicate goroutine ids");
    });
}

#[test]
fn spawn_errors() {
    // Under the GOMAXPROCS lock: its goroutines would otherwise count in
    // the exact go_num_goroutine checks of the tests that hold it.
    with_procs(2, || {
        assert_eq!(goro::go_spawn(None, std::ptr::null_mut()), libc::EINVAL);
        for bad in [1usize, 4096, (16 << 10) - 1, (1 << 30) + 1, usize::MAX] {
            assert_eq!(go_ex(bad, None, || {}), libc::EINVAL, "stack size {bad}");
        }
        // SAFETY: a NULL attr is allowed.
        assert_eq!(
            unsafe { goro::go_spawn_ex(None, std::ptr::null_mut(), std::ptr::null()) },
            libc::EINVAL
        );
        let done = Arc::new(AtomicUsize::new(0));
        for ok in [16usize << 10, 100_000, 1 << 20] {
            let d = done.clone();
            assert_eq!(
                go_ex(ok, Some(c"sized"), move || {
                    d.fetch_add(1, SeqCst);
                }),
                0
            );
        }
        wait_count(&done, 3);
    });
}

#[test]
fn big_stack_is_usable() {
    with_procs(2, || {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        // 512 KiB of locals on a 1 MiB stack.
        assert_eq!(
            go_ex(1 << 20, Some(c"big"), move || {
                let mut buf = [0u8; 512 << 10];
                for (i, b) in buf.iter_mut().enumerate().step_by(4096) {
                    *b = (i / 4096) as u8 | 1;
                }
                let s: u64 = std::hint::black_box(&buf).iter().map(|&b| b as u64).sum();
                assert!(s > 0);
                d.fetch_add(1, SeqCst);
            }),
            0
        );
        wait_count(&done, 1);
    });
}

/// Trap 1: per-worker state must be re-read after every switch. A goroutine
/// that migrates must see the worker it is running on now.
#[test]
fn thread_local_state_after_migration() {
    with_procs(2, || {
        const G: usize = 32;
        const ROUNDS: usize = 3_000;
        let done = Arc::new(AtomicUsize::new(0));
        let migrations = Arc::new(AtomicUsize::new(0));
        for i in 0..G {
            let (done, migrations) = (done.clone(), migrations.clone());
            go(move || {
                let mut last = goro::__test::gettid();
                for r in 0..ROUNDS {
                    match (i + r) % 3 {
                        0 => goro::go_yield(),
                        1 => goro::go_sleep(1),
                        _ => goro::go_sleep(1000),
                    }
                    let tid = goro::__test::gettid();
                    assert_eq!(
                        goro::__test::worker_tid_seen(),
                        tid,
                        "stale worker state after a switch"
                    );
                    if tid != last {
                        migrations.fetch_add(1, Relaxed);
                        last = tid;
                    }
                }
                done.fetch_add(1, SeqCst);
            });
        }
        wait_count(&done, G);
        // Not a timing assertion: with two workers and sleeps, goroutines do
        // move; if none ever did, the test proved nothing.
        assert!(
            migrations.load(SeqCst) > 0,
            "no goroutine migrated; test is vacuous"
        );
    });
}

/// Trap 2: a waker that unparks a goroutine as soon as it is queued, often
/// before its switch-out finished, from another worker and from a thread.
#[test]
fn woken_before_switched_out() {
    for procs in [1, 2] {
        with_procs(procs, || {
            const ROUNDS: usize = 20_000;
            let key = Box::leak(Box::new(0u64)) as *const u64 as usize;
            let done = Arc::new(AtomicUsize::new(0));
            let turn = Arc::new(AtomicUsize::new(0));
            // Goroutine side: parks ROUNDS times.
            {
                let (done, turn) = (done.clone(), turn.clone());
                go(move || {
                    for r in 0..ROUNDS {
                        let token = goro::__test::park(key);
                        assert_eq!(token, r, "wrong token");
                        turn.store(r + 1, SeqCst);
                    }
                    done.fetch_add(1, SeqCst);
                });
            }
            // Waker: half from a goroutine, half from a plain thread,
            // unparking the instant the waiter is queued.
            let waker = move |from: usize, to: usize, turn: Arc<AtomicUsize>| {
                for r in from..to {
                    while turn.load(SeqCst) != r {
                        std::hint::spin_loop();
                        if goro::go_id() != 0 {
                            goro::go_yield();
                        }
                    }
                    while !goro::__test::unpark_one(key, r) {
                        std::hint::spin_loop();
                        if goro::go_id() != 0 {
                            goro::go_yield();
                        }
                    }
                }
            };
            {
                let (done, turn) = (done.clone(), turn.clone());
                go(move || {
                    waker(0, ROUNDS / 2, turn);
                    done.fetch_add(1, SeqCst);
                });
            }
            let t = turn.clone();
            std::thread::spawn(move || waker(ROUNDS / 2, ROUNDS, t))
                .join()
                .unwrap();
            wait_count(&done, 2);
            assert_eq!(turn.load(SeqCst), ROUNDS);
        });
    }
}

/// A thread parks on the same queue as goroutines; wakes reach both kinds.
#[test]
fn threads_and_goroutines_share_wait_queues() {
    with_procs(2, || {
        static GATE: Gate = Gate::new();
        let woke = Arc::new(AtomicUsize::new(0));
        const G: usize = 500;
        for _ in 0..G {
            let w = woke.clone();
            go(move || {
                GATE.wait();
                w.fetch_add(1, SeqCst);
            });
        }
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let w = woke.clone();
                std::thread::spawn(move || {
                    GATE.wait();
                    w.fetch_add(1, SeqCst);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(woke.load(SeqCst), 0, "someone passed a closed gate");
        GATE.open();
        for h in hs {
            h.join().unwrap();
        }
        wait_count(&woke, G + 4);
    });
}

/// errno is the goroutine's own across parks and migrations.
#[test]
fn errno_survives_switches() {
    with_procs(2, || {
        const G: usize = 16;
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..G {
            let done = done.clone();
            go(move || {
                let mine = 1000 + i as i32;
                for r in 0..500 {
                    // SAFETY: writes this thread's errno.
                    unsafe { *libc::__errno_location() = mine };
                    if r % 2 == 0 {
                        goro::go_yield();
                    } else {
                        goro::go_sleep(1000);
                    }
                    // SAFETY: reads this thread's errno (re-evaluated after the call).
                    assert_eq!(unsafe { *libc::__errno_location() }, mine);
                }
                done.fetch_add(1, SeqCst);
            });
        }
        wait_count(&done, G);
    });
}

/// A sleeping goroutine parks; it never holds its worker. With one worker,
/// a goroutine that sleeps 200 ms lets the one it spawned finish first.
#[test]
fn sleep_parks_the_goroutine_not_the_worker() {
    with_procs(1, || {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let done = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        {
            let (order, done) = (order.clone(), done.clone());
            go(move || {
                // Spawned here rather than by this thread, so that the
                // thread being off the CPU between two spawns cannot
                // reorder them.
                {
                    let (order, done) = (order.clone(), done.clone());
                    go(move || {
                        goro::go_yield();
                        order.lock().unwrap().push("worker");
                        done.fetch_add(1, SeqCst);
                    });
                }
                goro::go_sleep(200_000_000);
                order.lock().unwrap().push("sleeper");
                done.fetch_add(1, SeqCst);
            });
        }
        wait_count(&done, 2);
        assert_eq!(*order.lock().unwrap(), vec!["worker", "sleeper"]);
        // A lower bound only (correctness of the timer, not a speed target).
        assert!(t0.elapsed() >= Duration::from_millis(200));
        // go_sleep(<= 0) returns at once, also on a thread.
        goro::go_sleep(0);
        goro::go_sleep(-5);
        let t = Instant::now();
        goro::go_sleep(20_000_000);
        assert!(t.elapsed() >= Duration::from_millis(20));
    });
}

/// Many sleepers with different deadlines all wake, each not before its time.
#[test]
fn many_timers() {
    with_procs(2, || {
        const G: usize = 2_000;
        let done = Arc::new(AtomicUsize::new(0));
        let early = Arc::new(AtomicUsize::new(0));
        for i in 0..G {
            let (done, early) = (done.clone(), early.clone());
            go(move || {
                let ns = ((i * 7919) % 50) as i64 * 1_000_000;
                let t = Instant::now();
                goro::go_sleep(ns);
                if t.elapsed() < Duration::from_nanos(ns as u64) {
                    early.fetch_add(1, SeqCst);
                }
                done.fetch_add(1, SeqCst);
            });
        }
        wait_count(&done, G);
        assert_eq!(early.load(SeqCst), 0);
    });
}

fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|c| c.starts_with("goro-worker-"))
        .count()
}

#[test]
fn maxprocs_changes_at_run_time() {
    with_procs(2, || {
        assert_eq!(goro::go_maxprocs(0), 2);
        assert_eq!(goro::go_maxprocs(-1), 2);
        assert_eq!(goro::go_maxprocs(4), 2);
        let t = Instant::now();
        while worker_threads() < 4 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "workers did not start"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let run = |n: usize| {
            let done = Arc::new(AtomicUsize::new(0));
            for i in 0..n {
                let d = done.clone();
                go(move || {
                    for _ in 0..(i % 5) {
                        goro::go_yield();
                    }
                    d.fetch_add(1, SeqCst);
                });
            }
            wait_count(&done, n);
        };
        run(20_000);
        assert_eq!(goro::go_maxprocs(1), 4);
        run(20_000);
        // Goroutines busy on retired workers still finish; only one worker
        // runs goroutines now: two goroutines that spin-wait for each other
        // with go_yield still make progress (yield passes the worker on).
        let flag = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        for me in 0..2 {
            let (flag, done) = (flag.clone(), done.clone());
            go(move || {
                for r in 0..1000 {
                    while flag.load(SeqCst) % 2 != me {
                        goro::go_yield();
                    }
                    let _ = r;
                    flag.fetch_add(1, SeqCst);
                }
                done.fetch_add(1, SeqCst);
            });
        }
        wait_count(&done, 2);
        assert_eq!(goro::go_maxprocs(3), 1);
        run(20_000);
        assert_eq!(goro::go_maxprocs(2), 3);
    });
}

#[test]
fn num_goroutine_tracks_live_goroutines() {
    with_procs(2, || {
        wait_no_goroutines();
        static GATE: Gate = Gate::new();
        let started = Arc::new(AtomicUsize::new(0));
        const N: usize = 3_000;
        for _ in 0..N {
            let s = started.clone();
            go(move || {
                s.fetch_add(1, SeqCst);
                GATE.wait();
            });
        }
        // Exact while they are all parked.
        assert_eq!(goro::go_num_goroutine(), N as i64);
        wait_count(&started, N);
        assert_eq!(goro::go_num_goroutine(), N as i64);
        GATE.open();
        wait_no_goroutines();
        assert_eq!(goro::go_num_goroutine(), 0);
    });
}

/// Goroutines that keep yielding, with other work queued behind them: the
/// queued goroutines still run (no starvation by yielders).
#[test]
fn yielders_do_not_starve_the_queue() {
    with_procs(1, || {
        let stop = Arc::new(AtomicI64::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let (stop, done) = (stop.clone(), done.clone());
            go(move || {
                while stop.load(SeqCst) == 0 {
                    goro::go_yield();
                }
                done.fetch_add(1, SeqCst);
            });
        }
        // Spawned from a plain thread: they land in the global queue.
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let r = ran.clone();
            go(move || {
                r.fetch_add(1, SeqCst);
            });
        }
        wait_count(&ran, 100);
        stop.store(1, SeqCst);
        wait_count(&done, 2);
    });
}

/// The wait queue of one key, with goroutine and thread waiters mixed and a
/// second key's queue in the same bucket: FIFO order, partial and whole
/// releases, a LIFO re-queue, and each waiter's token.
#[test]
fn wait_queue_order_with_mixed_waiters() {
    for procs in [1, 2] {
        with_procs(procs, || {
            static SLOT: AtomicUsize = AtomicUsize::new(0);
            let key = &SLOT as *const AtomicUsize as usize;
            let other = goro::__test::key_in_same_bucket(key);
            assert_ne!(other, key);
            // (waiter, token) in wake-up order.
            let woke = Arc::new(std::sync::Mutex::new(Vec::<(usize, usize)>::new()));
            let queued = Arc::new(AtomicUsize::new(0));
            let mut threads = Vec::new();
            // Waiter i parks on k once the one before it is queued: even i
            // are goroutines, odd i threads.
            let mut add = |i: usize, k: usize, lifo: bool| {
                let (woke, q) = (woke.clone(), queued.clone());
                let before = queued.load(SeqCst);
                let body = move || {
                    let t = goro::__test::park_at(k, lifo, || {
                        q.fetch_add(1, SeqCst);
                        true
                    });
                    woke.lock().unwrap().push((i, t.unwrap()));
                };
                if i % 2 == 0 {
                    go(body);
                } else {
                    threads.push(std::thread::spawn(body));
                }
                let t0 = Instant::now();
                while queued.load(SeqCst) == before {
                    assert!(
                        t0.elapsed() < Duration::from_secs(10),
                        "waiter {i} never queued"
                    );
                    std::thread::yield_now();
                }
            };
            for i in 0..8 {
                add(i, key, false);
                if i == 3 {
                    add(100, other, false);
                    add(101, other, false);
                }
            }
            let expect = |woke: &std::sync::Mutex<Vec<(usize, usize)>>, want: &[(usize, usize)]| {
                let n0 = want.len();
                let t0 = Instant::now();
                while woke.lock().unwrap().len() < n0 {
                    assert!(t0.elapsed() < Duration::from_secs(10), "wake-ups missing");
                    std::thread::yield_now();
                }
                let mut got = std::mem::take(&mut *woke.lock().unwrap());
                // Woken together, they may record in any order.
                got.sort();
                let mut want = want.to_vec();
                want.sort();
                assert_eq!(got, want);
            };
            assert!(goro::__test::unpark_one(key, 10));
            expect(&woke, &[(0, 10)]);
            assert_eq!(goro::__test::unpark_n(key, 3, 20), 3);
            expect(&woke, &[(1, 20), (2, 20), (3, 20)]);
            // A LIFO waiter goes ahead of 4..7.
            add(8, key, true);
            assert_eq!(goro::__test::unpark_n(key, 1, 30), 1);
            expect(&woke, &[(8, 30)]);
            assert_eq!(goro::__test::unpark_n(key, 2, 40), 2);
            expect(&woke, &[(4, 40), (5, 40)]);
            // The queue keeps its tail across new heads: 9 joins after 7.
            add(9, key, false);
            assert_eq!(goro::__test::unpark_n(key, 2, 50), 2);
            expect(&woke, &[(6, 50), (7, 50)]);
            assert_eq!(goro::__test::unpark_all(key, 60), 1);
            expect(&woke, &[(9, 60)]);
            assert_eq!(goro::__test::unpark_all(key, 70), 0);
            // The other key's queue was never touched.
            assert!(woke.lock().unwrap().is_empty());
            assert_eq!(goro::__test::unpark_n(key, 5, 0), 0);
            assert_eq!(goro::__test::unpark_all(other, 80), 2);
            expect(&woke, &[(100, 80), (101, 80)]);
            for t in threads {
                t.join().unwrap();
            }
        });
    }
}

/// A single goroutine woken by unpark_all runs next on the waker's worker,
/// ahead of goroutines already queued there (Go's goready), as a single
/// goroutine woken by unpark_n does.
#[test]
fn single_woken_goroutine_runs_next() {
    with_procs(1, || {
        static KEY: AtomicUsize = AtomicUsize::new(0);
        let key = &KEY as *const AtomicUsize as usize;
        let order = Arc::new(std::sync::Mutex::new(Vec::<&str>::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let (o, q, d) = (order.clone(), queued.clone(), done.clone());
        go(move || {
            goro::__test::park_at(key, false, || {
                q.fetch_add(1, SeqCst);
                true
            });
            o.lock().unwrap().push("woken");
            d.fetch_add(1, SeqCst);
        });
        wait_count(&queued, 1);
        let (o, d) = (order.clone(), done.clone());
        go(move || {
            let (o2, d2) = (o.clone(), d.clone());
            // Queued first, in the run-next slot, which the woken one takes.
            go(move || {
                o2.lock().unwrap().push("queued");
                d2.fetch_add(1, SeqCst);
            });
            assert_eq!(goro::__test::unpark_all(key, 1), 1);
            o.lock().unwrap().push("waker");
            d.fetch_add(1, SeqCst);
        });
        wait_count(&done, 3);
        assert_eq!(*order.lock().unwrap(), ["waker", "woken", "queued"]);
    });
}

/// A goroutine's wake-up token and its sleep deadline share one word of its
/// control block: goroutines that alternate sleeping and parking on a key,
/// with a thread waking them with distinct tokens, receive every token and
/// sleep at least as long as they asked.
#[test]
fn sleep_and_park_alternate() {
    with_procs(2, || {
        const G: usize = 8;
        const ROUNDS: usize = 200;
        const NAP_NS: i64 = 20_000;
        static KEYS: [AtomicUsize; G] = [const { AtomicUsize::new(0) }; G];
        let queued: Arc<Vec<AtomicUsize>> = Arc::new((0..G).map(|_| AtomicUsize::new(0)).collect());
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..G {
            let (q, d) = (queued.clone(), done.clone());
            go(move || {
                let key = &KEYS[i] as *const AtomicUsize as usize;
                for r in 0..ROUNDS {
                    let t0 = Instant::now();
                    goro::go_sleep(NAP_NS);
                    assert!(t0.elapsed() >= Duration::from_nanos(NAP_NS as u64));
                    let token = goro::__test::park_at(key, false, || {
                        q[i].fetch_add(1, SeqCst);
                        true
                    });
                    assert_eq!(token, Some(r * G + i), "goroutine {i}, round {r}");
                }
                d.fetch_add(1, SeqCst);
            });
        }
        for r in 0..ROUNDS {
            for i in 0..G {
                let t0 = Instant::now();
                while queued[i].load(SeqCst) <= r {
                    assert!(
                        t0.elapsed() < Duration::from_secs(10),
                        "goroutine {i} never parked"
                    );
                    std::thread::yield_now();
                }
                let key = &KEYS[i] as *const AtomicUsize as usize;
                assert!(goro::__test::unpark_one(key, r * G + i));
            }
        }
        wait_count(&done, G);
    });
}

/// A goroutine the scheduler takes ahead of time (to fetch its stack while
/// another resumes) is published before the resumed one runs user code:
/// two goroutines woken together, each spinning (no goro call) until both
/// have arrived, both run, on the two workers. (Fails, timing out, if the
/// one taken ahead stays private to its worker.)
#[test]
fn woken_goroutines_are_not_held_back() {
    with_procs(2, || {
        for round in 0..50 {
            static KEY: AtomicUsize = AtomicUsize::new(0);
            let key = &KEY as *const AtomicUsize as usize;
            let queued = Arc::new(AtomicUsize::new(0));
            let arrived = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                let (q, a, d) = (queued.clone(), arrived.clone(), done.clone());
                go(move || {
                    goro::__test::park_at(key, false, || {
                        q.fetch_add(1, SeqCst);
                        true
                    });
                    a.fetch_add(1, SeqCst);
                    let t0 = Instant::now();
                    while a.load(SeqCst) < 2 {
                        assert!(
                            t0.elapsed() < Duration::from_secs(10),
                            "round {round}: the other woken goroutine never ran"
                        );
                        std::hint::spin_loop();
                    }
                    d.fetch_add(1, SeqCst);
                });
            }
            wait_count(&queued, 2);
            // Woken by a goroutine: both go to its worker's queue, which
            // runs the first (taking the second ahead) once the waker is
            // gone.
            go(move || assert_eq!(goro::__test::unpark_all(key, 0), 2));
            wait_count(&done, 2);
        }
    });
}

/// Goroutines that spawn and return at once, so that a fresh goroutine
/// usually starts in place on the stack of the one that just returned:
/// with names (freed with the goroutine that exits), with other stack
/// sizes (never started in place: their stacks are another class), deep
/// stack use after a shallow predecessor and the reverse, exact counts,
/// distinct ids, errno 0 at start, and no goroutine left.
#[test]
fn fresh_goroutines_started_where_others_returned() {
    fn touch(depth_kib: usize) -> u8 {
        // Uses `depth_kib` KiB of stack, top down, and reads it back.
        let mut buf = [0u8; 1024];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i ^ depth_kib) as u8;
        }
        let below = if depth_kib > 1 {
            touch(depth_kib - 1)
        } else {
            0
        };
        std::hint::black_box(&buf);
        buf[depth_kib % 1024].wrapping_add(below)
    }
    fn node(level: u32, count: Arc<AtomicUsize>, ids: Arc<std::sync::Mutex<Vec<u64>>>) {
        assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(0));
        ids.lock().unwrap().push(goro::go_id());
        // Alternate shallow and deep goroutines (up to 48 KiB of the
        // default 128 KiB stack).
        std::hint::black_box(touch(if level % 2 == 0 { 48 } else { 1 }));
        count.fetch_add(1, SeqCst);
        if level == 0 {
            return;
        }
        for child in 0..3u32 {
            let (c, i) = (count.clone(), ids.clone());
            let f = move || node(level - 1, c, i);
            // The default-stack child last: it is the one run next, in
            // place; the others wait in the queue for other exits.
            match child {
                0 => assert_eq!(go_ex(64 * 1024, None, f), 0),
                1 => assert_eq!(go_ex(0, Some(c"restart-named"), f), 0),
                _ => go(f),
            }
        }
        // Return right away, leaving errno set: the last child spawned is
        // next to run here, and must start with errno 0.
        // SAFETY: glibc's errno location for the calling thread.
        unsafe { *libc::__errno_location() = 7 };
    }
    for procs in [1, 2] {
        with_procs(procs, || {
            const LEVELS: u32 = 7; // 1 + 3 + ... + 3^7 = 3280 goroutines
            let total: usize = (0..=LEVELS).map(|l| 3usize.pow(l)).sum();
            let count = Arc::new(AtomicUsize::new(0));
            let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
            for _ in 0..4 {
                let (c, i) = (count.clone(), ids.clone());
                go(move || node(LEVELS, c, i));
            }
            wait_count(&count, 4 * total);
            wait_no_goroutines();
            assert_eq!(count.load(SeqCst), 4 * total);
            let mut v = ids.lock().unwrap().clone();
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), 4 * total, "goroutine ids repeat");
        });
    }
}
