//! The scheduler: GOMAXPROCS worker threads multiplexing goroutines.
//!
//! * Each worker is an OS thread (`goro-worker-N`) whose own stack is its
//!   scheduler context ("g0"). It owns a run-next slot (the goroutine it
//!   just woke, run before anything else, as Go does), a FIFO
//!   `crossbeam_deque::Worker` and publishes a `Stealer`. Spawns and wakes
//!   from plain threads go to one global `Injector`.
//! * Finding work: run-next, local queue, global queue (first every 61
//!   ticks, for fairness), due timers, then stealing from the other workers
//!   (half their queue at once), then parking on a futex. At most half the
//!   busy workers "spin" looking for work; a parked worker is woken only
//!   when work appears and nobody is spinning (`wakep`), and the last spinner
//!   to find work wakes the next (so parallelism ramps up, as in Go).
//! * A goroutine that blocks switches directly to the next runnable
//!   goroutine of its worker when there is one (one switch, not two), else
//!   to the worker's g0.
//! * Whatever must happen *after* a goroutine is off its stack (queue it
//!   again, publish "parked", free its stack) travels through the switch as
//!   a transfer word and is done by the context that resumes
//!   ([`after_switch`]). This closes the wake-before-switched-out race by
//!   design: nobody can resume a goroutine before its own switch finished.
//! * Thread-local worker state is reached only through [`local`] (an
//!   opaque assembly accessor), called afresh after every switch: a
//!   goroutine may resume on another thread, so no address of thread-local
//!   data is kept across a switch.

pub(crate) mod g;
pub(crate) mod timer;

use crate::arch::{self, goro_ctx_switch};
use crate::config::{self, Config, MAX_PROCS};
use crate::{diag, san, stack, sys};
use core::ptr;
use core::sync::atomic::{
    fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*,
};
use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
use g::{GPtr, Status, WaitReason, G, NOTIFIED, PARKED, PARKING, RUNNING};
use std::sync::{Mutex, Once, OnceLock};
use timer::Timers;

/// Worker futex word values.
const AWAKE_SPIN: u32 = 0; // woken by wakep: holds a spinning credit
const SLEEPING: u32 = 1;
const RETIRED: u32 = 2;
const AWAKE_PLAIN: u32 = 3; // woken for another reason (timeout, GOMAXPROCS)
/// The state is the word's low bits; a kick (a new earliest timer for the
/// worker sleeping until the next timer) adds KICK to a SLEEPING word, so
/// a kick that lands between the sleeper's last look and its futex_wait
/// makes that wait return at once instead of being lost.
const STATE: u32 = 3;
const KICK: u32 = 4;

#[inline(always)]
fn state(word: u32) -> u32 {
    word & STATE
}

/// Transfer actions (low bits of the transfer word; the high bits are a G).
const T_NONE: usize = 0;
const T_YIELD: usize = 1;
const T_PARK: usize = 2;
const T_SLEEP: usize = 3;
const T_EXIT: usize = 4;
const T_MASK: usize = 7;
const _: () = assert!(core::mem::align_of::<G>() > T_MASK);

/// `T` alone on its cache lines (128 bytes: adjacent-line prefetch pairs
/// lines on x86).
#[repr(align(128))]
struct Padded<T>(T);

impl<T> core::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The shared face of a worker, visible to the others. The run-next slot
/// and the futex word have cache lines of their own: the owner exchanges
/// run-next on every spawn, while thieves read `stealer` on every steal
/// attempt and wakers write `word`; sharing a line, each of those made the
/// spawner's exchange miss (W1: enqueue ~9% of the spawner's samples, 85%
/// of it that exchange).
pub(crate) struct Worker {
    pub index: usize,
    runnext: Padded<AtomicPtr<G>>,
    stealer: Stealer<GPtr>,
    word: Padded<AtomicU32>,
    /// Set while this worker's index is at or above GOMAXPROCS: it must hand
    /// its goroutines to the others and sleep (checked on every schedule).
    retire: AtomicBool,
    /// The worker thread's kernel tid (tests check migrations against it).
    pub tid: AtomicI64,
    /// Goroutines spawned / exited on this worker: each written only by the
    /// worker's own thread (no contended read-modify-write on the spawn and
    /// exit paths), summed by go_num_goroutine.
    spawned: AtomicU64,
    exited: AtomicU64,
    /// Goroutines parked in the parking layer on this worker / woken by
    /// code running on this worker (same single-writer scheme), for the
    /// deadlock detector.
    gparks: AtomicU64,
    gwakes: AtomicU64,
    /// This worker's RWMutex reader slots (sync/rwmutex.rs; loom builds
    /// model them in sync/atomic.rs).
    #[cfg_attr(loom, allow(dead_code))]
    rslots: &'static ReaderSlots,
    /// The worker thread's private state (on its own stack), once it runs;
    /// read only at exit, for LeakSanitizer.
    local: AtomicPtr<Local>,
}

/// Number of RWMutex reader slots per worker (a power of two).
const READER_SLOTS: usize = 64;

/// A worker's RWMutex reader slots, on cache lines of their own: written
/// by the readers running on that worker, read by writers.
#[repr(align(128))]
#[cfg_attr(loom, allow(dead_code))]
struct ReaderSlots([AtomicU64; READER_SLOTS]);

// Used by sync; loom builds replace sync's parking with a model.
#[cfg_attr(loom, allow(dead_code))]
fn reader_slot_index(key: usize) -> usize {
    // Fibonacci hashing: the top bits of the product mix every address bit.
    (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) as usize
        >> (64 - READER_SLOTS.trailing_zeros())
}

/// The reader slot for the RWMutex at `key` on this worker; None on a
/// plain thread.
#[inline]
// Used by sync; loom builds replace sync's parking with a model.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn reader_slot(key: usize) -> Option<&'static AtomicU64> {
    let l = local();
    if l.is_null() {
        return None;
    }
    // SAFETY: l is this worker's Local.
    Some(unsafe { &(*l).w.rslots.0[reader_slot_index(key)] })
}

/// Calls `f` on the slot for `key` of every worker started so far, until
/// it returns true; returns whether it did. (A worker started after the
/// call has empty slots.)
// Used by sync; loom builds replace sync's parking with a model.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn any_reader_slot(key: usize, mut f: impl FnMut(&AtomicU64) -> bool) -> bool {
    let Some(r) = RT.get() else {
        return false;
    };
    let i = reader_slot_index(key);
    (0..r.started()).any(|w| f(&r.worker(w).rslots.0[i]))
}

/// A worker's private state, on its own thread's stack.
pub(crate) struct Local {
    pub w: &'static Worker,
    deque: Deque<GPtr>,
    g0_sp: usize,
    pub current: *mut G,
    /// Goroutines that yielded, in FIFO order. Private to the worker (no
    /// atomics on the yield path); spilled to the stealable deque as soon
    /// as another worker is idle, and served after the deque so that
    /// yielding goroutines cannot starve queued ones (see pick_next).
    yq: std::collections::VecDeque<GPtr>,
    /// This thread's errno slot (fixed for the thread's lifetime).
    errno: *mut i32,
    stacks: stack::Cache,
    gc: g::GCache,
    rt: &'static Runtime,
    /// Stack reservations this worker may use for spawns.
    quota: usize,
    tick: u32,
    rng: u32,
    spinning: bool,
    /// How long the last idle worker sleeps before looking for a deadlock
    /// (doubles while nothing happens, reset when work comes).
    deadlock_backoff: u64,
    /// The worker thread's own TSan fiber and stack (for ASan), i.e. g0's.
    g0_fiber: usize,
    g0_stack: (usize, usize),
    /// A goroutine taken from the local queue by [`look_ahead`], held only
    /// until the switch under way completes (see there). Last: the fields
    /// above are laid out for the switch path.
    ahead: *mut G,
}

pub(crate) struct Runtime {
    pub cfg: Config,
    injector: Injector<GPtr>,
    workers: Box<[AtomicPtr<Worker>]>,
    nstarted: AtomicUsize,
    target: AtomicUsize,
    nidle: AtomicUsize,
    nretired: AtomicUsize,
    nspinning: AtomicUsize,
    idle: Mutex<Vec<usize>>,
    pub timers: Timers,
    timer_sleeper: AtomicUsize,
    procs_lock: Mutex<()>,
}

