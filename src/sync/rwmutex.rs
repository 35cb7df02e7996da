//! Go's `sync.RWMutex` (`sync/rwmutex.go`): a writer mutex, two
//! semaphores and two counters, 24 bytes; plus per-worker reader slots
//! (below) so that readers on different workers do not share a cache line.
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
//! ## Reader slots (goro's addition; BRAVO, Dice & Kogan 2019, per worker)
//!
//! In Go every RLock and RUnlock is an atomic add on `reader_count`: with
//! readers on two cores that line moves between them twice per read
//! (W6: 45-55 ns per operation at GOMAXPROCS=2 against 16 on one worker).
//! While the `BIAS` bit of `reader_count` is set, a goroutine instead
//! counts itself in a slot of its worker's table, a word `(address << 16)
//! | count` that only readers of that worker usually touch, then re-reads
//! `reader_count`: if the bit is still set it holds the read lock,
//! otherwise it gives the unit back and takes the path above. A writer
//! clears `BIAS` first (so that readers stop using slots), then moves the
//! count of every slot tagged with this RWMutex into `reader_count` (adding
//! before zeroing the slot, so a unit is always somewhere), and continues
//! as Go's writer. Its unlock sets `BIAS` again. Sequentially consistent
//! ordering of "slot increment, then read BIAS" against "clear BIAS, then
//! read slots" makes the writer see every reader that does not see it.
//!
//! Read units are anonymous (Go lets any goroutine RUnlock a read lock
//! taken by another): RUnlock takes one unit from its worker's slot, else
//! from any other worker's slot, else from `reader_count`; the total is
//! what matters, and a unit only ever moves from a slot to the count.
//! Plain threads, and readers whose slot holds another RWMutex, use
//! `reader_count` directly. The zero value starts without `BIAS`; every
//! write unlock sets it while GOMAXPROCS > 1 (with one worker the shared
//! count is cheaper).
//!
//! The read paths are therefore not inlined in goro.h (they need the
//! worker): go_rwmutex_rlock and go_rwmutex_runlock are plain calls.
//!
//! Until some write unlock first sets `BIAS` (in a program that has only
//! ever run one worker, never), no unit can be in a slot, and RUnlock
//! skips them: one flag load, then Go's decrement (`atomic::slots_used`).
//! W6 at GOMAXPROCS=1: 29.7 -> 27.6 ns per operation (Go: 21.5; two
//! locked instructions alone take 22-25 ns on this VM in that phase).
//!
//! While a writer that revoked the bias holds the lock, a reader that
//! finds BIAS clear polls for it to come back (~4 µs at most) before it
//! counts itself in `reader_count` and queues as in Go (see
//! `rlock_after_writer`): the writer then finds no newcomers to release,
//! and the shared line is not incremented and decremented under it.
//!
//! Cost model: a read in a slot is two uncontended locked instructions on
//! the worker's own cache line; a write reads one slot per worker started
//! (GOMAXPROCS of them, one cache miss each when readers are active there)
//! and moves their units. With 2 workers that is cheap (W6: 18-22 ns per
//! operation against Go's 39-56, or 19-21 when Go's goroutines happen to
//! run on one P); with dozens of workers and frequent
//! writes the writer's scan would dominate, which is BRAVO's known trade
//! (its paper re-enables the bias only after a delay proportional to the
//! revocation cost; goro re-enables it at every write unlock). Not
//! measured beyond 2 cores here.

use super::atomic::{self, AtomicI32, AtomicU64, Ordering::*};
use super::mutex::Mutex;
use super::sema::Sema;
use crate::runtime::g::WaitReason;

const MAX_READERS: i32 = 1 << 30;
/// Set in `reader_count` while readers may use their worker's slot.
const BIAS: i32 = 1 << 29;
/// Low bits of a slot word: the count.
const SLOT_COUNT: u64 = 0xffff;

