//! go_waitgroup_t from Rust through the C API: Go's testWaitGroup
//! (two-phase), many waiters (goroutines and threads), reuse,
//! go_waitgroup_go with exact go_num_goroutine, a WaitGroup on the stack,
//! under GOMAXPROCS 1 and 2.

mod sync_util;
use goro::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use sync_util::*;

// SAFETY (every unsafe block in this file): the objects passed are valid
// and outlive the calls.

/// Go's testWaitGroup, with the same two WaitGroups reused round after
/// round.
#[test]
fn two_phase_and_reuse() {
    each_procs(|_| {
        struct S {
            wg1: go_waitgroup,
            wg2: go_waitgroup,
            exited: AtomicUsize,
        }
        let s = Arc::new(S {
            wg1: go_waitgroup::new(),
            wg2: go_waitgroup::new(),
            exited: AtomicUsize::new(0),
        });
        for round in 0..30 {
            let (gs, ts) = [(16, 0), (8, 4), (0, 3)][round % 3];
            let n = gs + ts;
            s.exited.store(0, SeqCst);
            unsafe {
                go_waitgroup_add(p(&s.wg1), n as i32);
                go_waitgroup_add(p(&s.wg2), n as i32);
            }
            let mut g = Group::new();
            let s2 = s.clone();
            g.start(gs, ts, move || unsafe {
                go_waitgroup_done(p(&s2.wg1));
                go_waitgroup_wait(p(&s2.wg2));
                s2.exited.fetch_add(1, SeqCst);
            });
            unsafe { go_waitgroup_wait(p(&s.wg1)) };
            for _ in 0..n {
                assert_eq!(
                    s.exited.load(SeqCst),
                    0,
                    "WaitGroup released group too soon"
                );
                unsafe { go_waitgroup_done(p(&s.wg2)) };
            }
            g.wait();
            assert_eq!(s.exited.load(SeqCst), n);
        }
    });
}

/// Many goroutines and threads wait on one WaitGroup at once; dones come
/// from goroutines and threads.
#[test]
fn many_waiters() {
    each_procs(|_| {
        for _ in 0..20 {
            let wg = Arc::new(go_waitgroup::new());
            let (inside, out) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            unsafe { go_waitgroup_add(p(&*wg), 4) };
            let mut waiters = Group::new();
            let (w2, i2, o2) = (wg.clone(), inside.clone(), out.clone());
            waiters.start(30, 3, move || {
                i2.fetch_add(1, SeqCst);
                unsafe { go_waitgroup_wait(p(&*w2)) };
                o2.fetch_add(1, SeqCst);
            });
            await_cond("waiters in", || inside.load(SeqCst) == 33);
            assert_eq!(out.load(SeqCst), 0);
            let mut openers = Group::new();
            let w3 = wg.clone();
            openers.start(2, 2, move || unsafe { go_waitgroup_done(p(&*w3)) });
            waiters.wait();
            openers.wait();
            assert_eq!(out.load(SeqCst), 33);
        }
    });
}

extern "C" fn count_up(arg: *mut core::ffi::c_void) {
    // SAFETY: arg is the &AtomicUsize passed below, alive until the wait.
    unsafe { (*(arg as *const AtomicUsize)).fetch_add(1, SeqCst) };
}

/// go_waitgroup_go: every goroutine counted and waited for, and no longer
/// counted by go_num_goroutine once wait returns; errors leave the
/// counter alone.
#[test]
fn waitgroup_go() {
    each_procs(|_| {
        // Goroutines of the tests before may still be returning after
        // their last visible step: start from none.
        await_cond("no goroutine left", || go_num_goroutine() == 0);
        for _ in 0..50 {
            let wg = go_waitgroup::new();
            let n = AtomicUsize::new(0);
            let arg = &n as *const AtomicUsize as *mut core::ffi::c_void;
            for _ in 0..100 {
                assert_eq!(unsafe { go_waitgroup_go(p(&wg), Some(count_up), arg) }, 0);
            }
            unsafe { go_waitgroup_wait(p(&wg)) };
            assert_eq!(n.load(SeqCst), 100);
            assert_eq!(go_num_goroutine(), 0);
        }
        let wg = go_waitgroup::new();
        assert_eq!(
            unsafe { go_waitgroup_go(p(&wg), None, core::ptr::null_mut()) },
            libc::EINVAL
        );
        // SAFETY: plain bytes of a 16-byte object.
        let bytes: [u8; 16] = unsafe { core::mem::transmute_copy(&wg) };
        assert_eq!(bytes, [0; 16]);
        unsafe { go_waitgroup_wait(p(&wg)) };
    });
}

extern "C" fn done_it(arg: *mut core::ffi::c_void) {
    // SAFETY: the WaitGroup on the waiter's stack, alive until its wait
    // returns, which needs this done.
    unsafe { go_waitgroup_done(arg.cast()) };
}

#[inline(never)]
fn wait_on_stack(n: usize) {
    let wg = go_waitgroup::new();
    unsafe { go_waitgroup_add(p(&wg), n as i32) };
    for _ in 0..n {
        assert_eq!(go_spawn(Some(done_it), p(&wg).cast()), 0);
    }
    unsafe { go_waitgroup_wait(p(&wg)) };
    // The frame dies here: poison it (a late access by done would show).
    // SAFETY: nobody uses wg any more (the contract under test).
    unsafe { core::ptr::write_volatile(p(&wg).cast::<[u8; 16]>(), [0x5a; 16]) };
}

/// A WaitGroup on the stack of a function that waits and returns.
#[test]
fn waitgroup_on_stack() {
    each_procs(|_| {
        for i in 0..500 {
            wait_on_stack(1 + i % 4);
        }
        let mut g = Group::new();
        g.start(4, 0, || {
            for i in 0..200 {
                wait_on_stack(1 + i % 3);
            }
        });
        g.wait();
    });
}

/// With one worker, a goroutine waiting parks: others run meanwhile.
#[test]
fn blocking_parks_the_goroutine() {
    with_procs(1, || {
        let wg = Arc::new(go_waitgroup::new());
        let (waiting, released, other) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        unsafe { go_waitgroup_add(p(&*wg), 1) };
        let mut g = Group::new();
        let (w2, wt, rl) = (wg.clone(), waiting.clone(), released.clone());
        g.go(move || {
            wt.store(true, SeqCst);
            unsafe { go_waitgroup_wait(p(&*w2)) };
            rl.store(true, SeqCst);
        });
        await_cond("waiter", || waiting.load(SeqCst));
        let o = other.clone();
        g.start(10, 0, move || {
            o.fetch_add(1, SeqCst);
        });
        await_cond("others ran", || other.load(SeqCst) == 10);
        assert!(!released.load(SeqCst));
        unsafe { go_waitgroup_done(p(&*wg)) };
        g.wait();
        assert!(released.load(SeqCst));
    });
}
