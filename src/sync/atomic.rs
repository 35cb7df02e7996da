//! The one door through which the sync state machines reach atomics,
//! time, identity and spinning, so that `loom` can replace all of it
//! (`--cfg loom`, see `loom_tests.rs`). Nothing in `src/sync/` uses
//! `core::sync::atomic` or the runtime's clock directly.

pub(crate) use core::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};

/// Go's `active_spin`: how many times a contended lock spins before it
/// queues (each spin is [`spin`]).
#[cfg(not(loom))]
const ACTIVE_SPIN: u32 = 4;
/// Go's `active_spin_cnt`: pause instructions per spin.
#[cfg(not(loom))]
const SPIN_PAUSES: u32 = 30;

/// Whether a contended lock should spin once more (Go's
/// `runtime_canSpin`): only a few times, and only where another thread can
/// be running the holder, i.e. with more than one CPU and more than one
/// worker (`go_maxprocs(0) > 1`). Go also requires the holder to be running
/// and the local run queue to be empty; goro approximates that with the
/// bound alone: four short spins cost well under a microsecond.
#[cfg(not(loom))]
#[inline]
pub(crate) fn can_spin(iter: u32) -> bool {
    iter < ACTIVE_SPIN && multicore()
}

#[cfg(not(loom))]
fn multicore() -> bool {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static NCPU: AtomicUsize = AtomicUsize::new(0);
    let mut n = NCPU.load(Relaxed);
    if n == 0 {
        n = std::thread::available_parallelism().map_or(1, |n| n.get());
        NCPU.store(n, Relaxed);
    }
    if n < 2 {
        return false;
    }
    // Another worker runs (it may hold the lock) and nothing else is
    // runnable on ours; always on a plain thread.
    crate::runtime::sync_can_spin()
}

/// One spin: a burst of pause instructions (Go's `procyield(30)`).
#[cfg(not(loom))]
#[inline]
pub(crate) fn spin() {
    for _ in 0..SPIN_PAUSES {
        crate::arch::cpu_relax();
    }
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
pub(crate) fn can_spin(iter: u32) -> bool {
    // Off unless a model asks (a spin is a loom yield, which steers the
    // exploration towards the holder finishing first).
    iter < LOOM_SPINS.with(|s| s.get())
}

#[cfg(loom)]
pub(crate) fn spin() {
    loom::hint::spin_loop();
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