/// The read-write mutex; its C face is `go_rwmutex_t`.
#[repr(C)]
pub(crate) struct RwMutex {
    /// Held by the writer (and by writers waiting their turn).
    w: Mutex,
    /// Writer waits here for departing readers.
    writer_sem: Sema,
    /// Readers wait here for the writer.
    reader_sem: Sema,
    /// `BIAS`, plus the readers in or waiting that are not in a slot;
    /// minus `MAX_READERS` (and without `BIAS`) while a writer is there.
    /// Only ever changed by read-modify-writes, never a plain store: every
    /// value with `BIAS` is then in the release sequence of the unlock
    /// that first set it (also when `try_lock_biased` restores it), which
    /// `atomic::slots_used` relies on.
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

/// The tag of a slot word for the RWMutex at `key`, or None if the address
/// does not fit in 48 bits (then its readers use `reader_count`).
#[inline]
fn slot_tag(key: usize) -> Option<u64> {
    let k = key as u64;
    if k >> 48 == 0 {
        Some(k << 16)
    } else {
        None
    }
}

/// The read units a slot word `v` holds for the RWMutex tagged `tag`.
#[inline]
fn slot_units(v: u64, tag: u64) -> u64 {
    if v & !SLOT_COUNT == tag {
        v & SLOT_COUNT
    } else {
        0
    }
}

/// Adds a read unit to `slot` for `tag`: the slot is free (count 0) or
/// already counts this RWMutex. SeqCst: ordered before the caller's
/// re-read of `BIAS` (see the module documentation).
#[inline]
fn slot_enter(slot: &AtomicU64, tag: u64) -> bool {
    let v = slot.load(Relaxed);
    let new = if v & SLOT_COUNT == 0 {
        tag | 1
    } else if v & !SLOT_COUNT == tag && v & SLOT_COUNT < SLOT_COUNT {
        v + 1
    } else {
        return false;
    };
    slot.compare_exchange(v, new, SeqCst, Relaxed).is_ok()
}

/// Takes a read unit of `tag` out of `slot` if it has one. Release (in
/// SeqCst): the reads of the read section happen before a writer that
/// finds the slot decremented. Acquire when it finds no unit: the unit may
/// have been taken by a reader that left through this slot although it
/// had entered elsewhere, and whose read section must then happen before
/// what we do next (give a unit back to the count a writer waits on).
#[inline]
fn slot_leave(slot: &AtomicU64, tag: u64) -> bool {
    let mut v = slot.load(Acquire);
    loop {
        if slot_units(v, tag) == 0 {
            return false;
        }
        match slot.compare_exchange_weak(v, v - 1, SeqCst, Acquire) {
            Ok(_) => return true,
            Err(x) => v = x,
        }
    }
}

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

    fn key(&self) -> usize {
        self as *const RwMutex as usize
    }

    /// Takes a read unit in this worker's slot while `BIAS` is set; false
    /// if the caller must use `reader_count`.
    #[inline]
    fn rlock_slot(&self) -> bool {
        if self.reader_count.load(Relaxed) & BIAS == 0 {
            return false;
        }
        let Some(tag) = slot_tag(self.key()) else {
            return false;
        };
        let Some(slot) = atomic::reader_slot(self.key()) else {
            return false;
        };
        if !slot_enter(slot, tag) {
            return false;
        }
        // SeqCst: after our slot increment in the single total order, so
        // either we see a writer's clearing of BIAS or it sees our unit.
        // Also pairs (as an acquire) with the last write unlock, which set
        // BIAS with Release.
        atomic::sc_pair();
        if self.reader_count.load(SeqCst) & BIAS != 0 {
            return true;
        }
        // A writer came: give the unit back (from wherever it is by now:
        // the writer may have moved it to reader_count) and queue behind it.
        // SAFETY: we hold a read unit, so the RWMutex is alive.
        unsafe { RwMutex::release_unit(self) };
        false
    }

    /// Takes the read lock; waits while a writer holds or waits for it.
    #[inline]
    pub(crate) fn rlock(&self) {
        let in_slot = self.rlock_slot() || (self.writer_in() && self.rlock_after_writer());
        if !in_slot {
            // Acquire: pairs with the Release of the last writer's unlock.
            if self.reader_count.fetch_add(1, Acquire) + 1 < 0 {
                self.rlock_wait();
            }
        }
        atomic::race_acquire(self.reader_key());
    }

    /// Whether a writer holds or waits for the lock, or is taking it: the
    /// cheap test before [`RwMutex::rlock_after_writer`], so that readers
    /// without writers around (GOMAXPROCS=1, or a lock never written) go
    /// straight to the count.
    #[inline]
    fn writer_in(&self) -> bool {
        self.reader_count.load(Relaxed) < 0 || self.w.may_be_held()
    }

