//! Criterion micro benchmarks of goro's runtime core:
//!
//! * `raw_switch`: one round trip (two context switches) between the
//!   calling thread and a bare context, outside the scheduler.
//! * `go_yield`: two goroutines yielding to each other on one worker
//!   (GOMAXPROCS=1); time per go_yield.
//! * `spawn_join`: a goroutine spawns batches of 64 goroutines and waits
//!   for each batch on a WaitGroup, so stacks and control blocks are reused
//!   from the worker's caches; time per goroutine, at GOMAXPROCS 1 and 2.
//! * `park_unpark`: two goroutines on one worker hand control to each
//!   other through two mutexes used as semaphores (Go's mutexes are not
//!   owned): every handoff is one park of the receiver and one unpark by
//!   the sender through the parking layer; time per handoff.
//!
//! Timing is taken inside the goroutines (a driver goroutine, as Go's main
//! is one), so the main thread's wake-up latency is not measured.
//! Run: `cargo bench --bench core`. The C programs in bench/ compare the
//! same operations with Go, pthreads and Boost.Fiber (see BENCHMARKS.md).

use core::ffi::c_void;
use criterion::{criterion_group, criterion_main, Criterion};
use goro::{
    go_maxprocs, go_mutex_lock, go_mutex_t, go_mutex_unlock, go_spawn, go_waitgroup_add,
    go_waitgroup_done, go_waitgroup_t, go_waitgroup_wait, go_yield,
};
use std::time::{Duration, Instant};

/// Runs `f` in a goroutine and blocks the calling thread until it returned.
fn in_goroutine<F: FnOnce() + Send>(f: F) {
    struct Job<F> {
        f: Option<F>,
        done: go_waitgroup_t,
    }
    unsafe extern "C" fn tramp<F: FnOnce()>(p: *mut c_void) {
        // SAFETY: p is the Job below, alive until done is signalled.
        let job = unsafe { &mut *(p as *mut Job<F>) };
        (job.f.take().expect("run once"))();
        // SAFETY: a valid WaitGroup; the waiter keeps it alive until woken.
        unsafe { go_waitgroup_done(&mut job.done) };
    }
    let mut job = Job {
        f: Some(f),
        done: go_waitgroup_t::new(),
    };
    // SAFETY: valid pointers; job outlives the goroutine (we wait below).
    unsafe {
        go_waitgroup_add(&mut job.done, 1);
        assert_eq!(
            go_spawn(Some(tramp::<F>), (&mut job as *mut Job<F>).cast()),
            0
        );
        go_waitgroup_wait(&mut job.done);
    }
}

/// Spawns `f(arg)` or panics. The callers pass arguments that outlive the
/// goroutine.
fn spawn(f: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) {
    assert_eq!(go_spawn(Some(f), arg), 0);
}

fn raw_switch(c: &mut Criterion) {
    c.bench_function("raw_switch/roundtrip", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            goro::__bench::raw_switch_roundtrips(iters);
            t.elapsed()
        })
    });
}

struct Yielders {
    n: u64,
    wg: go_waitgroup_t,
}

unsafe extern "C" fn yielder(p: *mut c_void) {
    // SAFETY: p is a Yielders that outlives both goroutines.
    let y = unsafe { &mut *(p as *mut Yielders) };
    for _ in 0..y.n {
        go_yield();
    }
    // SAFETY: valid WaitGroup.
    unsafe { go_waitgroup_done(&mut y.wg) };
}

fn yield_two_goroutines(c: &mut Criterion) {
    go_maxprocs(1);
    c.bench_function("go_yield/two_goroutines_one_worker", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            in_goroutine(|| {
                let mut y = Yielders {
                    n: iters,
                    wg: go_waitgroup_t::new(),
                };
                let p = (&mut y as *mut Yielders).cast();
                let t = Instant::now();
                // SAFETY: y outlives both goroutines (we wait for them).
                unsafe { go_waitgroup_add(&mut y.wg, 2) };
                spawn(yielder, p);
                spawn(yielder, p);
                // SAFETY: valid WaitGroup.
                unsafe { go_waitgroup_wait(&mut y.wg) };
                // Two goroutines yield `iters` times each: per yield.
                elapsed = t.elapsed() / 2;
            });
            elapsed
        })
    });
    go_maxprocs(2);
}

