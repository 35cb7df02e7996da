//! Go's `sync.RWMutex` (`sync/rwmutex.go`): a writer mutex, two
//! semaphores and two counters, 24 bytes.
//!
//! `reader_count` counts readers holding or waiting for the read lock; a
//! writer announces itself by subtracting `MAX_READERS`, which makes it
//! negative: new readers then wait on `reader_sem` (writer preference, no
//! writer starvation). The writer waits on `writer_sem` for the readers
//! that were inside (their number goes to `reader_wait`); the last of them
//! wakes it. Unlock adds `MAX_READERS` back and releases the readers that
//! queued meanwhile, then unlocks the writer mutex, so readers and writers
//! alternate under contention.
//!
//! ABI: goro.h inlines the reader's fast paths into C programs (outside
//! ThreadSanitizer): `rlock` adds 1 to `reader_count` (the 32-bit word at
//! offset 16) with Acquire and calls `go_rwmutex_rlock_slow` if the result
//! is negative; `runlock` subtracts 1 with Release and calls
//! `go_rwmutex_runlock_slow(rw, result)` if the result is negative. Every
//! future version must keep that word and those transitions.

use super::atomic::{self, AtomicI32, Ordering::*};
use super::mutex::Mutex;
use super::sema::Sema;
use crate::runtime::g::WaitReason;

const MAX_READERS: i32 = 1 << 30;

/// The read-write mutex; its C face is `go_rwmutex_t`.
#[repr(C)]
pub(crate) struct RwMutex {
    /// Held by the writer (and by writers waiting their turn).
    w: Mutex,
    /// Writer waits here for departing readers.
    writer_sem: Sema,
    /// Readers wait here for the writer.
    reader_sem: Sema,
    /// Readers in or waiting; minus `MAX_READERS` while a writer is there.
    reader_count: AtomicI32,
    /// Readers the writer still waits for.
    reader_wait: AtomicI32,
}

#[cfg(not(loom))]
const _: () = assert!(
    core::mem::size_of::<RwMutex>() == 24
        && core::mem::align_of::<RwMutex>() == 4
        && core::mem::offset_of!(RwMutex, reader_count) == 16
);

impl RwMutex {
    #[cfg(loom)]
    pub(crate) fn new() -> RwMutex {
        RwMutex {
            w: Mutex::new(),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
        }
    }

    /// Takes the read lock; waits while a writer holds or waits for it.
    #[inline]
    pub(crate) fn rlock(&self) {
        // Acquire: pairs with the Release of the last writer's unlock.
        if self.reader_count.fetch_add(1, Acquire) + 1 < 0 {
            self.rlock_wait();
        }
        atomic::race_acquire(self.reader_key());
    }

    /// The rest of `rlock` once its increment found a writer pending:
    /// waits until the writer is done (C: the inlined fast path calls this
    /// through `go_rwmutex_rlock_slow`).
    #[cold]
    pub(crate) fn rlock_wait(&self) {
        self.reader_sem.acquire(false, WaitReason::RwMutex);
    }

    /// Sanitizer keys (Go's race annotations use the two semaphores).
    fn reader_key(&self) -> usize {
        &self.reader_sem as *const Sema as usize
    }

    fn writer_key(&self) -> usize {
        &self.writer_sem as *const Sema as usize
    }

    /// Takes the read lock unless a writer holds or waits for it.
    #[inline]
    pub(crate) fn try_rlock(&self) -> bool {
        let mut c = self.reader_count.load(Relaxed);
        loop {
            if c < 0 {
                return false;
            }
            match self
                .reader_count
                .compare_exchange_weak(c, c + 1, Acquire, Relaxed)
            {
                Ok(_) => {
                    atomic::race_acquire(self.reader_key());
                    return true;
                }
                Err(x) => c = x,
            }
        }
    }

