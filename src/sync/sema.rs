//! Go's runtime semaphore (`runtime/sema.go`: `semacquire1`,
//! `semrelease1`) over the parking layer: a 32-bit count and the waiters
//! parked on its address.
//!
//! One difference from Go, made for C: a release never touches the word
//! after the unit it releases can be taken. It either hands the unit to
//! the first parked waiter (the waker's token, so the waiter need not
//! retry), or, when nobody is parked, raises the count *under the queue
//! lock* that a waiter's validation also holds. A released waiter may
//! therefore return, and its program free the object around the word,
//! while the releaser is still inside the call (POSIX's rule for
//! `pthread_mutex_destroy`, and goro's for `go_waitgroup_wait`).

use super::atomic::{self, AtomicU32, Ordering::*};
use crate::runtime::g::WaitReason;

#[cfg(loom)]
use super::loom_park as park;
#[cfg(not(loom))]
use crate::park;

/// A semaphore count; its address is the parking key.
#[repr(transparent)]
pub(crate) struct Sema(AtomicU32);

impl Sema {
    #[cfg(loom)]
    pub(crate) fn new() -> Sema {
        Sema(AtomicU32::new(0))
    }

    /// Go's `cansemacquire`: takes a unit if there is one (units are
    /// handed to parked waiters first, so this never takes one of theirs).
    #[inline]
    fn try_acquire(&self) -> bool {
        let mut v = self.0.load(Relaxed);
        loop {
            if v == 0 {
                return false;
            }
            // Acquire: pairs with the Release that put the unit there.
            match self.0.compare_exchange_weak(v, v - 1, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(x) => v = x,
            }
        }
    }

    /// Waits for a unit (Go's `semacquire1`). `lifo` queues the caller at
    /// the front: a waiter that was woken before and lost the race again.
    /// Parks a goroutine, blocks a plain thread.
    pub(crate) fn acquire(&self, lifo: bool, reason: WaitReason) {
        if self.try_acquire() {
            return;
        }
        // Validation runs under the queue lock, which every release also
        // holds while it decides between "hand to a parked waiter" and
        // "raise the count": so either our validation sees the unit, or
        // the release finds us queued and the unit is ours on wake-up.
        let key = self as *const Sema as usize;
        let _ = park::park(key, || !self.try_acquire(), reason, lifo);
    }

    /// [`Sema::acquire`] (FIFO) after polling for a unit for ~4 µs
    /// (`atomic::can_poll`): for waits that are usually short because the
    /// party that releases is running (the RWMutex's writer and readers).
    pub(crate) fn acquire_polling(&self, reason: WaitReason) {
        let mut i = 0;
        while atomic::can_poll(i) {
            atomic::poll_pause();
            if self.try_acquire() {
                return;
            }
            i += 1;
        }
        self.acquire(false, reason);
    }

    /// Releases `n` units (Go's `semrelease1`, `n` times): each goes to
    /// the first parked waiter (FIFO, save for lifo re-queues), the rest
    /// to the count. Returns how many waiters were woken.
    ///
    /// # Safety
    /// `this` points to a live `Sema`, and at least `n` acquirers are
    /// inside [`Sema::acquire`] or bound to enter it: they keep the word
    /// alive until they have their unit, and after the last unit is given
    /// this function no longer dereferences `this`.
    ///
    /// A single woken goroutine runs next on this worker (see
    /// `park::unpark_n`): Mutex hand-offs and the writer that the last
    /// reader of an RWMutex lets in do not queue behind other goroutines
    /// that would find the lock taken and park as well.
    pub(crate) unsafe fn release(this: *const Sema, n: u32) -> u32 {
        let key = this as usize;
        let callback = |found: usize| {
            let left = n - found as u32;
            if left != 0 {
                // SAFETY: `left` units are still owed to acquirers that are
                // not parked yet, so the word is alive (contract). Under
                // the queue lock: the validation of a waiter about to park
                // sees the new count (no lost wake-up).
                unsafe { (*this).0.fetch_add(left, Release) };
            }
            0
        };
        park::unpark_n(key, n as usize, callback) as u32
    }
}