    /// When readers use slots and a writer has just revoked them (BIAS
    /// clear, the writer holding `w`): poll, without counting ourselves
    /// anywhere, for the writer's unlock to set BIAS again, then take a
    /// slot; false (take the count path) if that does not happen within
    /// the polling budget (~4 µs), or if no writer is there. A write is
    /// short, and a reader that registers in the count instead costs the
    /// two cores an increment, a semaphore hand-off and a decrement of the
    /// shared line, all while the writer needs that line.
    ///
    /// W6 (64 goroutines, 1% writes): 23.1 -> 17.8 ns per operation
    /// (medians of 8); 50% writes: the same within noise (~50 ns).
    ///
    /// Readers that poll are not counted: a second writer may come first
    /// (Go lets the readers that queued during a write in before the next
    /// writer); after the budget they queue as Go's do, so a stream of
    /// writers delays them by that budget at most.
    #[cold]
    fn rlock_after_writer(&self) -> bool {
        if !atomic::bias_useful() {
            return false;
        }
        let mut polls = 0;
        loop {
            let c = self.reader_count.load(Relaxed);
            if c & BIAS != 0 {
                return self.rlock_slot();
            }
            if !self.writer_in() {
                return false; // not biased, no writer: the count
            }
            if !atomic::can_poll(polls) {
                return false;
            }
            atomic::poll_pause();
            polls += 1;
        }
    }

    /// The rest of `rlock` once its increment found a writer pending:
    /// waits until the writer is done.
    #[cold]
    fn rlock_wait(&self) {
        // The writer is likely running (a write is short): poll for our
        // unit (its unlock gives units to parked readers first, the rest to
        // the count) before parking.
        self.reader_sem.acquire_polling(WaitReason::RwMutex);
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
        if self.rlock_slot() {
            atomic::race_acquire(self.reader_key());
            return true;
        }
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
        // SAFETY: live at entry.
        atomic::race_release(unsafe { (*this).writer_key() });
        // SAFETY: forwarded.
        unsafe { RwMutex::release_unit(this) }
    }

    /// Gives back one read unit: from this worker's slot, else (unless a
    /// writer has moved every slot's units to the count) from another
    /// worker's slot, else from `reader_count`.
    ///
    /// # Safety
    /// `this` points to a live RWMutex at entry and a read unit is held.
    unsafe fn release_unit(this: *const RwMutex) {
        let key = this as usize;
        // SAFETY: live at entry; a slot unit keeps it alive no longer than
        // the decrement below, after which we do not touch it.
        let rw = unsafe { &*this };
        // No RWMutex has ever set BIAS (only one worker so far): our unit is
        // in the count (see slots_used).
        if let Some(tag) = slot_tag(key).filter(|_| atomic::slots_used()) {
            if let Some(slot) = atomic::reader_slot(key) {
                if slot_leave(slot, tag) {
                    return;
                }
            }
            // With a writer pending (count negative) every unit is in the
            // count; otherwise ours may be in another worker's slot (taken
            // there before this goroutine moved, or by another goroutine).
            if rw.reader_count.load(SeqCst) >= 0
                && atomic::any_reader_slot(key, |s| slot_leave(s, tag))
            {
                return;
            }
        }
        // Release: our reads happen before the next writer's lock returns.
        let old = rw.reader_count.fetch_sub(1, Release);
        if old < 0 || old & (BIAS - 1) == 0 {
            // SAFETY: as for runlock.
            unsafe { RwMutex::runlock_slow(this, old - 1) }
        }
    }

