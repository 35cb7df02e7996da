//! Goroutine stacks: reserved in large slabs with `mmap(MAP_NORESERVE)`,
//! committed page by page as they are touched, guarded, pooled and trimmed.
//!
//! Layout of a slab (addresses grow to the right; a stack grows leftwards
//! from its `hi`):
//!
//! ```text
//! | guard | stack 0 | guard | stack 1 | ... | guard | stack N-1 |
//!         lo0     hi0       lo1     hi1
//! ```
//!
//! * **Guards.** [`GUARD_BYTES`](crate::config::GUARD_BYTES) below every
//!   stack. Preferred: `madvise(MADV_GUARD_INSTALL)` (Linux >= 6.13), which
//!   costs neither memory nor a kernel mapping (VMA), so a million guarded
//!   stacks fit in one slab mapping each. Fallback on older kernels:
//!   `mprotect(PROT_NONE)`, which splits the mapping (two VMAs per stack),
//!   so it is used only while a budget derived from `vm.max_map_count`
//!   lasts; stacks beyond it get no guard page but a canary word at their
//!   lowest address, checked at every switch (overflow is then caught after
//!   the fact, and such a stack costs one more resident page).
//! * **Reservation.** `go_spawn` never touches a stack: it only makes sure
//!   enough slots exist (mapping a new slab if not), so a spawn can fail
//!   with `EAGAIN` but a started goroutine always finds a stack. The slot is
//!   taken, and its guard installed, when the goroutine first runs; a
//!   queued goroutine holds no stack memory at all.
//! * **Pools.** Default-size stacks go to a per-worker cache first, then a
//!   global pool of "dirty" stacks (pages still committed, fast to reuse).
//!   Above a bound, dirty stacks are given back with `MADV_DONTNEED` (the
//!   guards survive it) by idle workers, coalescing neighbours into single
//!   calls, and kept as "clean" address space.
//! * Transparent huge pages are disabled on slabs: a 2 MiB page would turn
//!   a goroutine's first touched page into 2 MiB of memory.

use crate::config::{GuardMode, GUARD_BYTES};
use crate::sys;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Mutex;

/// Target size of one slab mapping.
const SLAB_BYTES: usize = 32 << 20;
/// Stacks a worker keeps for itself before handing half to the global pool.
pub(crate) const CACHE_MAX: usize = 64;
/// Stacks moved between a worker cache and the global pool at once.
const BATCH: usize = 32;
/// Dirty stacks the global pool keeps committed before trimming.
const DIRTY_KEEP: usize = 256;
/// The word written at the lowest address of unguarded stacks.
pub(crate) const CANARY: usize = 0x676f_726f_5f73_746b; // "goro_stk"
/// Flag in a stack's `lo` (always page aligned): no guard page, canary.
const FLAG_CANARY: usize = 1;

#[cfg(not(target_os = "linux"))]
compile_error!("goro supports Linux only");

const MADV_GUARD_INSTALL: i32 = 102;
/// `PIDFD_SELF_PROCESS`: process_madvise(2) on the calling process
/// without opening a pidfd (Linux >= 6.15; a pidfd would follow the
/// parent after fork).
const PIDFD_SELF_PROCESS: libc::c_int = -10001;
/// process_madvise takes at most this many ranges per call (UIO_MAXIOV).
const IOV_MAX: usize = 1024;
const PAGE: usize = 4096;

/// A goroutine stack: usable bytes `[lo, hi)`, guard below `lo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stack {
    word: usize, // lo | flags
    pub hi: usize,
}

impl Stack {
    pub(crate) const EMPTY: Stack = Stack { word: 0, hi: 0 };
    /// The slot at `lo` with `size` usable bytes and a guard page below.
    fn guarded(lo: usize, size: usize) -> Stack {
        Stack {
            word: lo,
            hi: lo + size,
        }
    }
    pub(crate) fn lo(&self) -> usize {
        self.word & !(FLAG_CANARY)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.hi == 0
    }
    pub(crate) fn has_canary(&self) -> bool {
        self.word & FLAG_CANARY != 0
    }
    pub(crate) fn size(&self) -> usize {
        self.hi - self.lo()
    }
    /// Whether the canary (if any) is intact.
    #[inline]
    pub(crate) fn canary_ok(&self) -> bool {
        // SAFETY: a canary stack's lowest word belongs to the stack mapping,
        // which is never unmapped.
        !self.has_canary() || unsafe { *(self.lo() as *const usize) } == CANARY
    }
}

