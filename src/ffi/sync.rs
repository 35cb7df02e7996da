//! The `sync` part of goro.h: WaitGroup, Mutex, RWMutex, Once (Go's
//! `sync` package). Argument handling and the C types only; the
//! algorithms are in `src/sync/`.
//!
//! The C types are opaque arrays of the right size and alignment, so that
//! C code can declare them statically and zero-initialize them with `{0}`
//! (warning-free in C and C++); each is cast to its Rust twin in
//! `crate::sync`, whose size and alignment are asserted equal below.
//!
//! Every function's pointer contract is stated in a "Safety:" line of its
//! documentation, worded for the C reader of goro.h rather than as the
//! `# Safety` heading clippy looks for.

#![allow(clippy::missing_safety_doc)]

use super::go_fn;
use crate::runtime;
use crate::sync::{Mutex, Once, RwMutex, WaitGroup};
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};

/// A mutual exclusion lock (Go: `sync.Mutex`), 8 bytes.
///
/// The zero value is an unlocked mutex: `static go_mutex_t mu;` or
/// `go_mutex_t mu = GO_MUTEX_INIT;`. It owns no memory and has no destroy
/// function. Do not copy it after first use. It may be freed (or reused) as
/// soon as it is unlocked and no call on it is in progress, except that the
/// go_mutex_unlock() that released it may still be returning (as POSIX
/// allows for pthread mutexes).
#[repr(C)]
pub struct go_mutex {
    /// Private to goro.
    _opaque: UnsafeCell<[u32; 2]>,
}

/// A mutual exclusion lock; see struct go_mutex.
pub type go_mutex_t = go_mutex;

/// A reader/writer mutual exclusion lock (Go: `sync.RWMutex`), 24 bytes.
///
/// The zero value is unlocked: `static go_rwmutex_t rw;` or
/// `go_rwmutex_t rw = GO_RWMUTEX_INIT;`. No destroy function; do not copy
/// it after first use; free it only when no call on it is in progress.
#[repr(C)]
pub struct go_rwmutex {
    /// Private to goro.
    _opaque: UnsafeCell<[u32; 6]>,
}

/// A reader/writer mutual exclusion lock; see struct go_rwmutex.
pub type go_rwmutex_t = go_rwmutex;

/// Waits for a collection of goroutines (or threads) to finish (Go:
/// `sync.WaitGroup`), 16 bytes.
///
/// The zero value has a counter of 0: `static go_waitgroup_t wg;` or
/// `go_waitgroup_t wg = GO_WAITGROUP_INIT;`. No destroy function; do not
/// copy it after first use. As soon as go_waitgroup_wait() has returned in
/// every waiter, the WaitGroup may be freed or reused, even while the
/// go_waitgroup_done() that released them is still returning (a WaitGroup
/// on the stack of a function that waits and returns is fine).
#[repr(C)]
pub struct go_waitgroup {
    /// Private to goro.
    _opaque: UnsafeCell<[u64; 2]>,
}

/// A WaitGroup; see struct go_waitgroup.
pub type go_waitgroup_t = go_waitgroup;

/// Performs exactly one action (Go: `sync.Once`), 8 bytes.
///
/// The zero value has not run: `static go_once_t once;` or
/// `go_once_t once = GO_ONCE_INIT;`. No destroy function; do not copy it
/// after first use.
#[repr(C)]
pub struct go_once {
    /// Private to goro (0: not run, 1: done, else running).
    _opaque: UnsafeCell<[u64; 1]>,
}

/// A Once; see struct go_once.
pub type go_once_t = go_once;