unsafe extern "C" fn done_only(p: *mut c_void) {
    // SAFETY: p is the batch's WaitGroup, alive until its wait returns.
    unsafe { go_waitgroup_done(p.cast()) };
}

fn spawn_join(c: &mut Criterion) {
    const BATCH: u64 = 64;
    let mut group = c.benchmark_group("spawn_join");
    for procs in [1, 2] {
        group.bench_function(format!("batch64_gomaxprocs{procs}"), |b| {
            go_maxprocs(procs);
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                in_goroutine(|| {
                    let mut wg = go_waitgroup_t::new();
                    let p: *mut c_void = (&mut wg as *mut go_waitgroup_t).cast();
                    let t = Instant::now();
                    let mut left = iters;
                    while left > 0 {
                        let k = left.min(BATCH);
                        // SAFETY: wg outlives the batch (we wait for it).
                        unsafe { go_waitgroup_add(&mut wg, k as i32) };
                        for _ in 0..k {
                            spawn(done_only, p);
                        }
                        // SAFETY: valid WaitGroup.
                        unsafe { go_waitgroup_wait(&mut wg) };
                        left -= k;
                    }
                    elapsed = t.elapsed();
                });
                elapsed
            })
        });
    }
    group.finish();
    go_maxprocs(2);
}

struct PingPong {
    n: u64,
    ping: go_mutex_t,
    pong: go_mutex_t,
    wg: go_waitgroup_t,
}

unsafe extern "C" fn pinger(p: *mut c_void) {
    // SAFETY: p is a PingPong that outlives both goroutines.
    let pp = unsafe { &mut *(p as *mut PingPong) };
    for _ in 0..pp.n {
        // SAFETY: valid mutexes; both start locked, and Go's (and goro's)
        // mutexes may be unlocked by another goroutine than the locker.
        unsafe {
            go_mutex_unlock(&mut pp.ping);
            go_mutex_lock(&mut pp.pong);
        }
    }
    // SAFETY: valid WaitGroup.
    unsafe { go_waitgroup_done(&mut pp.wg) };
}

unsafe extern "C" fn ponger(p: *mut c_void) {
    // SAFETY: as in pinger.
    let pp = unsafe { &mut *(p as *mut PingPong) };
    for _ in 0..pp.n {
        // SAFETY: as in pinger.
        unsafe {
            go_mutex_lock(&mut pp.ping);
            go_mutex_unlock(&mut pp.pong);
        }
    }
    // SAFETY: valid WaitGroup.
    unsafe { go_waitgroup_done(&mut pp.wg) };
}

fn park_unpark(c: &mut Criterion) {
    go_maxprocs(1);
    c.bench_function("park_unpark/mutex_pingpong_one_worker", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            in_goroutine(|| {
                let mut pp = PingPong {
                    n: iters,
                    ping: go_mutex_t::new(),
                    pong: go_mutex_t::new(),
                    wg: go_waitgroup_t::new(),
                };
                let p = (&mut pp as *mut PingPong).cast();
                // SAFETY: pp outlives both goroutines (we wait for them).
                unsafe {
                    go_mutex_lock(&mut pp.ping);
                    go_mutex_lock(&mut pp.pong);
                    go_waitgroup_add(&mut pp.wg, 2);
                }
                let t = Instant::now();
                spawn(pinger, p);
                spawn(ponger, p);
                // SAFETY: valid WaitGroup.
                unsafe { go_waitgroup_wait(&mut pp.wg) };
                // Each iteration is two handoffs (ping, then pong).
                elapsed = t.elapsed() / 2;
            });
            elapsed
        })
    });
    go_maxprocs(2);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = raw_switch, yield_two_goroutines, spawn_join, park_unpark
}
criterion_main!(benches);