struct Class {
    size: usize,
    slot: usize,
    /// Goroutines of this class alive (custom classes; the default class
    /// uses the global goroutine count).
    live: usize,
    /// Slots ever mapped.
    capacity: usize,
    /// Mapped slot ranges never handed out: (next lo, end).
    fresh: Vec<(usize, usize)>,
    dirty: Vec<Stack>,
    clean: Vec<Stack>,
}

impl Class {
    const fn new(size: usize) -> Class {
        Class {
            size,
            slot: 0,
            live: 0,
            capacity: 0,
            fresh: Vec::new(),
            dirty: Vec::new(),
            clean: Vec::new(),
        }
    }
}

struct Pools {
    classes: Vec<Class>,
}

static POOLS: Mutex<Pools> = Mutex::new(Pools {
    classes: Vec::new(),
});
/// Total dirty stacks in the global pools (a hint for trimming).
static DIRTY: AtomicUsize = AtomicUsize::new(0);
/// Slots of the default class mapped so far (read without the lock).
static DEFAULT_CAPACITY: AtomicUsize = AtomicUsize::new(0);
/// Set once MADV_GUARD_INSTALL was refused (a kernel before 6.13).
static NO_MADV_GUARD: AtomicBool = AtomicBool::new(false);
/// Set once process_madvise on ourselves was refused (older kernel,
/// seccomp): guards are then installed one madvise call each.
static NO_PROCESS_MADVISE: AtomicBool = AtomicBool::new(false);
/// mprotect guards installed (each costs ~2 kernel mappings).
static MPROTECT_GUARDS: AtomicUsize = AtomicUsize::new(0);
static MPROTECT_BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

fn pools() -> std::sync::MutexGuard<'static, Pools> {
    POOLS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets up the default class; called once at runtime start.
pub(crate) fn init(default_size: usize) {
    let mut p = pools();
    if p.classes.is_empty() {
        p.classes.push(Class::new(default_size));
        p.classes[0].slot = default_size + GUARD_BYTES;
    }
    let max_maps = sys::read_small_file("/proc/sys/vm/max_map_count")
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(65530);
    // Leave 16384 mappings for the program itself; each guard costs two.
    MPROTECT_BUDGET.store(max_maps.saturating_sub(16384) / 2, Relaxed);
}

/// Index of the class for `size` (already page-rounded), creating it.
pub(crate) fn class_of(size: usize) -> u16 {
    let mut p = pools();
    if let Some(i) = p.classes.iter().position(|c| c.size == size) {
        return i as u16;
    }
    let mut c = Class::new(size);
    c.slot = size + GUARD_BYTES;
    p.classes.push(c);
    (p.classes.len() - 1) as u16
}

/// Maps one more slab for `c`. Returns false when the kernel says no.
fn grow(c: &mut Class) -> bool {
    let per = (SLAB_BYTES / c.slot).max(1);
    let bytes = per * c.slot;
    // SAFETY: a fresh anonymous private mapping; no existing memory is
    // affected. MAP_NORESERVE: pages are committed only when touched.
    let base = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: advice on the mapping we just created.
    unsafe { libc::madvise(base, bytes, libc::MADV_NOHUGEPAGE) };
    c.fresh.push((base as usize, base as usize + bytes));
    c.capacity += per;
    true
}

/// Default-class slots handed out to threads' spawn quotas.
static RESERVED: AtomicUsize = AtomicUsize::new(0);
/// Reservations a thread takes at once for its spawn quota.
pub(crate) const QUOTA_CHUNK: usize = 64;