    /// The rest of a release from `reader_count` once its decrement left
    /// `r`: a writer is pending, or nobody held a read lock (misuse).
    ///
    /// # Safety
    /// As for [`RwMutex::runlock`], whose decrement returned `r`.
    #[cold]
    unsafe fn runlock_slow(this: *const RwMutex, r: i32) {
        if r + 1 == 0 || r + 1 == BIAS || r + 1 == -MAX_READERS {
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

    /// Clears `BIAS` (readers stop using slots) and moves every slot unit
    /// of this RWMutex into `reader_count`. Called with `w` held.
    fn revoke_bias(&self) {
        // SeqCst: before our reading of the slots in the total order (see
        // rlock_slot).
        let was = self.reader_count.fetch_and(!BIAS, SeqCst);
        atomic::sc_pair();
        if was & BIAS == 0 {
            // Not biased since the last revocation: no slot has our units
            // (a reader that took one meanwhile sees BIAS clear and gives
            // it back itself).
            return;
        }
        let Some(tag) = slot_tag(self.key()) else {
            return;
        };
        let own = atomic::reader_slot(self.key()).map(|s| s as *const AtomicU64);
        atomic::any_reader_slot(self.key(), |slot| {
            // Readers inside another worker's slot are usually about to
            // leave (a read section is short): wait a little for the slot
            // to drain. A reader leaving its own slot is one cache line
            // each way; a unit moved to the count makes it leave through
            // the count, `reader_wait` and `writer_sem` instead (four lines
            // that the two cores then pass back and forth). Readers that
            // entered after we cleared BIAS see it and leave at once. Not
            // our worker's slot: its readers are not running while we are.
            // W6: 26.9 -> 25.4 and 27.2 -> 26.6 ns per operation (two A/B
            // runs, medians of 8 and 10): a small gain, in the noise of one.
            let mut polls = 0;
            while own != Some(slot as *const AtomicU64)
                && slot_units(slot.load(SeqCst), tag) != 0
                && atomic::can_poll(polls)
            {
                atomic::poll_pause();
                polls += 1;
            }
            loop {
                let v = slot.load(SeqCst);
                let n = slot_units(v, tag) as i32;
                if n == 0 {
                    break;
                }
                // Count first, then empty the slot: a unit is never in
                // neither place, so a release never underflows the count.
                self.reader_count.fetch_add(n, SeqCst);
                if slot.compare_exchange(v, tag, SeqCst, Relaxed).is_ok() {
                    break;
                }
                self.reader_count.fetch_sub(n, SeqCst);
            }
            false
        });
    }

    /// Takes the write lock; waits for the writer before it and for the
    /// readers inside.
    pub(crate) fn lock(&self) {
        self.w.lock_writer();
        self.revoke_bias();
        // Announce the writer. AcqRel: acquires the releases of readers
        // that left before this point.
        let r = self.reader_count.fetch_sub(MAX_READERS, AcqRel);
        // Wait for the readers still inside.
        if r != 0 && self.reader_wait.fetch_add(r, AcqRel) + r != 0 {
            // Readers inside are likely running and about to leave: poll
            // for the unit the last of them releases before parking.
            self.writer_sem.acquire_polling(WaitReason::RwMutex);
        }
        atomic::race_acquire(self.reader_key());
        atomic::race_acquire(self.writer_key());
    }

    /// With `w` held and the bias off: announces the writer if no reader
    /// holds the lock (the shared count is 0), as one CAS.
    fn claim_if_no_readers(&self) -> bool {
        self.reader_count
            .compare_exchange(0, -MAX_READERS, Acquire, Relaxed)
            .is_ok()
    }

    /// try_lock's reader check while BIAS is set, with `w` held: readers
    /// may sit in slots, so stop new ones (clearing BIAS, only if the count
    /// has no reader), look at the slots, and take the lock if they are
    /// empty; otherwise restore BIAS (nobody else changes it while we hold
    /// `w`).
    fn try_lock_biased(&self) -> bool {
        if self
            .reader_count
            .compare_exchange(BIAS, 0, SeqCst, Relaxed)
            .is_err()
        {
            return false;
        }
        // SeqCst, after clearing BIAS: see rlock_slot.
        atomic::sc_pair();
        let key = self.key();
        let in_slots = slot_tag(key).is_some_and(|tag| {
            atomic::any_reader_slot(key, |s| slot_units(s.load(SeqCst), tag) != 0)
        });
        if !in_slots && self.claim_if_no_readers() {
            return true;
        }
        self.reader_count.fetch_or(BIAS, Release);
        false
    }

    /// Takes the write lock if no writer or reader holds or waits for it.
    pub(crate) fn try_lock(&self) -> bool {
        if !self.w.try_lock() {
            return false;
        }
        let locked = if self.reader_count.load(Relaxed) & BIAS != 0 {
            self.try_lock_biased()
        } else {
            self.claim_if_no_readers()
        };
        if !locked {
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
        // Let readers in again, into their slots if more than one worker
        // runs goroutines. Release: pairs with their Acquire (or their
        // SeqCst re-read of BIAS).
        let bias = if atomic::bias_useful() {
            atomic::note_slots_used();
            BIAS
        } else {
            0
        };
        let old = rw.reader_count.fetch_add(MAX_READERS + bias, Release);
        if old >= 0 {
            crate::diag::fatal(format_args!("sync: Unlock of unlocked RWMutex"));
        }
        // Wake the readers that queued behind us.
        let r = old + MAX_READERS;
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
