//! The one door through which the sync state machines reach atomics,
//! time, identity and spinning, so that `loom` can replace all of it
//! (`--cfg loom`, see `loom_tests.rs`). Nothing in `src/sync/` uses
//! `core::sync::atomic` or the runtime's clock directly.

#[cfg(not(loom))]
use core::sync::atomic::AtomicBool;
pub(crate) use core::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};
#[cfg(loom)]
use loom::sync::atomic::AtomicBool;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};

/// Go's `active_spin`: how many times a contended lock spins before it
/// queues (each spin is [`spin`]).
#[cfg(not(loom))]
const ACTIVE_SPIN: u32 = 4;
/// How long one spin lasts. Go spins `procyield(30)`, 30 pause
/// instructions, which is 0.1 µs on CPUs whose pause takes ~10 cycles and
/// 0.6 µs on those where it takes ~140 (this machine: 19 ns per pause).
/// goro calibrates the count to a duration instead. Measured on W4 (a
/// mutex shared by 2, 64 and 1024 goroutines at GOMAXPROCS=2): checking
/// the word more often is worse, not better (every check pulls its cache
/// line away from the holder, which is running the next lock at once):
/// 100 checks 1 pause apart 104/208/215 ns per operation, 4 checks 30
/// apart 31/92/119, 4 checks 120 apart (2 µs) 21/73/83. Measured again
/// once spawns and hand-offs got cheaper (bench/ab.sh, medians of 5):
/// 2 µs 21.6/44.0/60.1, 4 µs (this value) 19.9/40.5/47.0, 8 µs
/// 20.6/40.1/46.3, 2 checks 4 µs apart 22.2/42.2/56.3; W6 22.9 vs 23.9 at
/// 2 µs. On this machine a check that finds the line in the holder's
/// cache costs the holder ~270 ns (measured: a thread reading a lock word
/// every 0.4 µs slows an uncontended lock+unlock loop from 19 to 64 ns).
#[cfg(not(loom))]
const SPIN_NS: u64 = 4_000;

/// Whether a contended lock should spin once more (Go's
/// `runtime_canSpin`): only a few times, and only where another thread can
/// be running the holder: more than one CPU, and another worker busy (not
/// idle or looking for work). Always on a plain thread (on a multicore).
///
/// Go also requires this worker's run queue to be empty. `queued_ok`
/// lifts that rule for `Mutex`: a goroutine that parks there is replaced
/// by the next one of the queue, which in a contended program wants the
/// same lock, so parking turns into a cascade of parks (W4 with 1024
/// goroutines: 1.2M parks and 178 ns per operation with Go's rule; 5k parks
/// and ~80 without). RWMutex writers keep Go's rule: the writer they wait
/// for is often itself waiting for readers, which the queue would run.
#[cfg(not(loom))]
#[inline]
pub(crate) fn can_spin(iter: u32, queued_ok: bool) -> bool {
    iter < ACTIVE_SPIN && multicore(queued_ok)
}

#[cfg(not(loom))]
fn multicore(queued_ok: bool) -> bool {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static NCPU: AtomicUsize = AtomicUsize::new(0);
    let mut n = NCPU.load(Relaxed);
    if n == 0 {
        n = std::thread::available_parallelism().map_or(1, |n| n.get());
        NCPU.store(n, Relaxed);
    }
    n >= 2 && crate::runtime::sync_can_spin(queued_ok)
}

/// One spin: a burst of pause instructions lasting about [`SPIN_NS`].
#[cfg(not(loom))]
#[inline]
pub(crate) fn spin() {
    for _ in 0..spin_pauses() {
        crate::arch::cpu_relax();
    }
}

/// How many times an RWMutex reader waiting for a writer, or a writer
/// waiting for readers, looks again ([`poll_pause`] apart, ~4 µs in all)
/// before it parks. Measured on W6 (64 goroutines, 1% writes,
/// GOMAXPROCS=2): a write takes about a microsecond, and parking for it
/// cost 400k parks per 100k writes and 47-50 ns per operation; polling
/// first, 3k-14k parks and 27-30 ns. Polling more often or less (8 to 64
/// polls per 2 µs) measured the same.
#[cfg(not(loom))]
pub(crate) const WAIT_POLLS: u32 = 32;