/// Reserves `n` default-class slots for a thread's spawn quota, plus room
/// for `slack` stacks sitting in worker caches, mapping slabs as needed.
/// Returns false if the address space could not be grown.
///
/// Every live default-class goroutine holds one reservation (taken from its
/// spawner's quota, given back to a worker's quota when it exits), so
/// `capacity >= reserved + slack` guarantees that a goroutine about to run
/// always finds a slot, and a spawn that cannot be backed fails with EAGAIN
/// instead.
pub(crate) fn reserve_default(n: usize, slack: usize) -> bool {
    let want = RESERVED.fetch_add(n, Relaxed) + n + slack;
    if want <= DEFAULT_CAPACITY.load(Acquire) {
        return true;
    }
    let _errno = sys::ErrnoGuard::new();
    let mut p = pools();
    let c = &mut p.classes[0];
    while c.capacity < want {
        if !grow(c) {
            drop(p);
            RESERVED.fetch_sub(n, Relaxed);
            return false;
        }
    }
    DEFAULT_CAPACITY.store(c.capacity, Release);
    true
}

/// Gives back `n` default-class reservations from a thread's quota.
pub(crate) fn unreserve_default(n: usize) {
    RESERVED.fetch_sub(n, Relaxed);
}

/// Reserves a slot of a custom class for a new goroutine.
pub(crate) fn reserve_class(class: u16) -> bool {
    let _errno = sys::ErrnoGuard::new();
    let mut p = pools();
    let c = &mut p.classes[class as usize];
    if c.live + 1 > c.capacity && !grow(c) {
        return false;
    }
    c.live += 1;
    true
}

/// Gives back a custom-class reservation (goroutine exited, or spawn failed).
pub(crate) fn unreserve_class(class: u16) {
    let mut p = pools();
    p.classes[class as usize].live -= 1;
}

/// Installs the guard below a never-used slot and returns it as a Stack.
fn arm_fresh(lo: usize, size: usize, mode: GuardMode) -> Stack {
    crate::san::valgrind_stack_register(lo, lo + size);
    let guard = lo - GUARD_BYTES;
    if mode == GuardMode::Auto && !NO_MADV_GUARD.load(Relaxed) {
        // SAFETY: the guard range lies inside our slab mapping and belongs
        // to this slot only.
        let r =
            unsafe { libc::madvise(guard as *mut libc::c_void, GUARD_BYTES, MADV_GUARD_INSTALL) };
        if r == 0 {
            return Stack::guarded(lo, size);
        }
        if sys::errno() == libc::EINVAL {
            NO_MADV_GUARD.store(true, Relaxed);
        }
    }
    if mode != GuardMode::None
        && MPROTECT_GUARDS.fetch_add(1, Relaxed) < MPROTECT_BUDGET.load(Relaxed)
    {
        // SAFETY: as above; PROT_NONE on our own guard range.
        if unsafe { libc::mprotect(guard as *mut libc::c_void, GUARD_BYTES, libc::PROT_NONE) } == 0
        {
            return Stack::guarded(lo, size);
        }
    }
    // No guard: canary at the bottom.
    // SAFETY: lo is the first usable word of the slot, writable.
    unsafe { (lo as *mut usize).write(CANARY) };
    Stack {
        word: lo | FLAG_CANARY,
        hi: lo + size,
    }
}

/// Takes up to `n` stacks of `class` from the global pool into `out`.
/// Never fails for a reserved goroutine: slots were mapped at spawn.
fn take(class: u16, n: usize, out: &mut Vec<Stack>, mode: GuardMode) {
    let _errno = sys::ErrnoGuard::new();
    let mut fresh: Vec<usize> = Vec::new();
    let size;
    {
        let mut p = pools();
        let c = &mut p.classes[class as usize];
        size = c.size;
        while out.len() + fresh.len() < n {
            if let Some(s) = c.dirty.pop() {
                DIRTY.fetch_sub(1, Relaxed);
                out.push(s);
            } else if let Some(s) = c.clean.pop() {
                out.push(s);
            } else if let Some((next, end)) = c.fresh.last_mut() {
                let lo = *next + GUARD_BYTES;
                *next += c.slot;
                if *next >= *end {
                    c.fresh.pop();
                }
                fresh.push(lo);
            } else if !grow(c) {
                break;
            }
        }
    }
    // Guards are installed outside the lock (system calls), all at once
    // where the kernel can: one process_madvise call for the guards, one
    // that commits the top page of each stack (which its goroutine's first
    // frame writes at once). Measured here per stack: one madvise 530-590
    // ns, in a batch 330-355; a first-touch page fault 1.75-2.2 us, a
    // batched populate 1.1-1.3 us. 1M fresh stacks: 1M guard calls and 1M
    // faults, most of the cost of spawning and parking a million
    // goroutines.
    let armed = if mode == GuardMode::Auto && !NO_MADV_GUARD.load(Relaxed) {
        arm_fresh_batch(&fresh, size)
    } else {
        0
    };
    for (i, &lo) in fresh.iter().enumerate() {
        if i < armed {
            crate::san::valgrind_stack_register(lo, lo + size);
            out.push(Stack::guarded(lo, size));
        } else {
            out.push(arm_fresh(lo, size, mode));
        }
    }
}