/// First wait of the last idle worker before a deadlock check, and the cap
/// of its doubling.
const DEADLOCK_FIRST_CHECK: u64 = 100_000_000;
const DEADLOCK_MAX_BACKOFF: u64 = 5_000_000_000;

/// Goroutines woken from the parking layer by plain threads.
static THREAD_GWAKES: AtomicU64 = AtomicU64::new(0);

/// Counts a goroutine parking in the parking layer (on its worker).
pub(crate) fn count_gpark() {
    let l = local();
    if !l.is_null() {
        // SAFETY: l is this worker's Local.
        bump(unsafe { &(*l).w.gparks });
    }
}

/// Goroutines spawned by plain threads (workers count their own).
static THREAD_SPAWNED: AtomicU64 = AtomicU64::new(0);

/// go_num_goroutine: goroutines spawned and not yet returned.
///
/// Sums the per-worker counters, exits first: every exit is preceded by its
/// spawn and the counters only grow, so the result is never below the true
/// count at the moment the exits were read (never negative), and it is exact
/// whenever the caller is synchronized with the spawns and exits it cares
/// about (e.g. after a WaitGroup wait).
pub(crate) fn num_goroutine() -> i64 {
    let Some(r) = RT.get() else { return 0 };
    let (spawned, exited) = r.spawn_exit_counts();
    spawned.saturating_sub(exited) as i64
}

/// Bumps a counter that only the calling thread writes (no atomic RMW).
#[inline(always)]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Release);
}

static RT: OnceLock<Runtime> = OnceLock::new();
static START: Once = Once::new();

/// The calling thread's worker state, or null on a plain thread.
///
/// Never cached by callers across a switch: a goroutine that parks may
/// resume on another worker thread (trap 1 of the design). The slot is read
/// by an assembly accessor (initial-exec TLS): an opaque call, so the
/// compiler cannot keep the thread-local address in a register across a
/// switch either.
#[inline(always)]
pub(crate) fn local() -> *mut Local {
    arch::tls_slot0().cast()
}

/// Per-thread state of a plain (non-worker) thread that spawns goroutines.
struct PlainCtx {
    gc: g::GCache,
    quota: usize,
}

impl Drop for PlainCtx {
    fn drop(&mut self) {
        stack::unreserve_default(self.quota);
        // SAFETY: clears this thread's slot 1, which pointed at us.
        unsafe { arch::goro_tls_set(1, ptr::null_mut()) };
    }
}

thread_local! {
    static PLAIN: core::cell::UnsafeCell<PlainCtx> =
        const { core::cell::UnsafeCell::new(PlainCtx { gc: g::GCache::new(), quota: 0 }) };
}

/// The spawning thread's caches: its worker's, or the plain thread's
/// (created on first use). None while the thread's TLS is being destroyed.
#[inline]
fn spawn_ctx() -> Option<(*mut g::GCache, *mut usize, Option<&'static Worker>)> {
    let l = local();
    if !l.is_null() {
        // SAFETY: l is this worker's Local.
        return Some(unsafe { (&mut (*l).gc, &mut (*l).quota, Some((*l).w)) });
    }
    // SAFETY: reads this thread's slot 1.
    let mut p = unsafe { arch::goro_tls_get(1) } as *mut PlainCtx;
    if p.is_null() {
        p = PLAIN.try_with(|c| c.get()).ok()?;
        // SAFETY: caches the address of this thread's PlainCtx, cleared by its Drop.
        unsafe { arch::goro_tls_set(1, p.cast()) };
    }
    // SAFETY: slot 1 points at this thread's live PlainCtx.
    Some(unsafe { (&mut (*p).gc, &mut (*p).quota, None) })
}

/// The goroutine running on this thread, or null on a plain thread.
#[inline]
pub(crate) fn current_g() -> *mut G {
    let l = local();
    if l.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a non-null LOCAL points at the worker's Local, alive for the
    // thread's lifetime; `current` is only written by this thread.
    unsafe { (*l).current }
}

/// The runtime, started on first use.
#[inline]
pub(crate) fn rt() -> &'static Runtime {
    match RT.get() {
        Some(r) => r,
        None => init(),
    }
}

/// Whether more than one worker may run goroutines (GOMAXPROCS > 1).
// Used by sync; loom builds replace sync's parking with a model.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn parallel() -> bool {
    rt().target.load(Relaxed) > 1
}

/// For the sync package's mutex (Go's `sync_runtime_canSpin`, without
/// the iteration bound): spinning for a lock is worth it only if another
/// worker is running (it may hold the lock) and, on a worker, unless
/// `queued_ok`, nothing else is runnable here (those goroutines would
/// rather run than watch us spin). True on a plain thread (the holder may
/// be another thread).
#[inline]
// Used by sync; loom builds replace sync's parking with a model.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn sync_can_spin(queued_ok: bool) -> bool {
    let l = local();
    if l.is_null() {
        return true;
    }
    // SAFETY: this worker's Local, used on its own thread.
    unsafe {
        let r = (*l).rt;
        r.target.load(Relaxed) > r.nidle.load(Relaxed) + r.nspinning.load(Relaxed) + 1
            && (queued_ok
                || ((*l).w.runnext.load(Relaxed).is_null()
                    && (*l).deque.is_empty()
                    && (*l).yq.is_empty()))
    }
}

#[cold]
fn init() -> &'static Runtime {
    let r = RT.get_or_init(|| {
        let cfg = Config::from_env();
        stack::init(cfg.stack_size);
        let procs = cfg.procs_env.unwrap_or_else(config::default_procs);
        Runtime {
            cfg,
            injector: Injector::new(),
            workers: (0..MAX_PROCS)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            nstarted: AtomicUsize::new(0),
            target: AtomicUsize::new(procs),
            nidle: AtomicUsize::new(0),
            nretired: AtomicUsize::new(0),
            nspinning: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            timers: Timers::new(),
            timer_sleeper: AtomicUsize::new(0),
            procs_lock: Mutex::new(()),
        }
    });
    START.call_once(|| {
        san::init();
        diag::install_signal_handlers();
        diag::install_env_diagnostics();
        if san::lsan_present() {
            // SAFETY: registers a plain extern "C" fn() with no
            // preconditions. Registered after the sanitizer's own exit
            // handler, so it runs before the leak check.
            unsafe { libc::atexit(lsan_roots_at_exit) };
        }
        let _l = r.procs_lock.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..r.target.load(SeqCst) {
            r.start_worker(i);
        }
    });
    r
}

