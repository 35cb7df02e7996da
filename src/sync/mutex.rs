//! Go's `sync.Mutex` (`internal/sync/mutex.go`): one 32-bit state word
//! and a semaphore, 8 bytes.
//!
//! State: bit 0 locked, bit 1 woken (a waiter is awake and will try to
//! take the lock, so unlock need not wake another), bit 2 starving, bits
//! 3.. the number of waiters.
//!
//! Two modes, as in Go. Normal: waiters queue FIFO, but a woken waiter
//! competes with newly arriving lockers (which are running, and usually
//! win); a waiter that loses is queued at the front. Starvation: entered
//! when a waiter has waited over 1 ms; unlock then hands the mutex directly
//! to the first waiter, newcomers queue at the back without trying, and
//! the last waiter (or one that waited under 1 ms) switches back to
//! normal. Normal mode performs much better; starvation mode bounds tail
//! latency.
//!
//! ABI: goro.h inlines into C programs, as Go inlines its fast paths,
//! these compare-and-swaps of the state word (offset 0): lock from 0 to
//! `LOCKED`, or, that failing, from any `old` without `LOCKED` and
//! `STARVING` to `old | LOCKED` (waiters queued, lock free: take it, as
//! the slow path would first); unlock from `LOCKED` to 0, or, that
//! failing, from any `old` with `LOCKED`, without `STARVING`, and with no
//! waiter or `WOKEN` set, to `old - LOCKED` (nobody to wake). Every future
//! version must keep those transitions meaning exactly that; any other
//! state goes to the exported slow paths, which may do anything. The
//! second forms matter under contention: with one waiter parked, every
//! lock and unlock used to take the slow paths (W4 at 64 and 1024
//! goroutines: 71-79 and 79-85 ns per operation; with them 36-44 and
//! 47-52).
//!
//! Unlike Go, the release of the lock and the decision to wake a waiter
//! are one compare-and-swap, after which unlock touches only the
//! semaphore, and that only while a waiter it owes a unit to keeps the
//! mutex alive (see `sema.rs`): a C program may free a mutex as soon as it
//! is unlocked and unused, even while the `unlock` that released it is
//! still returning (POSIX's rule for `pthread_mutex_destroy`).

use super::atomic::{self, AtomicU32, Ordering::*};
use super::sema::Sema;
use crate::runtime::g::WaitReason;

const LOCKED: u32 = 1;
const WOKEN: u32 = 2;
const STARVING: u32 = 4;
const WAITER_SHIFT: u32 = 3;
const ONE_WAITER: u32 = 1 << WAITER_SHIFT;
/// A waiter that waited longer than this switches the mutex to starvation
/// mode (Go's `starvationThresholdNs`).
const STARVATION_NS: u64 = 1_000_000;

/// The mutex; its C face is `go_mutex_t` (same size and alignment).
#[repr(C)]
pub(crate) struct Mutex {
    state: AtomicU32,
    sema: Sema,
}

#[cfg(not(loom))]
const _: () = assert!(core::mem::size_of::<Mutex>() == 8 && core::mem::align_of::<Mutex>() == 4);

/// Whether an unlock from state `old` has no waiter to wake: none is
/// queued, or one is already awake.
#[inline]
fn nobody_to_wake(old: u32) -> bool {
    old >> WAITER_SHIFT == 0 || old & WOKEN != 0
}

#[cold]
fn inconsistent() -> ! {
    crate::diag::fatal(format_args!("sync: inconsistent mutex state"))
}

impl Mutex {
    #[cfg(loom)]
    pub(crate) fn new() -> Mutex {
        Mutex {
            state: AtomicU32::new(0),
            sema: Sema::new(),
        }
    }

    /// Locks; blocks (parks a goroutine, blocks a thread) while it is held.
    #[inline]
    pub(crate) fn lock(&self) {
        if !self.lock_fast() {
            self.lock_slow(true);
        }
        atomic::race_acquire(self as *const Mutex as usize);
    }

    /// The lock fast paths goro.h inlines (see the module documentation).
    #[inline]
    fn lock_fast(&self) -> bool {
        // Acquire: pairs with the Release of the unlock we follow.
        match self.state.compare_exchange(0, LOCKED, Acquire, Relaxed) {
            Ok(_) => true,
            Err(old) => {
                old & (LOCKED | STARVING) == 0
                    && self
                        .state
                        .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
                        .is_ok()
            }
        }
    }

    /// [`Mutex::lock`] for RWMutex writers: spins only while nothing else
    /// is runnable on this worker (see [`atomic::can_spin`]).
    #[inline]
    pub(crate) fn lock_writer(&self) {
        if !self.lock_fast() {
            self.lock_slow(false);
        }
        atomic::race_acquire(self as *const Mutex as usize);
    }

    /// Whether the mutex may be held: locked, or being handed over in
    /// starvation mode (to an owner that has not set `LOCKED` yet).
    #[inline]
    pub(crate) fn may_be_held(&self) -> bool {
        self.state.load(Relaxed) & (LOCKED | STARVING) != 0
    }