/// Installs the guards below the fresh slots `los` (usable size `size`)
/// with batched process_madvise calls, then commits the top page of each;
/// returns how many (a prefix of `los`) got their guard. The rest fall
/// back to one call each ([`arm_fresh`]).
fn arm_fresh_batch(los: &[usize], size: usize) -> usize {
    if los.len() < 2 || NO_PROCESS_MADVISE.load(Relaxed) {
        return 0;
    }
    let guards = madvise_many(
        los.iter().map(|&lo| lo - GUARD_BYTES),
        GUARD_BYTES,
        MADV_GUARD_INSTALL,
    );
    if guards == 0 {
        return 0;
    }
    // Best effort: a page that is not committed now will be by its fault.
    madvise_many(
        los[..guards].iter().map(|&lo| lo + size - PAGE),
        PAGE,
        libc::MADV_POPULATE_WRITE,
    );
    guards
}

/// process_madvise(2) with `advice` on the ranges `[a, a + len)` for each
/// start `a` (ours, page aligned), IOV_MAX per call; returns how many
/// ranges, from the first, were done. Remembers a refusal of the call
/// itself (not of the advice) in NO_PROCESS_MADVISE.
fn madvise_many(starts: impl Iterator<Item = usize>, len: usize, advice: i32) -> usize {
    let iov: Vec<libc::iovec> = starts
        .map(|a| libc::iovec {
            iov_base: a as *mut libc::c_void,
            iov_len: len,
        })
        .collect();
    let mut done = 0;
    for chunk in iov.chunks(IOV_MAX) {
        // SAFETY: the ranges lie in our own slab mappings and belong to
        // slots nobody uses yet; the iovec array outlives the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                PIDFD_SELF_PROCESS,
                chunk.as_ptr(),
                chunk.len(),
                advice,
                0,
            )
        };
        if r < 0 {
            if matches!(sys::errno(), libc::ENOSYS | libc::EBADF | libc::EPERM) {
                NO_PROCESS_MADVISE.store(true, Relaxed);
            }
            return done;
        }
        let n = r as usize / len;
        done += n;
        if n < chunk.len() {
            return done;
        }
    }
    done
}

/// Returns stacks to the global pool of their class.
fn give(class: u16, stacks: impl Iterator<Item = Stack>) {
    let mut p = pools();
    let c = &mut p.classes[class as usize];
    let before = c.dirty.len();
    c.dirty.extend(stacks);
    DIRTY.fetch_add(c.dirty.len() - before, Relaxed);
}

