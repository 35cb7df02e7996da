//! Go's `sync.Once` (`sync/once.go`) in one 64-bit word, 8 bytes.
//!
//! The word is 0 (not run), 1 (done: the fast path, one acquire load that
//! C code inlines from goro.h), or "running": the running caller's
//! identity shifted left by 3, bit 1 set, and bit 2 set once somebody
//! waits. Go's Once holds a Mutex for the duration of `f`; goro keeps the
//! owner in the word instead, which is what lets it recognise a recursive
//! call (the owner calling again) and die with Go's words instead of
//! deadlocking. Waiters park on the word's address; the caller that ran
//! `f` stores "done" and wakes them all.

use super::atomic::{self, AtomicU64, Ordering::*};
use crate::runtime::g::WaitReason;

#[cfg(loom)]
use super::loom_park as park;
#[cfg(not(loom))]
use crate::park;

/// The value of a finished Once (the inlined fast path compares with it).
pub(crate) const DONE: u64 = 1;
const RUNNING: u64 = 2;
const WAITING: u64 = 4;
const OWNER_SHIFT: u32 = 3;

/// The Once; its C face is `go_once_t`.
#[repr(C)]
pub(crate) struct Once {
    state: AtomicU64,
}

#[cfg(not(loom))]
const _: () = assert!(core::mem::size_of::<Once>() == 8 && core::mem::align_of::<Once>() == 8);

impl Once {
    #[cfg(loom)]
    pub(crate) fn new() -> Once {
        Once {
            state: AtomicU64::new(0),
        }
    }

    /// Whether `f` has completed (the fast path).
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        // Acquire: pairs with the Release that stored DONE after `f`.
        let done = self.state.load(Acquire) == DONE;
        if done {
            atomic::race_acquire(self as *const Once as usize);
        }
        done
    }

    /// Runs `f` unless it ran or is running; in the latter case waits for
    /// it to complete.
    ///
    /// # Safety
    /// `this` points to a live Once, and stays alive while this call waits
    /// for `f`. The caller that runs `f` does not touch the Once after
    /// storing "done", so callers that return from the fast path may free
    /// it while that call is still returning.
    #[inline(never)]
    pub(crate) unsafe fn do_slow(this: *const Once, f: impl FnOnce()) {
        // SAFETY: live at entry; nobody may free it before DONE is stored
        // (every other caller waits for that), and we use `state` only
        // before the store (ours, or the one we wait for).
        let state = unsafe { &(*this).state };
        let key = this as usize;
        let me = atomic::self_id() << OWNER_SHIFT | RUNNING;
        let mut cur = state.load(Acquire);
        loop {
            if cur == DONE {
                atomic::race_acquire(key);
                return;
            }
            if cur == 0 {
                match state.compare_exchange(0, me, Acquire, Acquire) {
                    Ok(_) => {
                        f();
                        atomic::race_release(key);
                        // Release: f's writes happen before every return
                        // from do that sees DONE.
                        let old = state.swap(DONE, AcqRel);
                        if old & WAITING != 0 {
                            // Wakes by key only: the Once may be gone once
                            // the first waiter is out.
                            park::unpark_all(key, 0);
                        }
                        return;
                    }
                    Err(x) => {
                        cur = x;
                        continue;
                    }
                }
            }
            // Running.
            if cur & !WAITING == me {
                crate::diag::fatal(format_args!("sync: Once.Do called recursively"));
            }
            if cur & WAITING == 0 {
                if let Err(x) = state.compare_exchange(cur, cur | WAITING, Relaxed, Acquire) {
                    cur = x;
                    continue;
                }
                cur |= WAITING;
            }
            // Sleep unless it completed meanwhile: the completing caller
            // stores DONE before taking the queue lock to wake us, and
            // validation runs under that lock.
            // A wake-up is only a hint (a stale wake for an earlier Once
            // at this address is possible): look at the word again.
            let _ = park::park(key, || state.load(Relaxed) == cur, WaitReason::Once, false);
            cur = state.load(Acquire);
        }
    }
}