/// Whether an RWMutex waiter may poll once more: another worker is busy
/// (it may be running the party we wait for). Whatever is queued here
/// waits meanwhile, as with Mutex (sparing the runnable goroutines that
/// would park behind the same writer); a writer woken into this worker's
/// run-next slot waits at most the ~4 µs of polling (measured: checking
/// for that case, W6 39 ns per operation instead of 28).
#[cfg(not(loom))]
#[inline]
pub(crate) fn can_poll(iter: u32) -> bool {
    iter < WAIT_POLLS && multicore(true)
}

/// The pause between two polls: a 32nd of [`spin`].
#[cfg(not(loom))]
#[inline]
pub(crate) fn poll_pause() {
    for _ in 0..spin_pauses() / 32 {
        crate::arch::cpu_relax();
    }
}

/// Pause instructions per spin, measured once per process: the fastest of
/// three timings of 256 pauses (an interrupted timing only lengthens),
/// kept between Go's 30 and 20,000.
#[cfg(not(loom))]
fn spin_pauses() -> u32 {
    use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
    static PAUSES: AtomicU32 = AtomicU32::new(0);
    let n = PAUSES.load(Relaxed);
    if n != 0 {
        return n;
    }
    let mut best = u64::MAX;
    for _ in 0..3 {
        let t0 = crate::sys::now_ns();
        for _ in 0..256 {
            crate::arch::cpu_relax();
        }
        best = best.min(crate::sys::now_ns().saturating_sub(t0));
    }
    let n = (SPIN_NS * 256 / best.max(1)).clamp(30, 20_000) as u32;
    PAUSES.store(n, Relaxed);
    n
}

/// CLOCK_MONOTONIC nanoseconds (starvation mode of the mutex).
#[cfg(not(loom))]
#[inline]
pub(crate) fn now_ns() -> u64 {
    crate::sys::now_ns()
}

/// A non-zero number naming the caller for as long as it runs: the
/// goroutine id (shifted left, low bit 0) or the kernel thread id (shifted
/// left, low bit 1). Goroutine ids are never reused; a thread id is not
/// reused while the thread lives.
#[cfg(not(loom))]
pub(crate) fn self_id() -> u64 {
    let g = crate::runtime::current_g();
    if g.is_null() {
        (crate::sys::gettid() as u64) << 1 | 1
    } else {
        // SAFETY: the running goroutine's control block; G blocks are never
        // freed and `id` is an atomic.
        unsafe { (*g).id.load(core::sync::atomic::Ordering::Relaxed) << 1 }
    }
}

/// This worker's RWMutex reader slot for the RWMutex at `key`; None on a
/// plain thread.
#[cfg(not(loom))]
#[inline]
pub(crate) fn reader_slot(key: usize) -> Option<&'static AtomicU64> {
    crate::runtime::reader_slot(key)
}

/// Nothing outside loom: marks where two SeqCst accesses of the calling
/// thread must stay ordered against another thread's (a Dekker pair, as
/// in the RWMutex reader slots). C11 orders them already; loom models
/// SeqCst fences but not SeqCst loads and read-modify-writes, so loom
/// builds put a fence here.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn sc_pair() {}

/// Set once, before any RWMutex first sets `BIAS`: from then on read
/// units may sit in reader slots. Until then (a program that has only ever
/// run one worker) every unit is in its RWMutex's shared count, and
/// RUnlock is Go's: one decrement, no slot to look at.
#[cfg(not(loom))]
static SLOTS_USED: AtomicBool = AtomicBool::new(false);

#[cfg(loom)]
loom::lazy_static! {
    /// SLOTS_USED, per model: false until a modelled unlock first sets
    /// BIAS, so the models check RUnlock's shortcut against the slots.
    static ref SLOTS_USED: AtomicBool = AtomicBool::new(false);
}

/// Whether any RWMutex may ever have let a reader into a slot. A reader
/// that took its unit in a slot saw `BIAS` through an acquire (its SeqCst
/// re-read), after the unlock that set it had set this flag; whoever
/// releases that unit comes after that reader (in the same goroutine, or
/// handed the read lock through something that synchronizes: a spawn, a
/// release/acquire pair, a lock), so it sees the flag. A hand-off by a
/// relaxed store alone is outside Go's memory model, and may not.
/// Models: loom_tests' rwmutex_first_bias_handoff_*.
#[inline(always)]
pub(crate) fn slots_used() -> bool {
    SLOTS_USED.load(Ordering::Relaxed)
}

/// Called by a write unlock before it sets `BIAS` (with Release, which
/// orders this store before it).
#[inline(always)]
pub(crate) fn note_slots_used() {
    if !SLOTS_USED.load(Ordering::Relaxed) {
        SLOTS_USED.store(true, Ordering::Relaxed);
    }
}