/// A worker's private stack cache (default class only).
pub(crate) struct Cache {
    stacks: Vec<Stack>,
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache {
            stacks: Vec::with_capacity(CACHE_MAX + 1),
        }
    }

    /// A stack of `class` for a goroutine that is about to run.
    pub(crate) fn alloc(&mut self, class: u16, mode: GuardMode) -> Stack {
        if class == 0 {
            if let Some(s) = self.stacks.pop() {
                return s;
            }
            take(0, BATCH, &mut self.stacks, mode);
            if let Some(s) = self.stacks.pop() {
                return s;
            }
        } else {
            let mut v = Vec::with_capacity(1);
            take(class, 1, &mut v, mode);
            if let Some(s) = v.pop() {
                return s;
            }
        }
        crate::diag::fatal(format_args!("out of memory: cannot map a goroutine stack"));
    }

    /// Takes back the stack of an exited goroutine.
    pub(crate) fn free(&mut self, class: u16, s: Stack) {
        if crate::san::maybe(crate::san::TSAN) && crate::san::active() & crate::san::TSAN != 0 {
            quarantine(class, s);
            return;
        }
        if class != 0 {
            let _errno = sys::ErrnoGuard::new();
            give(class, core::iter::once(s));
            unreserve_class(class);
            return;
        }
        self.stacks.push(s);
        if self.stacks.len() > CACHE_MAX {
            let keep = CACHE_MAX - BATCH;
            // Hand out the oldest (coldest) ones, keep the hot top.
            let _errno = sys::ErrnoGuard::new();
            let moved: Vec<Stack> = self.stacks.drain(..self.stacks.len() - keep).collect();
            give(0, moved.into_iter());
        }
    }
}

/// Stacks a TSan program keeps out of use after their goroutine exited.
const TSAN_QUARANTINE: usize = 1024;

static QUARANTINE: Mutex<std::collections::VecDeque<(u16, Stack)>> =
    Mutex::new(std::collections::VecDeque::new());

/// Under ThreadSanitizer, a stack goes back into use only after 1024 more
/// goroutines exited. A reused stack carries a happens-before edge from its
/// previous goroutine to the next (their frames share addresses; without
/// it TSan reports false races on escaped locals), and that edge would
/// hide real races between two goroutines that happened to run one after
/// the other on the same stack: the quarantine keeps those two far apart.
#[cold]
fn quarantine(class: u16, s: Stack) {
    let _errno = sys::ErrnoGuard::new();
    let out = {
        let mut q = QUARANTINE.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back((class, s));
        if q.len() > TSAN_QUARANTINE {
            q.pop_front()
        } else {
            None
        }
    };
    if let Some((class, s)) = out {
        give(class, core::iter::once(s));
        if class != 0 {
            unreserve_class(class);
        }
    }
}

/// Whether the global pools hold enough dirty stacks to be worth trimming.
pub(crate) fn trim_wanted() -> bool {
    DIRTY.load(Relaxed) > DIRTY_KEEP
}

/// Gives the memory of dirty stacks beyond the bound back to the kernel.
/// Returns how many stacks were trimmed.
pub(crate) fn trim() -> usize {
    let mut total = 0;
    let nclasses = pools().classes.len();
    for class in 0..nclasses {
        let (mut victims, slot) = {
            let mut p = pools();
            let c = &mut p.classes[class];
            if c.dirty.len() <= DIRTY_KEEP / nclasses.max(1) {
                continue;
            }
            let keep = DIRTY_KEEP / nclasses.max(1);
            let n = c.dirty.len() - keep;
            // The oldest entries (front) are the coldest.
            let v: Vec<Stack> = c.dirty.drain(..n).collect();
            DIRTY.fetch_sub(n, Relaxed);
            (v, c.slot)
        };
        victims.sort_unstable_by_key(|s| s.lo());
        let mut i = 0;
        while i < victims.len() {
            let start = victims[i].lo();
            let mut end = victims[i].hi;
            let mut j = i + 1;
            while j < victims.len()
                && victims[j].lo() == end + GUARD_BYTES
                && victims[j].hi - victims[j].lo() + GUARD_BYTES == slot
            {
                end = victims[j].hi;
                j += 1;
            }
            // SAFETY: [start, end) covers only stacks (and the guards between
            // them) that we own: they are in no pool and no goroutine's.
            // MADV_DONTNEED keeps MADV_GUARD_INSTALL guards and PROT_NONE.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
            i = j;
        }
        for s in victims.iter_mut() {
            if s.has_canary() {
                // SAFETY: the stack is ours; DONTNEED zeroed its canary.
                unsafe { (s.lo() as *mut usize).write(CANARY) };
            }
        }
        total += victims.len();
        let mut p = pools();
        p.classes[class].clean.extend(victims);
    }
    total
}
