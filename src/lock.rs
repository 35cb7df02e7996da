//! A tiny futex-based lock for the runtime's own short critical sections
//! (park buckets). Four bytes, zero-initialized, spins briefly before
//! sleeping. It blocks the OS thread, never parks a goroutine: it is held
//! only for a handful of instructions and never across a switch.

use crate::sys;
use core::sync::atomic::{AtomicU32, Ordering::*};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

pub(crate) struct RawLock {
    state: AtomicU32,
}

impl RawLock {
    pub(crate) const fn new() -> RawLock {
        RawLock {
            state: AtomicU32::new(UNLOCKED),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) {
        if self
            .state
            .compare_exchange_weak(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[cold]
    fn lock_slow(&self) {
        for _ in 0..100 {
            let s = self.state.load(Relaxed);
            if s == UNLOCKED
                && self
                    .state
                    .compare_exchange_weak(UNLOCKED, LOCKED, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            if s == CONTENDED {
                break;
            }
            crate::arch::cpu_relax();
        }
        while self.state.swap(CONTENDED, Acquire) != UNLOCKED {
            sys::futex_wait(&self.state, CONTENDED, None);
        }
    }

    #[inline]
    pub(crate) fn unlock(&self) {
        if self.state.swap(UNLOCKED, Release) == CONTENDED {
            sys::futex_wake(&self.state, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes() {
        struct Shared(RawLock, core::cell::UnsafeCell<u64>);
        // SAFETY: the UnsafeCell is only touched under the lock.
        unsafe impl Sync for Shared {}
        let s = Arc::new(Shared(RawLock::new(), core::cell::UnsafeCell::new(0)));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        s.0.lock();
                        // SAFETY: we hold the lock.
                        unsafe { *s.1.get() += 1 };
                        s.0.unlock();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // SAFETY: all threads joined.
        assert_eq!(unsafe { *s.1.get() }, 400_000);
    }
}
