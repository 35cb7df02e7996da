//! Criterion micro benchmarks of goro's sync package (Go's sync
//! benchmarks, as the targets state them):
//!
//! * `mutex_uncontended`: lock + unlock on a plain thread, nobody else
//!   around (two atomics).
//! * `once_done`: go_once_do on a Once that has run (the fast path; C code
//!   inlines it from goro.h, Rust calls the exported function).
//! * `mutex_contended/G`: G goroutines share N increments of one counter
//!   under one mutex at GOMAXPROCS=2; time per increment (lock + add +
//!   unlock). Go's BenchmarkMutex shape.
//! * `rwmutex_1pct_writes`: 64 goroutines, 1% of operations take the write
//!   lock, the rest the read lock; time per operation, GOMAXPROCS=2.
//! * `waitgroup_fanout_64`: a goroutine starts 64 goroutines with
//!   go_waitgroup_go and waits for them; time per round, GOMAXPROCS=2.
//!
//! Timing of the goroutine benchmarks is taken inside a driver goroutine.
//! Run: `cargo bench --bench sync`.

use core::ffi::c_void;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use goro::*;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `&T` as the `*mut T` of the C API (the sync types are interior mutable).
fn p<T>(x: &T) -> *mut T {
    x as *const T as *mut T
}

extern "C" fn trampoline<F: FnOnce() + Send>(arg: *mut c_void) {
    // SAFETY: arg is the Box<F> leaked by spawn_wg, consumed once.
    let f = unsafe { Box::from_raw(arg as *mut F) };
    f();
}

/// go_waitgroup_go with a closure.
fn spawn_wg<F: FnOnce() + Send>(wg: &go_waitgroup, f: F) {
    let arg = Box::into_raw(Box::new(f)).cast();
    // SAFETY: valid WaitGroup and function; the closure's borrows outlive
    // the goroutine because every caller waits on `wg` before returning.
    assert_eq!(
        unsafe { go_waitgroup_go(p(wg), Some(trampoline::<F>), arg) },
        0
    );
}

/// Runs `f` in a goroutine, blocking the calling thread until it returns.
fn in_goroutine<R: Send, F: FnOnce() -> R + Send>(f: F) -> R {
    let wg = go_waitgroup::new();
    let mut out = None;
    let slot = &mut out;
    spawn_wg(&wg, move || *slot = Some(f()));
    // SAFETY: our WaitGroup.
    unsafe { go_waitgroup_wait(p(&wg)) };
    out.expect("goroutine ran")
}

fn mutex_uncontended(c: &mut Criterion) {
    let mu = go_mutex::new();
    c.bench_function("mutex_uncontended", |b| {
        b.iter(|| {
            // SAFETY: a valid mutex, locked and unlocked by us.
            unsafe {
                go_mutex_lock(p(black_box(&mu)));
                go_mutex_unlock(p(black_box(&mu)));
            }
        })
    });
}

fn once_done(c: &mut Criterion) {
    let once = go_once::new();
    extern "C" fn nop(_: *mut c_void) {}
    // SAFETY: a valid Once.
    unsafe { go_once_do(p(&once), Some(nop), core::ptr::null_mut()) };
    c.bench_function("once_done", |b| {
        b.iter(|| {
            // SAFETY: a valid Once that has run.
            unsafe { go_once_do(p(black_box(&once)), Some(nop), core::ptr::null_mut()) }
        })
    });
}

/// `goroutines` goroutines share `total` critical sections; returns the
/// elapsed time measured in the driver goroutine.
fn contended_run(goroutines: u64, total: u64) -> Duration {
    in_goroutine(move || {
        let mu = go_mutex::new();
        let counter = core::cell::UnsafeCell::new(0u64);
        struct Shared<'a>(&'a go_mutex, &'a core::cell::UnsafeCell<u64>);
        // SAFETY: the counter is only touched under the mutex.
        unsafe impl Sync for Shared<'_> {}
        let shared = Shared(&mu, &counter);
        let wg = go_waitgroup::new();
        let per = total / goroutines;
        let t = Instant::now();
        for _ in 0..goroutines {
            let s = &shared;
            spawn_wg(&wg, move || {
                for _ in 0..per {
                    // SAFETY: valid mutex; the counter is guarded by it.
                    unsafe {
                        go_mutex_lock(p(s.0));
                        *s.1.get() += 1;
                        go_mutex_unlock(p(s.0));
                    }
                }
            });
        }
        // SAFETY: our WaitGroup.
        unsafe { go_waitgroup_wait(p(&wg)) };
        let d = t.elapsed();
        assert_eq!(counter.into_inner(), per * goroutines);
        d
    })
}

fn mutex_contended(c: &mut Criterion) {
    go_maxprocs(2);
    let mut g = c.benchmark_group("mutex_contended");
    for goroutines in [2u64, 64, 1024] {
        g.bench_with_input(
            BenchmarkId::from_parameter(goroutines),
            &goroutines,
            |b, &n| b.iter_custom(|iters| contended_run(n, iters.max(n).div_ceil(n) * n)),
        );
    }
    g.finish();
}

fn rwmutex_1pct_writes(c: &mut Criterion) {
    go_maxprocs(2);
    c.bench_function("rwmutex_1pct_writes", |b| {
        b.iter_custom(|iters| {
            in_goroutine(move || {
                const G: u64 = 64;
                let rw = go_rwmutex::new();
                let wg = go_waitgroup::new();
                let per = iters.max(G).div_ceil(G);
                let t = Instant::now();
                for _ in 0..G {
                    let rw = &rw;
                    spawn_wg(&wg, move || {
                        for i in 0..per {
                            // SAFETY: a valid RWMutex.
                            unsafe {
                                if i % 100 == 0 {
                                    go_rwmutex_lock(p(rw));
                                    go_rwmutex_unlock(p(rw));
                                } else {
                                    go_rwmutex_rlock(p(rw));
                                    go_rwmutex_runlock(p(rw));
                                }
                            }
                        }
                    });
                }
                // SAFETY: our WaitGroup.
                unsafe { go_waitgroup_wait(p(&wg)) };
                t.elapsed() * iters as u32 / (per * G) as u32
            })
        })
    });
}

fn waitgroup_fanout(c: &mut Criterion) {
    go_maxprocs(2);
    c.bench_function("waitgroup_fanout_64", |b| {
        b.iter_custom(|iters| {
            in_goroutine(move || {
                extern "C" fn nop(_: *mut c_void) {}
                let t = Instant::now();
                for _ in 0..iters {
                    let wg = go_waitgroup::new();
                    for _ in 0..64 {
                        // SAFETY: valid WaitGroup and function.
                        assert_eq!(
                            unsafe { go_waitgroup_go(p(&wg), Some(nop), core::ptr::null_mut()) },
                            0
                        );
                    }
                    // SAFETY: our WaitGroup.
                    unsafe { go_waitgroup_wait(p(&wg)) };
                }
                t.elapsed()
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = mutex_uncontended, once_done, mutex_contended, rwmutex_1pct_writes, waitgroup_fanout
}
criterion_main!(benches);
