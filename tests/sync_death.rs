//! Every fatal misuse of the sync objects dies with Go's words, naming the
//! goroutine or the thread. Each case runs in a re-executed copy of this
//! test binary (see sync_util::check_deaths).

mod sync_util;
use goro::*;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use sync_util::*;

// SAFETY (every unsafe block in this file): the objects passed are valid;
// the misuse is the point.

static MU: go_mutex = go_mutex::new();
static RW: go_rwmutex = go_rwmutex::new();
static WG: go_waitgroup = go_waitgroup::new();
static ONCE: go_once = go_once::new();

extern "C" fn recurse(_: *mut core::ffi::c_void) {
    unsafe { go_once_do(p(&ONCE), Some(recurse), core::ptr::null_mut()) };
}

fn reuse_before_wait_returned() {
    // With one worker, deterministic: R releases W and reuses the
    // WaitGroup before W runs again.
    go_maxprocs(1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    static W_WAITING: AtomicBool = AtomicBool::new(false);
    go(|| unsafe {
        go_waitgroup_add(p(&WG), 1);
        go(|| {
            W_WAITING.store(true, SeqCst);
            go_waitgroup_wait(p(&WG));
        });
        while !W_WAITING.load(SeqCst) {
            go_yield();
        }
        go_waitgroup_done(p(&WG));
        go_waitgroup_add(p(&WG), 1);
    });
}

const CASES: &[DeathCase] = &[
    ("mutex_unlock_thread", || unsafe { go_mutex_unlock(p(&MU)) }, "goro: fatal error: sync: unlock of unlocked mutex (goroutine 0, thread "),
    ("mutex_unlock_goroutine", || go(|| unsafe { go_mutex_unlock(p(&MU)) }), "goro: fatal error: sync: unlock of unlocked mutex (goroutine "),
    ("rwmutex_unlock", || unsafe { go_rwmutex_unlock(p(&RW)) }, "goro: fatal error: sync: Unlock of unlocked RWMutex (goroutine 0, thread "),
    ("rwmutex_unlock_goroutine", || go(|| unsafe { go_rwmutex_unlock(p(&RW)) }), "goro: fatal error: sync: Unlock of unlocked RWMutex (goroutine "),
    ("rwmutex_unlock_rlocked", || unsafe { go_rwmutex_rlock(p(&RW)); go_rwmutex_unlock(p(&RW)) }, "goro: fatal error: sync: Unlock of unlocked RWMutex"),
    ("rwmutex_runlock", || unsafe { go_rwmutex_runlock(p(&RW)) }, "goro: fatal error: sync: RUnlock of unlocked RWMutex (goroutine 0, thread "),
    ("rwmutex_runlock_goroutine", || go(|| unsafe { go_rwmutex_runlock(p(&RW)) }), "goro: fatal error: sync: RUnlock of unlocked RWMutex (goroutine "),
    ("rwmutex_runlock_locked", || unsafe { go_rwmutex_lock(p(&RW)); go_rwmutex_runlock(p(&RW)) }, "goro: fatal error: sync: RUnlock of unlocked RWMutex"),
    ("waitgroup_negative_add", || unsafe { go_waitgroup_add(p(&WG), -1) }, "goro: fatal error: sync: negative WaitGroup counter (goroutine 0, thread "),
    ("waitgroup_negative_done", || go(|| unsafe { go_waitgroup_done(p(&WG)) }), "goro: fatal error: sync: negative WaitGroup counter (goroutine "),
    ("waitgroup_reused", reuse_before_wait_returned, "goro: fatal error: sync: WaitGroup is reused before previous Wait has returned (goroutine "),
    ("once_recursive_thread", || recurse(core::ptr::null_mut()), "goro: fatal error: sync: Once.Do called recursively (goroutine 0, thread "),
    ("once_recursive_goroutine", || go(|| recurse(core::ptr::null_mut())), "goro: fatal error: sync: Once.Do called recursively (goroutine "),
];

#[test]
fn death_child() {
    run_death_child(CASES);
}

#[test]
fn fatal_misuse_dies_with_gos_words() {
    if std::env::var_os("GORO_SYNC_DEATH").is_some() {
        return;
    }
    check_deaths(CASES);
}