macro_rules! rust_side {
    ($($t:ident: $n:expr),*) => {$(
        // SAFETY: every access goes through the atomics of the twin type in
        // crate::sync, which the C type is cast to.
        unsafe impl Sync for $t {}
        // SAFETY: as above; the object holds no thread-bound data.
        unsafe impl Send for $t {}
        impl $t {
            /// The zero value (C: the `GO_*_INIT` macro), for Rust callers.
            pub const fn new() -> Self {
                $t { _opaque: UnsafeCell::new([0; $n]) }
            }
        }
        impl Default for $t {
            fn default() -> Self {
                Self::new()
            }
        }
    )*};
}
rust_side!(go_mutex: 2, go_rwmutex: 6, go_waitgroup: 2, go_once: 1);

// The ABI: sizes from the spec, and the C types are exactly their twins.
#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<go_mutex>() == 8 && size_of::<go_mutex>() == size_of::<Mutex>());
    assert!(align_of::<go_mutex>() == align_of::<Mutex>());
    assert!(size_of::<go_once>() == 8 && size_of::<go_once>() == size_of::<Once>());
    assert!(align_of::<go_once>() == align_of::<Once>());
    assert!(size_of::<go_waitgroup>() == 16 && size_of::<go_waitgroup>() == size_of::<WaitGroup>());
    assert!(align_of::<go_waitgroup>() == align_of::<WaitGroup>());
    assert!(size_of::<go_rwmutex>() == 24 && size_of::<go_rwmutex>() == size_of::<RwMutex>());
    assert!(align_of::<go_rwmutex>() == align_of::<RwMutex>());
};

// ---------------------------------------------------------------- WaitGroup

/// Adds `delta`, which may be negative, to the WaitGroup counter (Go:
/// `wg.Add(delta)`). When the counter becomes zero, every goroutine and
/// thread blocked in go_waitgroup_wait() is released.
///
/// As in Go, calls with a positive delta that start from a zero counter
/// must happen before the go_waitgroup_wait() they are meant for, i.e.
/// typically before starting the goroutine.
///
/// Fatal errors: `sync: negative WaitGroup counter`; `sync: WaitGroup
/// misuse: Add called concurrently with Wait`.
///
/// Memory ordering: a call with a negative delta (and go_waitgroup_done())
/// synchronizes before the return of every go_waitgroup_wait() it unblocks.
///
/// Safety: `wg` points to a go_waitgroup_t.
#[no_mangle]
pub unsafe extern "C" fn go_waitgroup_add(wg: *mut go_waitgroup_t, delta: c_int) {
    // SAFETY: the caller passes a valid WaitGroup (documented); the cast is
    // to its layout twin.
    unsafe { WaitGroup::add(wg as *const WaitGroup, delta) }
}

/// Decrements the WaitGroup counter by one: go_waitgroup_add(wg, -1)
/// (Go: `wg.Done()`).
///
/// Fatal error: `sync: negative WaitGroup counter`.
///
/// Memory ordering: synchronizes before the return of every
/// go_waitgroup_wait() it unblocks. It does not touch `*wg` after
/// releasing the waiters: they may free it at once.
///
/// Safety: `wg` points to a go_waitgroup_t.
#[no_mangle]
pub unsafe extern "C" fn go_waitgroup_done(wg: *mut go_waitgroup_t) {
    // SAFETY: as in go_waitgroup_add.
    unsafe { WaitGroup::add(wg as *const WaitGroup, -1) }
}

/// Blocks until the WaitGroup counter is zero (Go: `wg.Wait()`); returns
/// at once if it is zero. In a goroutine this parks the goroutine (its
/// worker runs others meanwhile); on a plain thread it blocks the thread.
/// Any number of goroutines and threads may wait at once. The WaitGroup
/// may be reused (go_waitgroup_add() again) once every wait has returned.
///
/// Fatal error: `sync: WaitGroup is reused before previous Wait has
/// returned`.
///
/// Memory ordering: everything done before each go_waitgroup_done() (or
/// negative go_waitgroup_add()) that brought the counter to zero happens
/// before this returns.
///
/// Safety: `wg` points to a go_waitgroup_t.
#[no_mangle]
pub unsafe extern "C" fn go_waitgroup_wait(wg: *mut go_waitgroup_t) {
    // SAFETY: as in go_waitgroup_add; the waiter keeps it alive.
    unsafe { (*(wg as *const WaitGroup)).wait() }
}