    /// Releases a read lock.
    ///
    /// # Safety
    /// `this` points to a live RWMutex at entry.
    #[inline]
    pub(crate) unsafe fn runlock(this: *const RwMutex) {
        // SAFETY: live at entry; a pending writer (the only case in which we
        // go on) keeps it alive until we release `writer_sem`.
        let rw = unsafe { &*this };
        atomic::race_release(rw.writer_key());
        // Release: our reads happen before the next writer's lock returns.
        let r = rw.reader_count.fetch_sub(1, Release) - 1;
        if r < 0 {
            // SAFETY: as above.
            unsafe { RwMutex::runlock_slow(this, r) }
        }
    }

    /// The rest of `runlock` once its decrement left `r < 0` (C: called by
    /// the inlined fast path through `go_rwmutex_runlock_slow`).
    ///
    /// # Safety
    /// As for [`RwMutex::runlock`], whose decrement returned `r`.
    #[cold]
    pub(crate) unsafe fn runlock_slow(this: *const RwMutex, r: i32) {
        if r + 1 == 0 || r + 1 == -MAX_READERS {
            crate::diag::fatal(format_args!("sync: RUnlock of unlocked RWMutex"));
        }
        // SAFETY: a writer is pending and waits for us (or for readers
        // after us): it is inside lock, so the RWMutex is alive.
        let rw = unsafe { &*this };
        // A writer is pending: the last departing reader wakes it.
        // AcqRel: the last reader collects the earlier readers' releases
        // and passes them on through the semaphore.
        if rw.reader_wait.fetch_sub(1, AcqRel) - 1 == 0 {
            // SAFETY: the writer is owed this unit (contract of Sema).
            unsafe { Sema::release(core::ptr::addr_of!((*this).writer_sem), 1) };
        }
    }

    /// Takes the write lock; waits for the writer before it and for the
    /// readers inside.
    pub(crate) fn lock(&self) {
        self.w.lock_writer();
        // Announce the writer. AcqRel: acquires the releases of readers
        // that left before this point.
        let r = self.reader_count.fetch_sub(MAX_READERS, AcqRel);
        // Wait for the readers still inside.
        if r != 0 && self.reader_wait.fetch_add(r, AcqRel) + r != 0 {
            self.writer_sem.acquire(false, WaitReason::RwMutex);
        }
        atomic::race_acquire(self.reader_key());
        atomic::race_acquire(self.writer_key());
    }

    /// Takes the write lock if no writer or reader holds or waits for it.
    pub(crate) fn try_lock(&self) -> bool {
        if !self.w.try_lock() {
            return false;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Acquire, Relaxed)
            .is_err()
        {
            // SAFETY: we hold `w`, so the RWMutex is alive.
            unsafe { Mutex::unlock(&self.w) };
            return false;
        }
        atomic::race_acquire(self.reader_key());
        atomic::race_acquire(self.writer_key());
        true
    }

    /// Releases the write lock.
    ///
    /// # Safety
    /// `this` points to a live RWMutex at entry.
    pub(crate) unsafe fn unlock(this: *const RwMutex) {
        // SAFETY: live at entry; we hold `w` until the last line, so nobody
        // may free it before.
        let rw = unsafe { &*this };
        atomic::race_release(rw.reader_key());
        // Let readers in again. Release: pairs with their Acquire.
        let r = rw.reader_count.fetch_add(MAX_READERS, Release) + MAX_READERS;
        if r >= MAX_READERS {
            crate::diag::fatal(format_args!("sync: Unlock of unlocked RWMutex"));
        }
        // Wake the readers that queued behind us.
        if r > 0 {
            // SAFETY: those r readers are inside rlock until they get a
            // unit; we hold `w` anyway.
            unsafe { Sema::release(core::ptr::addr_of!((*this).reader_sem), r as u32) };
        }
        // Allow other writers.
        // SAFETY: we hold `w`; Mutex::unlock tolerates a free right after
        // its release.
        unsafe { Mutex::unlock(core::ptr::addr_of!((*this).w)) };
    }
}