    /// Takes the lock if that needs no waiting. Fails in starvation mode
    /// even when unlocked at this instant (the lock belongs to a waiter).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        let ok = self
            .state
            .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
            .is_ok();
        if ok {
            atomic::race_acquire(self as *const Mutex as usize);
        }
        ok
    }

    #[cold]
    fn lock_slow(&self, queued_ok: bool) {
        let mut wait_start = 0u64;
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0u32;
        let mut old = self.state.load(Relaxed);
        loop {
            // Spin while a running holder may release it soon; never in
            // starvation mode, where the lock goes to the queue anyway.
            if old & (LOCKED | STARVING) == LOCKED && atomic::can_spin(iter, queued_ok) {
                // Set WOKEN so that unlock does not wake a waiter while we
                // are about to take the lock ourselves.
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Relaxed, Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                atomic::spin();
                iter += 1;
                old = self.state.load(Relaxed);
                continue;
            }
            let mut new = old;
            // Newcomers do not take a starving mutex: they queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += ONE_WAITER;
            }
            // Switch to starvation mode, but only while it is locked (an
            // unlocked starving mutex would have nobody to hand it over).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                // We were woken (or claimed WOKEN while spinning): clear it,
                // whether we get the lock now or sleep again.
                if new & WOKEN == 0 {
                    inconsistent();
                }
                new &= !WOKEN;
            }
            // Acquire: if this takes the lock, pairs with the releasing
            // unlock's Release.
            match self.state.compare_exchange(old, new, Acquire, Relaxed) {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        return; // locked it
                    }
                    // Waited before: back to the front of the queue.
                    let lifo = wait_start != 0;
                    if wait_start == 0 {
                        wait_start = atomic::now_ns();
                    }
                    self.sema.acquire(lifo, WaitReason::Mutex);
                    starving =
                        starving || atomic::now_ns().saturating_sub(wait_start) > STARVATION_NS;
                    old = self.state.load(Relaxed);
                    if old & STARVING != 0 {
                        // Handed to us: we own it although LOCKED is clear
                        // and we still count as a waiter.
                        if old & (LOCKED | WOKEN) != 0 || old >> WAITER_SHIFT == 0 {
                            inconsistent();
                        }
                        let mut delta = LOCKED.wrapping_sub(ONE_WAITER);
                        if !starving || old >> WAITER_SHIFT == 1 {
                            // Leave starvation mode: we waited briefly, or
                            // we are the last waiter (a starving mutex with
                            // no waiters could never be taken again).
                            delta = delta.wrapping_sub(STARVING);
                        }
                        // Acquire: the handing unlock's Release precedes
                        // this in the word's modification order.
                        self.state.fetch_add(delta, Acquire);
                        return;
                    }
                    awoke = true;
                    iter = 0;
                }
                Err(x) => old = x,
            }
        }
    }

    /// Unlocks. Any goroutine or thread may unlock (as in Go).
    ///
    /// # Safety
    /// `this` points to a live mutex at entry. It may be freed by others
    /// as soon as the lock is released (see the module documentation).
    #[inline]
    pub(crate) unsafe fn unlock(this: *const Mutex) {
        atomic::race_release(this as usize);
        // SAFETY: live at entry (contract); the reference is not used after
        // the releasing compare-and-swap.
        let state = unsafe { &(*this).state };
        // Release: everything done under the lock happens before the next
        // lock returns.
        if let Err(old) = state.compare_exchange(LOCKED, 0, Release, Relaxed) {
            // Nobody to wake: release, keeping the rest (goro.h inlines
            // this too).
            if old & (LOCKED | STARVING) == LOCKED
                && nobody_to_wake(old)
                && state
                    .compare_exchange(old, old - LOCKED, Release, Relaxed)
                    .is_ok()
            {
                return;
            }
            // SAFETY: still locked by us, so still alive.
            unsafe { Mutex::unlock_slow(this, old) }
        }
    }

    #[cold]
    unsafe fn unlock_slow(this: *const Mutex, mut old: u32) {
        // SAFETY: live until our releasing CAS below succeeds; `state` is
        // not used after that.
        let state = unsafe { &(*this).state };
        // SAFETY: a field address only.
        let sema = unsafe { core::ptr::addr_of!((*this).sema) };
        loop {
            if old & LOCKED == 0 {
                crate::diag::fatal(format_args!("sync: unlock of unlocked mutex"));
            }
            if old & STARVING != 0 {
                // Starvation mode: hand the mutex to the first waiter.
                // LOCKED stays clear until it takes over; STARVING keeps
                // newcomers out meanwhile.
                match state.compare_exchange_weak(old, old - LOCKED, Release, Relaxed) {
                    Ok(_) => {
                        // SAFETY: a waiter (counted in the state, hence
                        // inside lock) is owed this unit: it keeps the mutex
                        // alive until it has it.
                        // The waiter runs next on this worker (Sema::release).
                        // Unlike Go's semrelease(handoff) we do not yield to
                        // it at once: measured here, yielding doubles W4 with
                        // 1024 goroutines (the yielder queues behind the
                        // whole run queue) and triples RWMutex W6.
                        unsafe { Sema::release(sema, 1) };
                        return;
                    }
                    Err(x) => old = x,
                }
                continue;
            }
            let new = if nobody_to_wake(old) {
                // Nobody to wake, or a waiter is already awake.
                old - LOCKED
            } else {
                // Release and take the right to wake one waiter, in one
                // step: the waiter leaves the count and WOKEN is set.
                (old - LOCKED - ONE_WAITER) | WOKEN
            };
            match state.compare_exchange_weak(old, new, Release, Relaxed) {
                Ok(_) => {
                    if new & WOKEN != 0 && old & WOKEN == 0 {
                        // SAFETY: the waiter we just took out of the count
                        // is inside lock until it gets this unit.
                        unsafe { Sema::release(sema, 1) };
                    }
                    return;
                }
                Err(x) => old = x,
            }
        }
    }
}
