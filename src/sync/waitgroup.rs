//! Go's `sync.WaitGroup` (`sync/waitgroup.go`): a 64-bit state word (the
//! counter in the high half, the number of waiters in the low half) and a
//! semaphore, 16 bytes.
//!
//! Wait registers itself in the low half and sleeps on the semaphore;
//! the `add` that brings the counter to zero resets the word to 0 and
//! releases one unit per waiter. Each waiter, once released, checks that
//! the word is still 0: otherwise the WaitGroup was reused before every
//! Wait returned (Go's panic).
//!
//! After the releasing `add` has given the last unit it touches nothing:
//! a waiter may return and free the WaitGroup (on its stack, say) while
//! `go_waitgroup_done` is still returning.

use super::atomic::{self, AtomicU64, Ordering::*};
use super::sema::Sema;
use crate::runtime::g::WaitReason;

/// The WaitGroup; its C face is `go_waitgroup_t`.
#[repr(C)]
pub(crate) struct WaitGroup {
    /// Counter (high 32 bits, signed) and waiters (low 32 bits).
    state: AtomicU64,
    sema: Sema,
    _reserved: u32,
}

#[cfg(not(loom))]
const _: () =
    assert!(core::mem::size_of::<WaitGroup>() == 16 && core::mem::align_of::<WaitGroup>() == 8);

#[cold]
fn misuse(what: &str) -> ! {
    crate::diag::fatal(format_args!("sync: {what}"))
}

impl WaitGroup {
    #[cfg(loom)]
    pub(crate) fn new() -> WaitGroup {
        WaitGroup {
            state: AtomicU64::new(0),
            sema: Sema::new(),
            _reserved: 0,
        }
    }

    /// Adds `delta` (possibly negative) to the counter; at zero, releases
    /// every waiter.
    ///
    /// # Safety
    /// `this` points to a live WaitGroup at entry. If this call brings the
    /// counter to zero, the waiters may free it as soon as they are
    /// released: this function does not touch it after that.
    pub(crate) unsafe fn add(this: *const WaitGroup, delta: i32) {
        // SAFETY: live at entry (contract). Until the counter reaches zero
        // the caller's own pending count keeps it alive; at zero, waiters
        // stay inside wait (and keep it alive) until released below.
        let wg = unsafe { &*this };
        if delta < 0 {
            atomic::race_release(this as usize);
        }
        let d = (delta as i64 as u64) << 32;
        // AcqRel: a `done` releases the work before it; the add that
        // reaches zero acquires all of them (the RMWs form one release
        // sequence) before it releases the waiters.
        let state = wg.state.fetch_add(d, AcqRel).wrapping_add(d);
        let v = (state >> 32) as i32;
        let w = state as u32;
        if v < 0 {
            misuse("negative WaitGroup counter");
        }
        if w != 0 && delta > 0 && v == delta {
            misuse("WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // Counter at zero with waiters: nobody may change the state now
        // (an Add racing here is a misuse: Go checks it the same way).
        if wg.state.load(Relaxed) != state {
            misuse("WaitGroup misuse: Add called concurrently with Wait");
        }
        // Reset the waiter count, then release the waiters. Release: a
        // released waiter that sees 0 has seen everything before.
        wg.state.store(0, Release);
        // SAFETY: `w` waiters are inside wait until they get their unit;
        // Sema::release does not touch the word after the last one.
        unsafe { Sema::release(core::ptr::addr_of!((*this).sema), w) };
    }

    /// Waits until the counter is zero.
    pub(crate) fn wait(&self) {
        let mut state = self.state.load(Acquire);
        loop {
            if state >> 32 == 0 {
                // Acquire (above, or the failed CAS): pairs with the add
                // that reached zero.
                atomic::race_acquire(self as *const WaitGroup as usize);
                return;
            }
            match self
                .state
                .compare_exchange_weak(state, state + 1, Acquire, Acquire)
            {
                Ok(_) => {
                    self.sema.acquire(false, WaitReason::WaitGroup);
                    if self.state.load(Acquire) != 0 {
                        misuse("WaitGroup is reused before previous Wait has returned");
                    }
                    atomic::race_acquire(self as *const WaitGroup as usize);
                    return;
                }
                Err(x) => state = x,
            }
        }
    }
}