impl Runtime {
    fn worker(&self, i: usize) -> &'static Worker {
        // SAFETY: indices below nstarted were published (Release) after the
        // leaked, never-freed Worker was written.
        unsafe { &*self.workers[i].load(Acquire) }
    }

    fn started(&self) -> usize {
        self.nstarted.load(Acquire)
    }

    /// Starts worker `i`. Called with procs_lock held, i == nstarted.
    fn start_worker(&self, i: usize) {
        debug_assert_eq!(i, self.nstarted.load(Relaxed));
        let deque = Deque::new_fifo();
        let w: &'static Worker = Box::leak(Box::new(Worker {
            index: i,
            runnext: Padded(AtomicPtr::new(ptr::null_mut())),
            stealer: deque.stealer(),
            word: Padded(AtomicU32::new(AWAKE_PLAIN)),
            retire: AtomicBool::new(false),
            tid: AtomicI64::new(0),
            spawned: AtomicU64::new(0),
            exited: AtomicU64::new(0),
            gparks: AtomicU64::new(0),
            gwakes: AtomicU64::new(0),
            rslots: Box::leak(Box::new(ReaderSlots(
                [const { AtomicU64::new(0) }; READER_SLOTS],
            ))),
            local: AtomicPtr::new(ptr::null_mut()),
        }));
        self.workers[i].store(w as *const Worker as *mut Worker, Release);
        self.nstarted.store(i + 1, Release);
        let res = std::thread::Builder::new()
            .name(format!("goro-worker-{i}"))
            .stack_size(512 << 10)
            .spawn(move || worker_main(w, deque));
        if let Err(e) = res {
            diag::fatal(format_args!(
                "cannot start worker thread goro-worker-{i}: {e}"
            ));
        }
    }

    pub(crate) fn procs(&self) -> usize {
        self.target.load(Relaxed)
    }

    /// runtime.GOMAXPROCS(n): changes the worker count, returns the old one.
    pub(crate) fn set_procs(&self, n: usize) -> usize {
        let n = n.clamp(1, MAX_PROCS);
        let _l = self.procs_lock.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.target.swap(n, SeqCst);
        for i in 0..self.started() {
            self.worker(i).retire.store(i >= n, SeqCst);
        }
        if n > old {
            for i in old..n {
                if i < self.started() {
                    let w = self.worker(i);
                    if w.word
                        .compare_exchange(RETIRED, AWAKE_PLAIN, SeqCst, Relaxed)
                        .is_ok()
                    {
                        sys::futex_wake(&*w.word, 1);
                    }
                } else {
                    self.start_worker(i);
                }
            }
        } else if n < old {
            // Idle workers that must retire: take them out of the idle list
            // and wake them so that they notice.
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.retain(|&i| {
                if i >= n {
                    let w = self.worker(i);
                    self.nidle.fetch_sub(1, SeqCst);
                    w.word.store(AWAKE_PLAIN, SeqCst);
                    sys::futex_wake(&*w.word, 1);
                    false
                } else {
                    true
                }
            });
        }
        old
    }

    fn idle_push(&self, i: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.push(i);
        self.nidle.fetch_add(1, SeqCst);
    }

    fn idle_pop(&self) -> Option<usize> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let i = idle.pop()?;
        self.nidle.fetch_sub(1, SeqCst);
        Some(i)
    }

    fn idle_remove(&self, i: usize) -> bool {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match idle.iter().position(|&x| x == i) {
            Some(p) => {
                idle.swap_remove(p);
                self.nidle.fetch_sub(1, SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether any queue holds a goroutine or a timer is due.
    fn work_available(&self) -> bool {
        if !self.injector.is_empty() {
            return true;
        }
        for i in 0..self.started() {
            let w = self.worker(i);
            if !w.stealer.is_empty() || !w.runnext.load(SeqCst).is_null() {
                return true;
            }
        }
        self.timers.pending() && self.timers.due(sys::now_ns())
    }

    /// Sum of one per-worker counter over the started workers.
    fn sum(&self, counter: impl Fn(&Worker) -> &AtomicU64) -> u64 {
        (0..self.started())
            .map(|i| counter(self.worker(i)).load(SeqCst))
            .sum()
    }

    /// (goroutines spawned, goroutines exited) so far. Exits are read first:
    /// every exit is preceded by its spawn and the counters only grow, so
    /// spawned >= exited.
    fn spawn_exit_counts(&self) -> (u64, u64) {
        let exited = self.sum(|w| &w.exited);
        let spawned = THREAD_SPAWNED.load(SeqCst) + self.sum(|w| &w.spawned);
        (spawned, exited)
    }

    /// Whether every started worker is idle or retired.
    fn all_idle(&self) -> bool {
        self.nidle.load(SeqCst) + self.nretired.load(SeqCst) >= self.started()
    }

    /// A consistent-looking picture of a deadlock, or None: every worker
    /// idle, nothing runnable, no timer, every live goroutine parked in the
    /// parking layer, and every thread of the process either a worker or a
    /// thread blocked in goro. The counters are monotonic (plus the blocked
    /// count) so that two equal pictures taken apart mean nothing moved.
    fn deadlock_picture(&self) -> Option<[u64; 7]> {
        if !self.all_idle() || self.timers.pending() || self.work_available() {
            return None;
        }
        let n = self.started();
        let (spawned, exited) = self.spawn_exit_counts();
        let gparks = self.sum(|w| &w.gparks);
        let gwakes = THREAD_GWAKES.load(SeqCst) + self.sum(|w| &w.gwakes);
        let (blocked, thread_wakes) = crate::park::thread_waits();
        let live = spawned.saturating_sub(exited);
        let parked = gparks.saturating_sub(gwakes);
        if parked != live || live + blocked as u64 == 0 {
            return None;
        }
        let tasks = std::fs::read_dir("/proc/self/task").ok()?.count();
        if tasks != n + blocked {
            return None;
        }
        Some([
            spawned,
            exited,
            gparks,
            gwakes,
            blocked as u64,
            thread_wakes,
            self.nidle.load(SeqCst) as u64,
        ])
    }

    /// Whether the process is deadlocked: the same deadlock picture twice,
    /// 20 ms apart. Never true while any thread is outside goro (it could
    /// still wake someone), a timer is pending or anything is runnable.
    fn deadlocked(&self) -> bool {
        let Some(a) = self.deadlock_picture() else {
            return false;
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        self.deadlock_picture() == Some(a)
    }
}

/// Wakes an idle worker if there is work and nobody is already looking for
/// it. Callers publish their work first and issue a SeqCst fence.
pub(crate) fn wakep() {
    let r = rt();
    if r.nidle.load(SeqCst) == 0 || r.nspinning.load(SeqCst) != 0 {
        return;
    }
    if r.nspinning.compare_exchange(0, 1, SeqCst, Relaxed).is_err() {
        return;
    }
    let _errno = sys::ErrnoGuard::new();
    match r.idle_pop() {
        Some(i) => {
            let w = r.worker(i);
            w.word.store(AWAKE_SPIN, SeqCst);
            sys::futex_wake(&*w.word, 1);
        }
        None => {
            r.nspinning.fetch_sub(1, SeqCst);
        }
    }
}

/// A new earliest timer: make sure some idle worker sleeps until it.
fn timer_changed() {
    let r = rt();
    let s = r.timer_sleeper.load(SeqCst);
    if s != 0 {
        // Kick it: it recomputes its timeout.
        let w = r.worker(s - 1);
        let kicked = w
            .word
            .fetch_update(SeqCst, SeqCst, |v| {
                (state(v) == SLEEPING).then(|| v.wrapping_add(KICK))
            })
            .is_ok();
        if kicked {
            sys::futex_wake(&*w.word, 1);
        }
    } else {
        wakep();
    }
}

fn worker_main(w: &'static Worker, deque: Deque<GPtr>) {
    let _guard = diag::AbortOnPanic("worker loop");
    w.tid.store(sys::gettid(), Relaxed);
    diag::setup_worker_altstack();
    let mut local = Local {
        w,
        deque,
        g0_sp: 0,
        current: ptr::null_mut(),
        ahead: ptr::null_mut(),
        yq: std::collections::VecDeque::with_capacity(64),
        // SAFETY: __errno_location returns this thread's errno slot.
        errno: unsafe { libc::__errno_location() },
        stacks: stack::Cache::new(),
        gc: g::GCache::new(),
        rt: rt(),
        quota: 0,
        tick: 61,
        rng: (w.index as u32).wrapping_mul(0x9E37_79B9) | 1,
        spinning: false,
        deadlock_backoff: DEADLOCK_FIRST_CHECK,
        g0_fiber: san::fiber_current(),
        g0_stack: thread_stack(),
    };
    let l: *mut Local = &mut local;
    w.local.store(l, Release);
    // SAFETY: slot 0 of this thread now points at its Local, for good.
    unsafe { arch::goro_tls_set(0, l.cast()) };
    // SAFETY: l points at `local`, which lives until this thread ends (never:
    // the loop does not return). From here on `local` is only accessed
    // through l, by this thread (g0 and the goroutines it runs).
    unsafe { schedule_loop(l) }
}

unsafe fn schedule_loop(l: *mut Local) -> ! {
    loop {
        // SAFETY: l is this thread's Local (see worker_main).
        unsafe {
            let g = find_runnable(l);
            (*l).deadlock_backoff = DEADLOCK_FIRST_CHECK;
            prepare(l, g);
            (*l).current = g;
            let sanitized = san::switch_hooks();
            let mut fake: *mut libc::c_void = ptr::null_mut();
            if sanitized != 0 {
                san_before_switch(sanitized, l, g, &mut fake, false);
            }
            let t = goro_ctx_switch(&mut (*l).g0_sp, (*g).sp.get(), T_NONE);
            if sanitized & san::ASAN != 0 {
                san::asan_finish_switch(fake);
            }
            after_switch(t);
        }
    }
}

/// At exit, before LeakSanitizer's check, the stacks it would not scan
/// become roots. It scans each thread's stack from the thread's current
/// stack pointer, so it misses (1) the stack of every goroutine that is
/// not running: a goroutine parked for good that holds the only pointer
/// to a buffer does not leak it, no more than a blocked thread does; and
/// (2) a worker's own stack while the worker runs a goroutine: the
/// worker's run queue and caches, and std's thread state, hang from
/// there. Both were reported as leaks by sanitized programs that exited
/// with goroutines still running or parked. Registered: a goroutine's
/// stack from its saved stack pointer up (whole for one that is running),
/// a worker's from the stack pointer it saved when it switched to the
/// goroutine it runs. Read racily, as dumps read goroutines; ranges that
/// do not look like the stack they should be are skipped.
extern "C" fn lsan_roots_at_exit() {
    let r = rt();
    for i in 0..r.started() {
        let l = r.worker(i).local.load(Acquire);
        if l.is_null() {
            continue;
        }
        // SAFETY: a published Local lives as long as its thread (forever);
        // `current` and `g0_sp` are read racily (see above), the stack
        // bounds never change.
        let (current, sp, (lo, size)) = unsafe {
            (
                ptr::read_volatile(&raw const (*l).current),
                ptr::read_volatile(&raw const (*l).g0_sp),
                (*l).g0_stack,
            )
        };
        if !current.is_null() && (lo..lo + size).contains(&sp) {
            san::lsan_root(sp, lo + size - sp);
        }
    }
    let mut root = |g: &G| {
        let status = g.get_status();
        if status == Status::Free {
            return;
        }
        // SAFETY: G control blocks are never freed; the stack of a live
        // goroutine is set before it first runs and kept until it exits.
        // A torn read is caught by the checks below.
        let s = unsafe { ptr::read_volatile(g.stack.as_ptr()) };
        let (lo, hi) = (s.lo(), s.hi);
        if s.is_empty() || hi <= lo || hi - lo > config::MAX_STACK {
            return;
        }
        // SAFETY: as above; sp is the saved stack pointer of a goroutine
        // that is not running.
        let sp = unsafe { ptr::read_volatile(g.sp.as_ptr()) };
        // A running goroutine's stack pointer is not saved: all of its
        // stack (it may park before the leak check, and its frames must be
        // seen then). Its dead frames may hide a leak behind a stale
        // pointer: LeakSanitizer errs on that side anyway, and the other
        // side is a report of leaks that are none.
        let start = if status != Status::Running && (lo..hi).contains(&sp) {
            sp
        } else {
            lo
        };
        san::lsan_root(start, hi - start);
    };
    // The goroutine list's lock is held briefly (a worker mapping a new
    // region of control blocks): wait for it, up to a second, rather than
    // register no goroutine stack at all. Not a plain lock: whatever
    // holds it at exit may never come back.
    for _ in 0..10_000 {
        if g::try_for_each(&mut root) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// The calling thread's stack as (lowest address, size), for ASan.
fn thread_stack() -> (usize, usize) {
    // SAFETY: attr is initialized by pthread_getattr_np before use and
    // destroyed after; the out-pointers are ours.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = ptr::null_mut();
        let mut size = 0usize;
        libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (addr as usize, size)
    }
}

/// Tells the sanitizers that this worker is about to switch to `next`
/// (null: to its g0). `fake` receives ASan's fake-stack handle of the
/// context we leave; `exiting` contexts pass none (their stack is done).
#[cold]
unsafe fn san_before_switch(
    sanitized: u8,
    l: *mut Local,
    next: *mut G,
    fake: *mut *mut libc::c_void,
    exiting: bool,
) {
    // SAFETY: l is this thread's Local; next is a prepared goroutine.
    unsafe {
        if sanitized & san::TSAN != 0 {
            san::fiber_switch(if next.is_null() {
                (*l).g0_fiber
            } else {
                (*next).fiber.get()
            });
        }
        if sanitized & san::ASAN != 0 {
            let (bottom, size) = if next.is_null() {
                (*l).g0_stack
            } else {
                let s = (*next).stack.get();
                (s.lo(), s.size())
            };
            san::asan_start_switch(if exiting { ptr::null_mut() } else { fake }, bottom, size);
        }
    }
}

/// Marks `g` running; gives a goroutine that is about to run for the first
/// time its stack and entry frame.
#[inline(always)]
unsafe fn prepare(l: *mut Local, g: *mut G) {
    // SAFETY: g was just taken from a run queue by this thread, so this
    // thread owns it.
    unsafe {
        if (*g).stack.get().is_empty() {
            prepare_fresh(l, g);
        } else if (*g).resumes_from_wait() {
            // Resuming from a wait. A yielder's stack is hot: it does not
            // pay for the prefetches (15 -> 20 ns a yield when it did).
            prefetch_frames(g);
        }
        (*g).set_status(Status::Running);
    }
}

/// When `g`, about to run, resumes from a wait, takes the next goroutine
/// of the local queue so that its stack can be fetched while `g` runs.
///
/// Goroutines woken in numbers (a WaitGroup releasing a million) resume
/// on cold stacks: a TLB walk and a miss each, ~300 ns on this VM, which
/// the frame prefetch of [`prepare`] only overlaps within one goroutine.
/// The next goroutine's control block is fetched now; once the switch to
/// `g` is done, [`ahead_publish`] fetches that goroutine's frames and puts
/// it in the run-next slot (published as any goroutine made runnable:
/// stealable, and idle workers are woken for it). It is held privately
/// only during the switch, before `g` runs any user code, so it cannot be
/// stranded behind a goroutine that never yields. W2 release+join 1M:
/// 0.30 -> 0.26 s (medians of 5 interleaved runs).
#[inline(never)]
unsafe fn look_ahead(l: *mut Local, g: *mut G) {
    // SAFETY: l is this thread's Local; g was just taken from a queue by
    // this thread; a goroutine popped from the local queue is ours.
    unsafe {
        if !(*g).resumes_from_wait() || !(*l).ahead.is_null() {
            return;
        }
        if let Some(n) = (*l).deque.pop() {
            arch::prefetch(n.0 as *const u8);
            (*l).ahead = n.0;
        }
    }
}

/// The second half of [`look_ahead`], run by the goroutine it let run as
/// soon as that goroutine is back from its wait (`end_wait`, before any
/// user code): fetch the frames of the goroutine taken ahead (its control
/// block has arrived meanwhile) and make it runnable next.
#[inline(never)]
unsafe fn ahead_publish(l: *mut Local) {
    // SAFETY: l is this thread's Local; `ahead` is a runnable goroutine this
    // thread took from its queue and owns until it is queued again.
    unsafe {
        let n = (*l).ahead;
        (*l).ahead = ptr::null_mut();
        if (*n).resumes_from_wait() {
            prefetch_frames(n);
        }
        ready_as(n, true);
    }
}

/// Lines of a resuming goroutine's stack fetched ahead of the switch.
const FRAME_PREFETCH_LINES: usize = 10;

/// Asks for the top of a parked goroutine's stack (its saved context and
/// the frames it returns through, `[sp, sp + 640)` capped at the stack's
/// top) before switching to it. A goroutine that parked long ago finds
/// those lines cold (a million parked goroutines are 4 GiB of stacks):
/// without this, each `pop` and `ret` on the way back misses in turn, one
/// memory latency after the other; prefetched, the misses overlap. On a hot
/// stack it costs ten L1 hits.
///
/// # Safety
/// `g` is a parked goroutine this thread owns.
#[inline(never)]
unsafe fn prefetch_frames(g: *mut G) {
    // SAFETY: per the contract, g's saved sp and stack are stable.
    let (sp, hi) = unsafe { ((*g).sp.get(), (*g).stack.get().hi) };
    let end = hi.min(sp + FRAME_PREFETCH_LINES * 64);
    let mut p = sp & !63;
    while p < end {
        arch::prefetch(p as *const u8);
        p += 64;
    }
}

#[inline(never)]
unsafe fn prepare_fresh(l: *mut Local, g: *mut G) {
    // SAFETY: g was just taken from a run queue by this thread, so this
    // thread owns it; l is this thread's Local.
    unsafe {
        let s = (*l).stacks.alloc((*g).class.get(), (*l).rt.cfg.guard);
        (*g).stack.set(s);
        san::asan_unpoison(s.lo(), s.size());
        let sp = arch::prepare_stack(s.hi, &entry_of(g));
        (*g).sp.set(sp);
    }
}

/// What the trampoline needs to start the goroutine `g` that has never run.
///
/// # Safety
/// The calling thread owns `g`, spawned and not started.
#[inline(always)]
unsafe fn entry_of(g: *mut G) -> arch::Entry {
    // SAFETY: per the contract; `entry` was stored from a non-null go_fn.
    unsafe {
        arch::Entry {
            func: core::mem::transmute::<usize, arch::EntryFn>((*g).entry.load(Relaxed)),
            arg: (*g).arg.get(),
            g: g.cast(),
            start: g_start,
            exit: g_exit,
        }
    }
}

#[inline(always)]
fn must_retire(l: *mut Local) -> bool {
    // SAFETY: l is the calling thread's Local.
    unsafe { (*l).w.retire.load(Relaxed) }
}

/// Next goroutine from this worker's own sources, without blocking:
/// run-next, local queue, yielded goroutines, global queue (first every 61
/// ticks, for fairness, as are yielded ones), after firing due timers.
#[inline(always)]
unsafe fn pick_next(l: *mut Local) -> *mut G {
    // SAFETY: l is the calling thread's Local; queues hand over ownership.
    unsafe {
        let r = (*l).rt;
        if must_retire(l) {
            return ptr::null_mut();
        }
        (*l).tick -= 1;
        if (*l).tick == 0 {
            (*l).tick = 61;
            if let Some(g) = steal_injector(l) {
                return g;
            }
            if let Some(g) = (*l).yq.pop_front() {
                return g.0;
            }
        }
        if r.timers.pending() {
            let now = sys::now_ns();
            if r.timers.due(now) {
                fire_timers(now);
            }
        }
        let w = (*l).w;
        if !w.runnext.load(Relaxed).is_null() {
            let g = w.runnext.swap(ptr::null_mut(), Acquire);
            if !g.is_null() {
                look_ahead(l, g);
                return g;
            }
        }
        // is_empty first: two loads inline, where pop is a call (a yield
        // loop finds the deque empty every time).
        if !(*l).deque.is_empty() {
            if let Some(g) = (*l).deque.pop() {
                look_ahead(l, g.0);
                return g.0;
            }
        }
        if !(*l).yq.is_empty() {
            if r.nidle.load(Relaxed) != 0 {
                spill_yielded(l);
            } else if let Some(g) = (*l).yq.pop_front() {
                return g.0;
            }
        }
        steal_injector(l).unwrap_or(ptr::null_mut())
    }
}

/// Moves the private yield queue to the back of the stealable deque, in
/// order.
unsafe fn yq_to_deque(l: *mut Local) {
    // SAFETY: l is the calling thread's Local.
    unsafe {
        while let Some(g) = (*l).yq.pop_front() {
            (*l).deque.push(g);
        }
    }
}

/// Moves the private yield queue to the stealable deque and wakes an idle
/// worker to take some.
#[cold]
unsafe fn spill_yielded(l: *mut Local) {
    // SAFETY: l is the calling thread's Local.
    unsafe { yq_to_deque(l) };
    fence(SeqCst);
    wakep();
}

unsafe fn steal_injector(l: *mut Local) -> Option<*mut G> {
    let r = rt();
    if r.injector.is_empty() {
        return None;
    }
    loop {
        // SAFETY: l is the calling thread's Local.
        match r.injector.steal_batch_and_pop(unsafe { &(*l).deque }) {
            Steal::Success(g) => return Some(g.0),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

fn fire_timers(now: u64) {
    rt().timers.fire(now, |g| ready(g.0));
}

/// Steals from other workers: rounds over all of them from a random start;
/// run-next slots only when seen occupied on two rounds in a row (the owner
/// is about to run it, most likely).
unsafe fn steal_work(l: *mut Local) -> *mut G {
    let r = rt();
    let n = r.started();
    // SAFETY: l is the calling thread's Local.
    unsafe {
        let me = (*l).w.index;
        let mut seen: u64 = 0;
        for round in 0..4 {
            (*l).rng ^= (*l).rng << 13;
            (*l).rng ^= (*l).rng >> 17;
            (*l).rng ^= (*l).rng << 5;
            let start = (*l).rng as usize % n.max(1);
            for k in 0..n {
                let i = (start + k) % n;
                if i == me {
                    continue;
                }
                let v = r.worker(i);
                loop {
                    match v.stealer.steal_batch_and_pop(&(*l).deque) {
                        Steal::Success(g) => return g.0,
                        Steal::Retry => continue,
                        Steal::Empty => break,
                    }
                }
                if round < 2 {
                    continue;
                }
                let rn = v.runnext.load(Relaxed);
                if !rn.is_null() {
                    let bit = 1u64 << (i % 64);
                    if seen & bit != 0 {
                        let g = v.runnext.swap(ptr::null_mut(), Acquire);
                        if !g.is_null() {
                            return g;
                        }
                    }
                    seen |= bit;
                }
            }
            if let Some(g) = steal_injector(l) {
                return g;
            }
            if round > 0 {
                for _ in 0..50 {
                    arch::cpu_relax();
                }
            }
        }
        ptr::null_mut()
    }
}

/// A spinning worker that found work stops spinning; the last spinner to do
/// so wakes another worker, which may find more.
unsafe fn found_work(l: *mut Local) {
    // SAFETY: l is the calling thread's Local.
    unsafe {
        if (*l).spinning {
            (*l).spinning = false;
            if rt().nspinning.fetch_sub(1, SeqCst) == 1 {
                wakep();
            }
        }
    }
}

/// The g0 loop's search: returns a runnable goroutine, parking the worker
/// while there is none.
unsafe fn find_runnable(l: *mut Local) -> *mut G {
    let r = rt();
    // SAFETY: l is the calling thread's Local, and we are on g0.
    unsafe {
        loop {
            if must_retire(l) {
                retire(l);
                continue;
            }
            let g = pick_next(l);
            if !g.is_null() {
                found_work(l);
                return g;
            }
            let busy = r.target.load(Relaxed).saturating_sub(r.nidle.load(Relaxed));
            if (*l).spinning || 2 * r.nspinning.load(Relaxed) < busy {
                if !(*l).spinning {
                    (*l).spinning = true;
                    r.nspinning.fetch_add(1, SeqCst);
                }
                let g = steal_work(l);
                if !g.is_null() {
                    found_work(l);
                    return g;
                }
            }
            if stack::trim_wanted() {
                stack::trim();
                continue;
            }
            idle_park(l);
        }
    }
}

/// Parks an idle worker until wakep, the next timer, or a GOMAXPROCS change.
unsafe fn idle_park(l: *mut Local) {
    let r = rt();
    // SAFETY: l is the calling thread's Local.
    unsafe {
        let w = (*l).w;
        w.word.store(SLEEPING, SeqCst);
        r.idle_push(w.index);
        if (*l).spinning {
            (*l).spinning = false;
            r.nspinning.fetch_sub(1, SeqCst);
        }
        fence(SeqCst);
        if r.work_available() {
            leave_idle(l);
            return;
        }
        let owner = r
            .timer_sleeper
            .compare_exchange(0, w.index + 1, SeqCst, Relaxed)
            .is_ok();
        loop {
            // Read the word before the timer: a kick after this load
            // changes the word, and the futex_wait below returns at once.
            let v = w.word.load(SeqCst);
            if state(v) != SLEEPING {
                break;
            }
            let next_timer = r.timers.next.load(SeqCst);
            // The last worker to go idle, with no timer pending, looks for a
            // deadlock now and then (backing off while nothing happens).
            let watch = next_timer == timer::NONE && r.all_idle();
            let deadline = if owner && next_timer != timer::NONE {
                Some(next_timer)
            } else if watch {
                Some(sys::now_ns() + (*l).deadlock_backoff)
            } else {
                None
            };
            if let Some(d) = deadline {
                if sys::now_ns() >= d {
                    break;
                }
            }
            sys::futex_wait(&w.word, v, deadline);
            if watch && state(w.word.load(SeqCst)) == SLEEPING {
                if deadline.is_some_and(|d| sys::now_ns() >= d) {
                    if r.deadlocked() {
                        diag::deadlock();
                    }
                    (*l).deadlock_backoff = ((*l).deadlock_backoff * 2).min(DEADLOCK_MAX_BACKOFF);
                }
                continue;
            }
        }
        if owner {
            r.timer_sleeper.store(0, SeqCst);
        }
        if state(w.word.load(SeqCst)) == SLEEPING {
            leave_idle(l);
        } else {
            (*l).spinning = state(w.word.load(SeqCst)) == AWAKE_SPIN;
        }
    }
}

/// Leaves the idle list on our own initiative; if a waker already took us
/// out, wait for its word and take the spinning credit it gave us.
unsafe fn leave_idle(l: *mut Local) {
    let r = rt();
    // SAFETY: l is the calling thread's Local.
    unsafe {
        let w = (*l).w;
        if r.idle_remove(w.index) {
            w.word.store(AWAKE_PLAIN, SeqCst);
            (*l).spinning = false;
            return;
        }
        while state(w.word.load(SeqCst)) == SLEEPING {
            arch::cpu_relax();
        }
        (*l).spinning = state(w.word.load(SeqCst)) == AWAKE_SPIN;
    }
}

/// A worker above GOMAXPROCS hands its queues to the others and sleeps
/// until GOMAXPROCS grows again.
unsafe fn retire(l: *mut Local) {
    let r = rt();
    // SAFETY: l is the calling thread's Local, on g0.
    unsafe {
        if (*l).spinning {
            (*l).spinning = false;
            r.nspinning.fetch_sub(1, SeqCst);
        }
        let w = (*l).w;
        let rn = w.runnext.swap(ptr::null_mut(), Acquire);
        if !rn.is_null() {
            r.injector.push(GPtr(rn));
        }
        while let Some(g) = (*l).deque.pop() {
            r.injector.push(g);
        }
        while let Some(g) = (*l).yq.pop_front() {
            r.injector.push(g);
        }
        fence(SeqCst);
        wakep();
        w.word.store(RETIRED, SeqCst);
        r.nretired.fetch_add(1, SeqCst);
        while w.retire.load(SeqCst) {
            sys::futex_wait(&w.word, RETIRED, None);
            if w.word.load(SeqCst) != RETIRED && w.retire.load(SeqCst) {
                w.word.store(RETIRED, SeqCst);
            }
        }
        r.nretired.fetch_sub(1, SeqCst);
        w.word.store(AWAKE_PLAIN, SeqCst);
    }
}

/// Queues a runnable goroutine (owned by the caller): into this worker's
/// run-next slot (`next`) or local queue, or the global queue from a plain
/// thread. Returns true when the queueing was a SeqCst read-modify-write,
/// which already orders it before a following `wakep`'s loads.
///
/// A goroutine put in the run-next slot is published by the slot's SeqCst
/// swap, whatever the swap displaced: an idle worker that checks for work
/// after announcing itself idle (`work_available`) sees the slot occupied,
/// or the waker sees that worker idle. The displaced goroutine, pushed to
/// the local queue after the swap, had been published in the slot before;
/// whoever wakes for the new one finds it, or this worker runs it. So no
/// fence follows that push: in a spawn loop, where the slot is always
/// occupied, the fence made every spawn wait until the push's stores (to
/// lines thieves had just read) were owned again (W7 9.39 -> 8.94 us, W1
/// 88.1 -> 86.6 ns, medians of 14 interleaved runs).
fn enqueue(g: *mut G, next: bool) -> bool {
    let l = local();
    // SAFETY: the caller owns g (it is in no queue); l, if non-null, is this
    // thread's Local.
    unsafe {
        (*g).set_status(Status::Runnable);
        if l.is_null() || must_retire(l) {
            rt().injector.push(GPtr(g));
            return false;
        }
        if next {
            let old = (*l).w.runnext.swap(g, SeqCst);
            if !old.is_null() {
                (*l).deque.push(GPtr(old));
            }
            return true;
        } else {
            (*l).deque.push(GPtr(g));
        }
        false
    }
}

/// Makes a goroutine runnable ([`enqueue`]), then wakes an idle worker if
/// useful.
fn ready_as(g: *mut G, next: bool) {
    if !enqueue(g, next) {
        fence(SeqCst);
    }
    wakep();
}

/// The waker's half of the park handshake: true if the waker now owns `g`
/// (it was parked), false if `g` is still switching out (its own worker
/// queues it once the switch is done). Exactly one wake per park.
fn claim(g: *mut G) -> bool {
    // SAFETY: G control blocks are never freed; g is parked (or parking)
    // and the caller is its one waker.
    let old = unsafe { (*g).state.swap(NOTIFIED, AcqRel) };
    match old {
        PARKED => {
            // SAFETY: as above; we now own g.
            unsafe { (*g).state.store(RUNNING, Relaxed) };
            true
        }
        PARKING => false,
        _ => diag::fatal(format_args!(
            "internal error: goroutine woken twice (state {old})"
        )),
    }
}

/// Makes many woken goroutines runnable at once: [`ready`]'s handshake for
/// each, queued without waking workers one by one (the caller calls
/// [`ready_batch_end`] once after the last).
pub(crate) fn ready_batch_one(g: *mut G) {
    if claim(g) {
        enqueue(g, false);
    }
}

/// Ends a batch of [`ready_batch_one`]: publishes it to idle workers.
pub(crate) fn ready_batch_end() {
    fence(SeqCst);
    wakep();
}

/// Counts `n` goroutines woken from the parking layer by this thread.
pub(crate) fn count_gwakes(n: u64) {
    let l = local();
    if l.is_null() {
        THREAD_GWAKES.fetch_add(n, SeqCst);
    } else {
        // SAFETY: l is this worker's Local; only this thread writes it.
        let c = unsafe { &(*l).w.gwakes };
        c.store(c.load(Relaxed) + n, Release);
    }
}

/// Wakes a goroutine parked by [`park_current`] or `go_sleep` into this
/// worker's run-next slot (see [`claim`]).
pub(crate) fn ready(g: *mut G) {
    if claim(g) {
        ready_as(g, true);
    }
}

/// Runs on the context we just switched to: finishes what the goroutine we
/// left asked for, now that it is off its stack.
pub(crate) unsafe fn after_switch(t: usize) {
    // SAFETY: forwarded contract; local() is this thread's.
    unsafe { after_switch_on(local(), t) }
}

#[inline(always)]
unsafe fn after_switch_on(l: *mut Local, t: usize) {
    if t == T_NONE {
        return;
    }
    let g = (t & !T_MASK) as *mut G;
    // SAFETY: the goroutine we switched away from is owned by this thread
    // until the action below publishes it.
    unsafe {
        // A yield is tested alone, the other actions are out of line: a
        // `match` on all of them compiles to a jump table, whose indirect
        // jump right after a switch is predicted with the other context's
        // history (perf: 11% of a yield loop's samples on that jump).
        if t & T_MASK == T_YIELD {
            (*g).set_status(Status::Runnable);
            if (*l).deque.is_empty() {
                // Only yielders in play (the common case of a yield loop):
                // the private queue, no atomics.
                (*l).yq.push_back(GPtr(g));
            } else {
                // Other work is queued: keep FIFO order with it, so a
                // yielder is not starved behind a queue that keeps filling
                // (e.g. a mutex hand-off's yield).
                yq_to_deque(l);
                (*l).deque.push(GPtr(g));
            }
            return;
        }
        after_switch_other(l, t);
    }
}

/// The actions of [`after_switch_on`] other than a yield's: out of line, so
/// that the yield's test stays a plain branch.
#[inline(never)]
unsafe fn after_switch_other(l: *mut Local, t: usize) {
    let g = (t & !T_MASK) as *mut G;
    // SAFETY: as in after_switch_on, whose contract this inherits.
    unsafe {
        match t & T_MASK {
            T_PARK => park_commit(g),
            T_SLEEP => {
                if rt().timers.add(GPtr(g), (*g).wait_word.get()) {
                    timer_changed();
                }
                park_commit(g);
            }
            T_EXIT => reclaim(l, g),
            _ => diag::fatal(format_args!("internal error: bad transfer word {t:#x}")),
        }
    }
}

/// Publishes "parked"; if the wake already came, queue the goroutine now.
unsafe fn park_commit(g: *mut G) {
    // SAFETY: g is off its stack; see ready().
    unsafe {
        if (*g)
            .state
            .compare_exchange(PARKING, PARKED, AcqRel, Acquire)
            .is_err()
        {
            (*g).state.store(RUNNING, Relaxed);
            ready_as(g, false);
        }
    }
}

/// Frees an exited goroutine's stack, name and control block.
#[inline(never)]
unsafe fn reclaim(l: *mut Local, g: *mut G) {
    // SAFETY: g has exited and is off its stack; nothing refers to it; l is
    // this thread's Local.
    unsafe {
        let class = (*g).class.get();
        (*l).stacks.free(class, (*g).stack.get());
        (*g).stack.set(stack::Stack::EMPTY);
        release_g(l, g);
    }
}

/// Frees an exited goroutine's name and control block, and gives back its
/// share of the stack reservation; its stack is gone already (freed, or
/// handed to the next goroutine by [`restart_on_stack`]).
///
/// # Safety
/// `g` has exited and nothing refers to it any more; its `stack` is empty;
/// `l` is this thread's Local.
#[inline(always)]
unsafe fn release_g(l: *mut Local, g: *mut G) {
    // SAFETY: forwarded contract.
    unsafe {
        if (*g).class.get() == 0 {
            (*l).quota += 1;
            if (*l).quota > 2 * stack::QUOTA_CHUNK {
                (*l).quota -= stack::QUOTA_CHUNK;
                stack::unreserve_default(stack::QUOTA_CHUNK);
            }
        }
        // Load then store, not swap: only the owner writes `name` (dumps
        // only read it), and a locked swap would wait here for every store
        // still in flight, e.g. to the cold lines of the stack just freed.
        let name = (*g).name.load(Relaxed);
        if name != 0 {
            (*g).name.store(0, Relaxed);
            diag::free_name(name);
        }
        san::fiber_destroy((*g).fiber.get());
        (*g).fiber.set(0);
        (*l).gc.free(g);
    }
}

/// Whether the exiting goroutine `g` can hand its stack to `next` and
/// start it in place ([`restart_on_stack`]): `next` has never run, both use
/// the default stack size, and no sanitizer follows switches (ASan and TSan
/// must see every stack change; TSan also quarantines freed stacks).
#[inline(always)]
unsafe fn can_restart(g: *mut G, next: *mut G) -> bool {
    // SAFETY: g runs on this thread; next was just dequeued by it.
    unsafe {
        !next.is_null()
            && (*next).stack.get().is_empty()
            && (*next).class.get() == 0
            && (*g).class.get() == 0
            && san::switch_hooks() == 0
    }
}

/// The exiting goroutine `g` hands its stack to `next`, a goroutine that
/// has never run, and starts it there, from the stack's top: no context is
/// saved (g never runs again), no stack goes back to the cache only to come
/// out again, no initial frame is written, and the trampoline is entered by
/// a direct jump instead of a mispredicted `ret`. What a switch to `next`
/// then [`reclaim`] of `g` would do, in that order's effect: the stack
/// check of the switch, g's control block freed, `next` running.
/// W1 (spawn+join 1M at GOMAXPROCS=2): 95 -> 69 ns a goroutine, medians
/// of 8 interleaved runs.
///
/// # Safety
/// `g` is the goroutine running on this thread, returned from its function
/// (in `g_exit`); `next` was just dequeued by this thread and
/// [`can_restart`] holds; `l` is this thread's Local.
unsafe fn restart_on_stack(l: *mut Local, g: *mut G, next: *mut G) -> ! {
    // SAFETY: forwarded contract: this thread owns both goroutines.
    unsafe {
        check_stack(g);
        let s = (*g).stack.get();
        (*g).stack.set(stack::Stack::EMPTY);
        (*next).stack.set(s);
        release_g(l, g);
        (*next).set_status(Status::Running);
        (*l).current = next;
        arch::restart(s.hi, &entry_of(next))
    }
}

/// Stack-overflow check at every switch: the stack pointer is inside the
/// stack and, for unguarded stacks, the canary is intact.
#[inline]
unsafe fn check_stack(g: *mut G) {
    // SAFETY: g is the running goroutine, owned by this thread.
    let s = unsafe { (*g).stack.get() };
    if arch::current_sp() < s.lo() || !s.canary_ok() {
        diag::stack_overflow(g, None);
    }
}

/// Switches from the running goroutine `cur` to the next runnable one (or
/// to g0), handing `action` to whoever resumes. Returns when `cur` runs
/// again, possibly on another thread, with errno set to `errno`.
#[inline(never)]
unsafe fn switch_out(cur: *mut G, action: usize, errno: i32) {
    // SAFETY: cur is the goroutine running on this thread; l is fetched
    // afresh (we may have migrated since the last switch).
    unsafe {
        let l = local();
        let next = pick_next(l);
        switch_to(l, cur, next, action, errno);
    }
}

/// Switches from `cur` to `next` (null: this worker's g0) with `action`.
/// `errno` is the goroutine's errno as it was when it entered goro (the
/// caller saved it before any system call goro made): it is restored on
/// the thread where the goroutine resumes, so a goroutine's errno is its
/// own across goro calls that park or migrate it.
#[inline(always)]
unsafe fn switch_to(l: *mut Local, cur: *mut G, next: *mut G, action: usize, errno: i32) {
    // SAFETY: l is this thread's Local, cur the goroutine running here,
    // next (if any) a runnable goroutine this thread just dequeued.
    unsafe {
        check_stack(cur);
        let to = if next.is_null() {
            (*l).current = ptr::null_mut();
            (*l).g0_sp
        } else {
            prepare(l, next);
            (*l).current = next;
            (*next).sp.get()
        };
        let sanitized = san::switch_hooks();
        let mut fake: *mut libc::c_void = ptr::null_mut();
        if sanitized != 0 {
            san_before_switch(sanitized, l, next, &mut fake, action & T_MASK == T_EXIT);
        }
        let t = goro_ctx_switch((*cur).sp.as_ptr(), to, action);
        if sanitized & san::ASAN != 0 {
            san::asan_finish_switch(fake);
        }
        // Possibly another thread now: fetch its Local afresh.
        let l = local();
        after_switch_on(l, t);
        (*cur).set_status(Status::Running);
        *(*l).errno = errno;
    }
}

/// First thing a fresh goroutine runs (from the trampoline).
unsafe extern "C" fn g_start(transfer: usize, g: *mut u8) {
    let guard = diag::AbortOnPanic("goroutine start");
    let sanitized = san::switch_hooks();
    if sanitized != 0 {
        if sanitized & san::ASAN != 0 {
            san::asan_finish_switch(ptr::null_mut());
        }
        // The previous goroutine on this stack used the same addresses:
        // order its accesses before ours (see san.rs).
        // SAFETY: g is this goroutine's control block.
        san::acquire(unsafe { (*(g as *mut G)).stack.get().lo() });
    }
    // SAFETY: called once by the trampoline right after the switch.
    unsafe { after_switch(transfer) };
    sys::set_errno(0);
    core::mem::forget(guard);
}

/// Runs when a goroutine's function returns (from the trampoline).
unsafe extern "C" fn g_exit(g: *mut u8) -> ! {
    let _guard = diag::AbortOnPanic("goroutine exit");
    let g = g as *mut G;
    // SAFETY: g is the goroutine running on this thread; l its worker.
    unsafe {
        bump(&(*local()).w.exited);
        if let Some(f) = (*g).on_exit.get() {
            (*g).on_exit.set(None);
            f((*g).on_exit_arg.get());
        }
        san::release((*g).stack.get().lo());
        // Fetched afresh: on_exit may have run a while.
        let l = local();
        let next = pick_next(l);
        if can_restart(g, next) {
            restart_on_stack(l, g, next);
        }
        switch_to(l, g, next, g as usize | T_EXIT, 0);
    }
    diag::fatal(format_args!(
        "internal error: an exited goroutine was resumed"
    ))
}

/// The stack class for a requested size (0 = default): EINVAL outside
/// 16 KiB..1 GiB.
fn stack_class(stack_size: usize) -> Result<u16, i32> {
    if stack_size == 0 {
        return Ok(0);
    }
    if !(config::MIN_STACK..=config::MAX_STACK).contains(&stack_size) {
        return Err(libc::EINVAL);
    }
    let s = config::round_stack(stack_size);
    Ok(if s == rt().cfg.stack_size {
        0
    } else {
        stack::class_of(s)
    })
}

/// How a goroutine is created: everything but the function is optional.
pub(crate) struct SpawnArgs {
    pub func: arch::EntryFn,
    pub arg: *mut libc::c_void,
    /// Stack size requested (0 = default), not yet validated.
    pub stack_size: usize,
    /// malloc'd name, owned by the goroutine once spawned.
    pub name: *mut libc::c_char,
    pub on_exit: Option<(g::ExitFn, usize)>,
}

/// Starts a goroutine. Errors: EINVAL (stack size), ENOMEM (control block),
/// EAGAIN (no address space for a stack).
pub(crate) fn spawn(a: SpawnArgs) -> Result<(), i32> {
    let Some((gc, quota, worker)) = spawn_ctx() else {
        return spawn_without_tls(a);
    };
    // SAFETY: gc and quota are this thread's, not aliased during this call.
    unsafe { spawn_with(a, &mut *gc, &mut *quota, worker) }
}

fn spawn_with(
    a: SpawnArgs,
    gc: &mut g::GCache,
    quota: &mut usize,
    worker: Option<&'static Worker>,
) -> Result<(), i32> {
    let r = rt();
    let class = stack_class(a.stack_size)?;
    if class == 0 {
        if *quota == 0 {
            let slack = r.started().max(r.procs()) * (stack::CACHE_MAX + 2);
            if !stack::reserve_default(stack::QUOTA_CHUNK, slack) {
                return Err(libc::EAGAIN);
            }
            *quota = stack::QUOTA_CHUNK;
        }
        *quota -= 1;
    } else if !stack::reserve_class(class) {
        return Err(libc::EAGAIN);
    }
    let Some(g) = gc.alloc() else {
        if class == 0 {
            *quota += 1;
        } else {
            stack::unreserve_class(class);
        }
        return Err(libc::ENOMEM);
    };
    match worker {
        Some(w) => bump(&w.spawned),
        None => {
            THREAD_SPAWNED.fetch_add(1, SeqCst);
        }
    }
    // SAFETY: g is fresh from the allocator; we own it until it is queued.
    unsafe {
        (*g).id.store(gc.new_id(), Relaxed);
        (*g).entry.store(a.func as usize, Relaxed);
        (*g).arg.set(a.arg);
        (*g).class.set(class);
        (*g).stack.set(stack::Stack::EMPTY);
        (*g).sp.set(0);
        (*g).state.store(RUNNING, Relaxed);
        (*g).reason.store(WaitReason::None as u8, Relaxed);
        // A free G has no name, no fiber and no exit hook (G::new, g_exit,
        // reclaim): the defaults are not stored again, so that a plain spawn
        // writes only the control block's first cache line. The block was
        // last touched by the worker that ran its previous goroutine; each
        // line written here is a line fetched from that core.
        debug_assert!((*g).name.load(Relaxed) == 0 && (*g).fiber.get() == 0);
        debug_assert!((*g).on_exit.get().is_none());
        if !a.name.is_null() {
            (*g).name.store(a.name as usize, Relaxed);
        }
        let fiber = san::fiber_create();
        if fiber != 0 {
            (*g).fiber.set(fiber);
        }
        if let Some((f, x)) = a.on_exit {
            (*g).on_exit.set(Some(f));
            (*g).on_exit_arg.set(x);
        }
    }
    ready_as(g, true);
    Ok(())
}

/// Spawn from a thread whose thread-local storage is being torn down (a
/// spawn from a TLS destructor): use throw-away caches.
#[cold]
fn spawn_without_tls(a: SpawnArgs) -> Result<(), i32> {
    let mut ctx = PlainCtx {
        gc: g::GCache::new(),
        quota: 0,
    };
    spawn_with(a, &mut ctx.gc, &mut ctx.quota, None)
}

/// go_yield: lets the other runnable goroutines of this worker run first.
#[inline]
pub(crate) fn yield_now() {
    let l = local();
    if l.is_null() {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
        return;
    }
    // SAFETY: l is this worker's Local; current is the running goroutine.
    unsafe {
        let errno = *(*l).errno;
        let cur = (*l).current;
        let next = pick_next(l);
        if !next.is_null() || must_retire(l) {
            switch_to(l, cur, next, cur as usize | T_YIELD, errno);
        } else {
            // pick_next may have made system calls (timers, wake-ups).
            *(*l).errno = errno;
        }
    }
}

/// go_sleep: parks the goroutine (never its worker) for `ns` nanoseconds;
/// on a plain thread, sleeps the thread.
pub(crate) fn sleep(ns: i64) {
    if ns <= 0 {
        return;
    }
    let errno = sys::errno();
    let deadline = sys::now_ns().saturating_add(ns as u64);
    let g = current_g();
    if g.is_null() {
        let ts = libc::timespec {
            tv_sec: (deadline / 1_000_000_000) as libc::time_t,
            tv_nsec: (deadline % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: ts is a valid absolute time; we retry on EINTR.
        while unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                ptr::null_mut(),
            )
        } == libc::EINTR
        {}
        return;
    }
    // SAFETY: g is the goroutine running on this thread.
    unsafe {
        (*g).wait_word.set(deadline);
        begin_wait(g, WaitReason::Sleep, 0);
        (*g).state.store(PARKING, Relaxed);
        switch_out(g, g as usize | T_SLEEP, errno);
        end_wait(g);
    }
}

/// Records what a goroutine is about to wait for (for dumps).
pub(crate) unsafe fn begin_wait(g: *mut G, reason: WaitReason, obj: usize) {
    // SAFETY: g is the running goroutine.
    unsafe {
        (*g).reason.store(reason as u8, Relaxed);
        (*g).wait_obj.store(obj, Relaxed);
        (*g).wait_since.store(coarse_now(), Relaxed);
        (*g).set_status(Status::Waiting);
    }
}

unsafe fn end_wait(g: *mut G) {
    // SAFETY: g is the running goroutine; l is this thread's Local.
    unsafe {
        let l = local();
        if !(*l).ahead.is_null() {
            ahead_publish(l);
        }
        (*g).reason.store(WaitReason::None as u8, Relaxed);
        (*g).wait_obj.store(0, Relaxed);
    }
}

/// A cheap clock for "waiting since" (CLOCK_MONOTONIC_COARSE).
pub(crate) fn coarse_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes our timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Parks the running goroutine `g`, whose state the caller set to PARKING
/// and published (e.g. by queueing a waiter and releasing a lock). Returns
/// once [`ready`] was called for it. If the wake already happened, returns
/// without switching.
pub(crate) unsafe fn park_current(g: *mut G) {
    // SAFETY: g is the running goroutine.
    unsafe {
        if (*g).state.load(Acquire) == NOTIFIED {
            (*g).state.store(RUNNING, Relaxed);
        } else {
            switch_out(g, g as usize | T_PARK, sys::errno());
        }
        end_wait(g);
        (*g).set_status(Status::Running);
    }
}