/// Whether RWMutex readers should use per-worker slots: only when more
/// than one worker runs goroutines (with one, the shared count never
/// moves between cores, and is cheaper: W6 at GOMAXPROCS=1 20 ns per
/// operation against 27 through slots).
#[cfg(not(loom))]
pub(crate) fn bias_useful() -> bool {
    crate::runtime::parallel()
}

/// Calls `f` on every worker's reader slot for `key` until it returns
/// true; returns whether it did.
#[cfg(not(loom))]
pub(crate) fn any_reader_slot(key: usize, f: impl FnMut(&AtomicU64) -> bool) -> bool {
    crate::runtime::any_reader_slot(key, f)
}

/// Tells ThreadSanitizer (when the program runs under it) that what the
/// caller does next happens after every earlier [`race_release`] on
/// `addr`: goro's own code is not instrumented, so TSan cannot see the
/// edges our atomics create. One predicted branch otherwise.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn race_acquire(addr: usize) {
    crate::san::acquire(addr)
}

/// The release side of [`race_acquire`]: called while the object is still
/// alive, before the atomic that releases it.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn race_release(addr: usize) {
    crate::san::release(addr)
}

// ---- loom: the same functions over loom's model ----

#[cfg(loom)]
pub(crate) fn race_acquire(_: usize) {}

#[cfg(loom)]
pub(crate) fn race_release(_: usize) {}

#[cfg(loom)]
pub(crate) fn can_spin(iter: u32, _queued_ok: bool) -> bool {
    // Off unless a model asks (a spin is a loom yield, which steers the
    // exploration towards the holder finishing first).
    iter < LOOM_SPINS.with(|s| s.get())
}

#[cfg(loom)]
pub(crate) fn spin() {
    loom::hint::spin_loop();
}

#[cfg(loom)]
pub(crate) fn can_poll(iter: u32) -> bool {
    iter < LOOM_SPINS.with(|s| s.get())
}

#[cfg(loom)]
pub(crate) fn poll_pause() {
    loom::hint::spin_loop();
}

#[cfg(loom)]
loom::lazy_static! {
    /// The RWMutex reader slots of two modelled workers (one slot each:
    /// every RWMutex of a model shares it, which also exercises the
    /// fallback of a slot holding another RWMutex).
    static ref LOOM_SLOTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
}

#[cfg(loom)]
loom::thread_local! {
    /// The modelled worker the current loom thread runs on; None: a plain
    /// thread.
    static LOOM_WORKER: core::cell::Cell<Option<usize>> = core::cell::Cell::new(None);
}

/// Makes the calling loom thread run "on" modelled worker `w` (0 or 1), or
/// a plain thread.
#[cfg(loom)]
pub(crate) fn loom_set_worker(w: Option<usize>) {
    LOOM_WORKER.with(|c| c.set(w));
}

#[cfg(loom)]
pub(crate) fn reader_slot(_key: usize) -> Option<&'static AtomicU64> {
    let w = LOOM_WORKER.with(|c| c.get())?;
    let slots: &'static [AtomicU64; 2] = &LOOM_SLOTS;
    Some(&slots[w])
}

#[cfg(loom)]
pub(crate) fn any_reader_slot(_key: usize, f: impl FnMut(&AtomicU64) -> bool) -> bool {
    let slots: &'static [AtomicU64; 2] = &LOOM_SLOTS;
    slots.iter().any(f)
}

#[cfg(loom)]
pub(crate) fn sc_pair() {
    loom::sync::atomic::fence(Ordering::SeqCst);
}

#[cfg(loom)]
pub(crate) fn bias_useful() -> bool {
    true
}

#[cfg(loom)]
std::thread_local! {
    /// Nanoseconds the model clock advances per reading (loom runs every
    /// modelled thread on the test's OS thread, so this is per test).
    pub(crate) static LOOM_CLOCK_STEP: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    static LOOM_CLOCK: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    /// How many spins a contended mutex may make (Go's active_spin).
    pub(crate) static LOOM_SPINS: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

#[cfg(loom)]
pub(crate) fn now_ns() -> u64 {
    let step = LOOM_CLOCK_STEP.with(|s| s.get());
    LOOM_CLOCK.with(|c| {
        c.set(c.get() + step);
        c.get()
    })
}

#[cfg(loom)]
pub(crate) fn self_id() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    loom::thread::current().id().hash(&mut h);
    h.finish() >> 4 << 1 | 2
}