/// Runs after a go_waitgroup_go() goroutine returned (and stopped counting
/// in go_num_goroutine).
unsafe fn waitgroup_go_exit(wg: usize) {
    // SAFETY: go_waitgroup_go's caller keeps the WaitGroup alive until
    // its wait returns, which cannot happen before this done.
    unsafe { WaitGroup::add(wg as *const WaitGroup, -1) }
}

/// Starts `fn(arg)` in a new goroutine tracked by the WaitGroup (Go 1.25:
/// `wg.Go(f)`): go_waitgroup_add(wg, 1), go_spawn(fn, arg), and
/// go_waitgroup_done(wg) when `fn` returns. When go_waitgroup_wait()
/// returns, those goroutines have also stopped counting in
/// go_num_goroutine().
///
/// Returns 0, or go_spawn()'s error (`EINVAL` if `fn` is NULL, `EAGAIN`,
/// `ENOMEM`), in which case no goroutine was started and the counter is as
/// before.
///
/// Memory ordering: what the caller did before go_waitgroup_go() happens
/// before `fn` starts; the return of `fn` synchronizes before the return of
/// the go_waitgroup_wait() it unblocks.
///
/// Safety: `wg` points to a go_waitgroup_t that stays valid until `fn`
/// has returned and the wait for it is over.
#[no_mangle]
pub unsafe extern "C" fn go_waitgroup_go(
    wg: *mut go_waitgroup_t,
    func: go_fn,
    arg: *mut c_void,
) -> c_int {
    let Some(func) = func else {
        return libc::EINVAL;
    };
    let w = wg as *const WaitGroup;
    // SAFETY: valid WaitGroup (contract); counted before the goroutine can
    // possibly call done.
    unsafe { WaitGroup::add(w, 1) };
    let args = runtime::SpawnArgs {
        func,
        arg,
        stack_size: 0,
        name: core::ptr::null_mut(),
        on_exit: Some((waitgroup_go_exit, w as usize)),
    };
    match runtime::spawn(args) {
        Ok(()) => 0,
        Err(e) => {
            // SAFETY: undo our add: the counter is as before.
            unsafe { WaitGroup::add(w, -1) };
            e
        }
    }
}

// -------------------------------------------------------------------- Mutex

/// Locks `m` (Go: `m.Lock()`); if it is locked, waits until it is
/// available. In a goroutine this parks the goroutine (its worker runs
/// others meanwhile); on a plain thread it blocks the thread. Goroutines
/// and threads may contend for the same mutex.
///
/// Not reentrant: locking a mutex you hold deadlocks (as in Go). Fair the
/// way Go's is: waiters queue FIFO, a woken waiter competes with newcomers,
/// and a waiter that has waited over 1 ms switches the mutex to starvation
/// mode, in which unlock hands it directly to the longest waiter. A
/// contended lock first spins briefly when another worker (or thread) may
/// be running the holder and nothing else waits to run.
///
/// Memory ordering: for n < m, the n'th call to go_mutex_unlock(m)
/// synchronizes before the m'th call to go_mutex_lock(m) returns.
///
/// goro.h inlines the uncontended case (one compare-and-swap of the
/// state word from 0 to 1, as Go inlines it) and calls
/// go_mutex_lock_slow() otherwise; this exported version is the same.
///
/// Safety: `m` points to a go_mutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_mutex_lock(m: *mut go_mutex_t) {
    // SAFETY: valid mutex (contract), cast to its layout twin.
    unsafe { (*(m as *const Mutex)).lock() }
}

