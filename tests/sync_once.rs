//! go_once_t from Rust through the C API: Go's TestOnce from goroutines
//! and threads racing (exactly one call, everyone returns after it and
//! sees its writes), a waiter parks, GOMAXPROCS 1 and 2.

mod sync_util;
use goro::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use sync_util::*;

struct One {
    once: go_once,
    calls: AtomicUsize,
    payload: Racy<u64>,
}

extern "C" fn init(arg: *mut core::ffi::c_void) {
    // SAFETY: arg is the One passed to go_once_do, alive during the call.
    let o = unsafe { &*(arg as *const One) };
    record_panic(|| {
        assert_eq!(o.calls.fetch_add(1, SeqCst), 0, "fn called twice");
        nap(200_000); // others pile up behind us
        o.payload.set(42);
    });
}

fn call(o: &One) {
    // SAFETY: valid Once and argument.
    unsafe { go_once_do(p(&o.once), Some(init), o as *const One as *mut _) };
    assert_eq!(o.calls.load(SeqCst), 1);
    assert_eq!(
        o.payload.get(),
        42,
        "returned before fn completed, or did not see its writes"
    );
}

/// Go's TestOnce.
#[test]
fn once_race() {
    each_procs(|_| {
        for round in 0..100 {
            let o = Arc::new(One {
                once: go_once::new(),
                calls: AtomicUsize::new(0),
                payload: Racy::new(0),
            });
            let mut g = Group::new();
            let o2 = o.clone();
            g.start(10, round % 3, move || call(&o2));
            g.wait();
            call(&o);
        }
    });
}

/// With one worker, goroutines waiting for a running Once park.
#[test]
fn waiters_park() {
    with_procs(1, || {
        static ONCE: go_once = go_once::new();
        static IN: AtomicUsize = AtomicUsize::new(0);
        static OTHERS: AtomicUsize = AtomicUsize::new(0);
        extern "C" fn slow(_: *mut core::ffi::c_void) {
            record_panic(|| {
                await_cond("waiters", || IN.load(SeqCst) >= 5);
                go_sleep(1_000_000);
                for _ in 0..10 {
                    go(|| {
                        OTHERS.fetch_add(1, SeqCst);
                    });
                }
                await_cond("others", || OTHERS.load(SeqCst) == 10);
            });
        }
        let mut g = Group::new();
        g.start(6, 0, || {
            IN.fetch_add(1, SeqCst);
            // SAFETY: valid Once.
            unsafe { go_once_do(p(&ONCE), Some(slow), core::ptr::null_mut()) };
        });
        g.wait();
    });
}

#[test]
fn fast_path_and_slow_path_agree() {
    static ONCE: go_once = go_once::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn f(_: *mut core::ffi::c_void) {
        N.fetch_add(1, SeqCst);
    }
    // SAFETY: valid Once.
    unsafe {
        go_once_do_slow(p(&ONCE), Some(f), core::ptr::null_mut());
        go_once_do(p(&ONCE), Some(f), core::ptr::null_mut());
        go_once_do_slow(p(&ONCE), Some(f), core::ptr::null_mut());
    }
    assert_eq!(N.load(SeqCst), 1);
    // SAFETY: plain bytes of an 8-byte object.
    let word: u64 = unsafe { core::mem::transmute_copy(&ONCE) };
    assert_eq!(word, 1, "the header's inline fast path tests for 1");
}