/// The part of go_mutex_lock() that goro.h does not inline (the mutex was
/// not free): a complete go_mutex_lock(). Call go_mutex_lock() instead.
///
/// Safety: `m` points to a go_mutex_t.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn go_mutex_lock_slow(m: *mut go_mutex_t) {
    // SAFETY: as in go_mutex_lock.
    unsafe { (*(m as *const Mutex)).lock() }
}

/// Tries to lock `m` without waiting (Go: `m.TryLock()`); returns true if
/// it did. Fails if `m` is locked, or in starvation mode (then it belongs
/// to the next waiter). Use is rare, as in Go.
///
/// Memory ordering: a successful call is a go_mutex_lock(); a failed one
/// orders nothing.
///
/// Safety: `m` points to a go_mutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_mutex_trylock(m: *mut go_mutex_t) -> bool {
    // SAFETY: as in go_mutex_lock.
    unsafe { (*(m as *const Mutex)).try_lock() }
}

/// Unlocks `m` (Go: `m.Unlock()`), waking a waiter if there is one. A
/// locked mutex is not owned: any goroutine or thread may unlock it.
///
/// Fatal error: `sync: unlock of unlocked mutex`.
///
/// Memory ordering: see go_mutex_lock(). Once the lock is released this
/// call no longer reads or writes `*m` (the mutex may be freed by its next
/// holder).
///
/// goro.h inlines the uncontended case (one compare-and-swap of the
/// state word from 1 to 0) and calls go_mutex_unlock_slow() otherwise;
/// this exported version is the same.
///
/// Safety: `m` points to a go_mutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_mutex_unlock(m: *mut go_mutex_t) {
    // SAFETY: as in go_mutex_lock.
    unsafe { Mutex::unlock(m as *const Mutex) }
}

/// The part of go_mutex_unlock() that goro.h does not inline (waiters, or
/// misuse): a complete go_mutex_unlock(). Call go_mutex_unlock() instead.
///
/// Safety: `m` points to a go_mutex_t.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn go_mutex_unlock_slow(m: *mut go_mutex_t) {
    // SAFETY: as in go_mutex_lock.
    unsafe { Mutex::unlock(m as *const Mutex) }
}

// ------------------------------------------------------------------ RWMutex

/// Locks `rw` for writing (Go: `rw.Lock()`); waits until no writer or
/// reader holds it. A writer that waits keeps new readers out, so writers
/// are not starved. Parks a goroutine, blocks a plain thread.
///
/// Memory ordering: for n < m, the n'th go_rwmutex_unlock() synchronizes
/// before the m'th go_rwmutex_lock() returns; the go_rwmutex_runlock()
/// matching any go_rwmutex_rlock() that returned after the n'th
/// go_rwmutex_unlock() synchronizes before go_rwmutex_lock() call n+1
/// returns.
///
/// Safety: `rw` points to a go_rwmutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_rwmutex_lock(rw: *mut go_rwmutex_t) {
    // SAFETY: valid RWMutex (contract), cast to its layout twin.
    unsafe { (*(rw as *const RwMutex)).lock() }
}

/// Tries to lock `rw` for writing without waiting (Go: `rw.TryLock()`);
/// returns true if it did.
///
/// Safety: `rw` points to a go_rwmutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_rwmutex_trylock(rw: *mut go_rwmutex_t) -> bool {
    // SAFETY: as in go_rwmutex_lock.
    unsafe { (*(rw as *const RwMutex)).try_lock() }
}

/// Unlocks `rw` for writing (Go: `rw.Unlock()`), letting in the readers
/// that waited, then the next writer. Any goroutine or thread may unlock.
///
/// Fatal error: `sync: Unlock of unlocked RWMutex`.
///
/// Safety: `rw` points to a go_rwmutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_rwmutex_unlock(rw: *mut go_rwmutex_t) {
    // SAFETY: as in go_rwmutex_lock.
    unsafe { RwMutex::unlock(rw as *const RwMutex) }
}

/// Locks `rw` for reading (Go: `rw.RLock()`): many readers may hold it at
/// once. Waits while a writer holds it or waits for it (so do not take a
/// read lock twice in one goroutine: a writer in between deadlocks it, as
/// in Go). Parks a goroutine, blocks a plain thread.
///
/// Memory ordering: there is an n such that the n'th go_rwmutex_unlock()
/// synchronizes before this returns (see go_rwmutex_lock()).
///
/// Readers on different workers do not write a shared cache line: while
/// no writer comes, a goroutine counts itself in a slot of its worker's
/// table (README, "How it works"); a writer gathers those counts first.
///
/// Safety: `rw` points to a go_rwmutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_rwmutex_rlock(rw: *mut go_rwmutex_t) {
    // SAFETY: as in go_rwmutex_lock.
    unsafe { (*(rw as *const RwMutex)).rlock() }
}

/// Tries to lock `rw` for reading without waiting (Go: `rw.TryRLock()`);
/// returns true if it did. Fails while a writer holds or waits for it.
///
/// Safety: `rw` points to a go_rwmutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_rwmutex_tryrlock(rw: *mut go_rwmutex_t) -> bool {
    // SAFETY: as in go_rwmutex_lock.
    unsafe { (*(rw as *const RwMutex)).try_rlock() }
}

/// Undoes one go_rwmutex_rlock() (Go: `rw.RUnlock()`); the last reader out
/// lets a waiting writer in.
///
/// Fatal error: `sync: RUnlock of unlocked RWMutex`.
///
/// A read lock is not owned: any goroutine or thread may undo it.
///
/// Safety: `rw` points to a go_rwmutex_t.
#[no_mangle]
pub unsafe extern "C" fn go_rwmutex_runlock(rw: *mut go_rwmutex_t) {
    // SAFETY: as in go_rwmutex_lock.
    unsafe { RwMutex::runlock(rw as *const RwMutex) }
}

// --------------------------------------------------------------------- Once

/// Calls `fn(arg)` if and only if go_once_do() is being called for the
/// first time for `o` (Go: `once.Do(f)`); every other call, from any
/// goroutine or thread, waits until that call of `fn` has returned. The
/// header inlines the check for "already done" (one acquire load) and calls
/// go_once_do_slow() otherwise; this out-of-line version is the same.
///
/// Fatal errors: `sync: Once.Do called recursively` (`fn` calls
/// go_once_do() on the same `o`, directly or not, in the same goroutine or
/// thread: Go deadlocks there, goro reports it); a NULL `fn`.
///
/// `fn` must return normally (a `longjmp` or C++ exception out of it leaves
/// every other caller waiting forever).
///
/// Memory ordering: the return of the single call of `fn` synchronizes
/// before the return of every go_once_do() on `o`.
///
/// Safety: `o` points to a go_once_t.
#[no_mangle]
pub unsafe extern "C" fn go_once_do(o: *mut go_once_t, func: go_fn, arg: *mut c_void) {
    let once = o as *const Once;
    // SAFETY: valid Once (contract), cast to its layout twin.
    if unsafe { (*once).is_done() } {
        return;
    }
    // SAFETY: as above.
    unsafe { go_once_do_slow(o, func, arg) }
}

/// The part of go_once_do() that goro.h does not inline: runs `fn(arg)` if
/// `o` has not run yet, or waits for the call in progress. Call
/// go_once_do() instead.
///
/// Safety: `o` points to a go_once_t.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn go_once_do_slow(o: *mut go_once_t, func: go_fn, arg: *mut c_void) {
    // SAFETY: valid Once (contract), cast to its layout twin; `fn` is
    // called as the caller asked.
    unsafe {
        Once::do_slow(o as *const Once, || match func {
            Some(f) => f(arg),
            None => {
                crate::diag::fatal(format_args!("sync: go_once_do called with a NULL function"))
            }
        })
    }
}
