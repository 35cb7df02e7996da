//! The goroutine control block (`G`), its allocator and goroutine ids.
//!
//! Gs are carved from slabs that are never freed (as in Go), recycled
//! through per-thread caches and a global free list. A G is small (two
//! cache lines) and separate from the stack: a goroutine that is spawned
//! but has not run yet holds a G and nothing else.
//!
//! Slabs are cut from 2 MiB regions mapped for them. The first region uses
//! 4 KiB pages (a program with a few goroutines commits only the slabs it
//! touched); later ones are 2 MiB aligned and ask for transparent huge
//! pages (`MADV_HUGEPAGE`): a program with a hundred thousand goroutines
//! walks their Gs in every wake-up chain and run queue, and with 4 KiB
//! pages each G visited is a TLB miss (1M Gs are 128 MiB, 32k pages; the
//! TLB holds ~1.5k). A region is as dense as the Gs in it, so huge pages
//! cost no memory beyond the last, partly used region.

use crate::stack::Stack;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Mutex;

/// A field owned by whoever currently owns the G: the thread running it,
/// or the thread that holds it outside every queue (spawning, waking,
/// reclaiming). Ownership moves through the run queues and the park
/// handshake, which synchronize (release/acquire), so plain accesses by
/// the current owner never race.
#[repr(transparent)]
pub(crate) struct Owned<T: Copy>(UnsafeCell<T>);

// SAFETY: see the type's documentation: accesses are serialized by the
// ownership protocol of G, whose hand-offs are release/acquire pairs.
unsafe impl<T: Copy + Send> Sync for Owned<T> {}

impl<T: Copy> Owned<T> {
    pub(crate) const fn new(v: T) -> Self {
        Owned(UnsafeCell::new(v))
    }
    /// # Safety
    /// The caller owns the G this field belongs to.
    #[inline(always)]
    pub(crate) unsafe fn get(&self) -> T {
        // SAFETY: the caller owns the G, so nobody writes concurrently.
        unsafe { *self.0.get() }
    }
    /// # Safety
    /// The caller owns the G this field belongs to.
    #[inline(always)]
    pub(crate) unsafe fn set(&self, v: T) {
        // SAFETY: the caller owns the G, so nobody reads or writes concurrently.
        unsafe { *self.0.get() = v }
    }
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.get()
    }
}

/// Park handshake states (see `sched::ready` and `park`).
pub(crate) const RUNNING: u32 = 0;
pub(crate) const PARKING: u32 = 1;
pub(crate) const PARKED: u32 = 2;
pub(crate) const NOTIFIED: u32 = 3;

/// What a goroutine is doing, for dumps and leak reports.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Status {
    Free = 0,
    Runnable = 1,
    Running = 2,
    Waiting = 3,
}

/// Why a goroutine waits.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WaitReason {
    None = 0,
    Sleep = 1,
    Mutex = 2,
    RwMutex = 3,
    WaitGroup = 4,
    Once = 5,
    Other = 6,
}

impl WaitReason {
    pub(crate) fn from_u8(v: u8) -> WaitReason {
        match v {
            1 => WaitReason::Sleep,
            2 => WaitReason::Mutex,
            3 => WaitReason::RwMutex,
            4 => WaitReason::WaitGroup,
            5 => WaitReason::Once,
            6 => WaitReason::Other,
            _ => WaitReason::None,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::Sleep => "sleep",
            WaitReason::Mutex => "mutex",
            WaitReason::RwMutex => "rwmutex",
            WaitReason::WaitGroup => "waitgroup",
            WaitReason::Once => "once",
            WaitReason::Other => "park",
        }
    }
}

/// Hook run when a goroutine's function has returned, after it stopped
/// counting in `go_num_goroutine` (used by `go_waitgroup_go`).
pub(crate) type ExitFn = unsafe fn(usize);

/// The goroutine control block.
#[repr(C, align(64))]
pub(crate) struct G {
    /// Saved stack pointer while not running (written by the switch).
    pub sp: Owned<usize>,
    /// Park handshake: RUNNING, PARKING, PARKED, NOTIFIED.
    pub state: AtomicU32,
    /// `Status` as u8, read racily by dumps.
    pub status: AtomicU8,
    /// `WaitReason` as u8, read racily by dumps.
    pub reason: AtomicU8,
    /// Stack size class (0 = default).
    pub class: Owned<u16>,
    pub id: AtomicU64,
    /// The user's function (an `EntryFn`), readable by dumps.
    pub entry: AtomicUsize,
    pub arg: Owned<*mut libc::c_void>,
    pub stack: Owned<Stack>,
    /// malloc'd copy of the name given to go_spawn_ex, or null.
    pub name: AtomicUsize,
    /// The goroutine's ThreadSanitizer fiber (0 without TSan).
    pub fiber: Owned<usize>,
    /// What the goroutine's next wake-up carries: while it goes to sleep,
    /// its deadline (CLOCK_MONOTONIC ns, for the timer it arms once off
    /// its stack); while parked on a key, the token its waker leaves
    /// (park.rs). A goroutine never does both at once, and the field is
    /// read right after each, so one word serves both (G stays 128 B).
    pub wait_word: Owned<u64>,
    pub on_exit: Owned<Option<ExitFn>>,
    pub on_exit_arg: Owned<usize>,
    /// Address of the object waited on, for dumps.
    pub wait_obj: AtomicUsize,
    /// When the wait began (coarse monotonic ns), for dumps.
    pub wait_since: AtomicU64,
    /// Its place in a wait queue while parked on a key (park.rs).
    pub link: crate::park::Link,
}

const _: () = assert!(core::mem::size_of::<G>() == 128);

impl G {
    const fn new() -> G {
        G {
            sp: Owned::new(0),
            state: AtomicU32::new(RUNNING),
            status: AtomicU8::new(Status::Free as u8),
            reason: AtomicU8::new(0),
            class: Owned::new(0),
            id: AtomicU64::new(0),
            entry: AtomicUsize::new(0),
            arg: Owned::new(ptr::null_mut()),
            stack: Owned::new(Stack::EMPTY),
            name: AtomicUsize::new(0),
            fiber: Owned::new(0),
            wait_word: Owned::new(0),
            on_exit: Owned::new(None),
            on_exit_arg: Owned::new(0),
            wait_obj: AtomicUsize::new(0),
            wait_since: AtomicU64::new(0),
            link: crate::park::Link::new(),
        }
    }

    /// Whether this goroutine is back from (or still in) a park or a sleep:
    /// its wait reason is set until it runs again ([`crate::runtime`]'s
    /// `end_wait`). Such a goroutine has a stack, likely cold.
    #[inline(always)]
    pub(crate) fn resumes_from_wait(&self) -> bool {
        self.reason.load(Relaxed) != WaitReason::None as u8
    }

    pub(crate) fn set_status(&self, s: Status) {
        self.status.store(s as u8, Relaxed);
    }

    pub(crate) fn get_status(&self) -> Status {
        match self.status.load(Relaxed) {
            1 => Status::Runnable,
            2 => Status::Running,
            3 => Status::Waiting,
            _ => Status::Free,
        }
    }
}

/// A G pointer that may cross threads (through run queues).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct GPtr(pub *mut G);
// SAFETY: a GPtr is a handle; whoever holds it in a queue or in hand owns
// the G (see `Owned`), and hand-offs synchronize.
unsafe impl Send for GPtr {}

const SLAB: usize = 512;
const TCACHE_MAX: usize = 256;
const TBATCH: usize = 128;

/// Bytes of one region of slabs (a huge page).
const REGION: usize = 2 << 20;
const SLAB_BYTES: usize = SLAB * core::mem::size_of::<G>();
const _: () = assert!(REGION % SLAB_BYTES == 0);

struct Slabs {
    free: Vec<GPtr>,
    slabs: Vec<GPtr>,
    /// The unused part `[next, end)` of the current region (0, 0 before
    /// the first).
    next: usize,
    end: usize,
}

static GLOBAL: Mutex<Slabs> = Mutex::new(Slabs {
    free: Vec::new(),
    slabs: Vec::new(),
    next: 0,
    end: 0,
});

fn global() -> std::sync::MutexGuard<'static, Slabs> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
const ID_BATCH: u64 = 16;

/// A thread's cache of free Gs and goroutine ids (in a worker's `Local`, or
/// in a plain thread's thread-local context). Given back when dropped.
pub(crate) struct GCache {
    free: Vec<GPtr>,
    id_next: u64,
    id_end: u64,
}

impl Drop for GCache {
    fn drop(&mut self) {
        if !self.free.is_empty() {
            global().free.append(&mut self.free);
        }
    }
}

impl GCache {
    pub(crate) const fn new() -> GCache {
        GCache {
            free: Vec::new(),
            id_next: 0,
            id_end: 0,
        }
    }

    /// A fresh goroutine id, never reused in the process. Ids are handed to
    /// threads in batches (as Go does), so they increase per thread.
    #[inline]
    pub(crate) fn new_id(&mut self) -> u64 {
        if self.id_next == self.id_end {
            self.id_next = NEXT_ID.fetch_add(ID_BATCH, Relaxed);
            self.id_end = self.id_next + ID_BATCH;
        }
        self.id_next += 1;
        self.id_next - 1
    }

    /// Allocates a G (status Free, fields to be set by the caller), or None
    /// when memory runs out.
    #[inline]
    pub(crate) fn alloc(&mut self) -> Option<*mut G> {
        if let Some(g) = self.free.pop() {
            return Some(g.0);
        }
        self.refill()
    }

    #[cold]
    fn refill(&mut self) -> Option<*mut G> {
        let _errno = crate::sys::ErrnoGuard::new();
        {
            let mut gl = global();
            let n = gl.free.len().min(TBATCH);
            let at = gl.free.len() - n;
            self.free.extend(gl.free.drain(at..));
        }
        if self.free.is_empty() {
            self.free = new_slab()?;
        }
        self.free.pop().map(|g| g.0)
    }

    /// Returns a G to the allocator.
    ///
    /// # Safety
    /// The G is dead: no queue, waiter or timer refers to it any more.
    #[inline]
    pub(crate) unsafe fn free(&mut self, g: *mut G) {
        // SAFETY: the caller owns the dead G.
        unsafe { (*g).set_status(Status::Free) };
        self.free.push(GPtr(g));
        if self.free.len() > TCACHE_MAX {
            self.spill();
        }
    }

    #[cold]
    fn spill(&mut self) {
        let _errno = crate::sys::ErrnoGuard::new();
        let at = self.free.len() - TBATCH;
        let moved: Vec<GPtr> = self.free.drain(at..).collect();
        global().free.extend(moved);
    }
}

/// Maps a region for slabs: the first with small pages, the others 2 MiB
/// aligned with huge pages asked for (see the module's documentation).
fn map_region(huge: bool) -> Option<usize> {
    let len = if huge { 2 * REGION } else { REGION };
    // SAFETY: a fresh private anonymous mapping; no existing memory is
    // affected.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let start = p as usize;
    let at = if huge {
        (start + REGION - 1) & !(REGION - 1)
    } else {
        start
    };
    // SAFETY: the ranges below lie inside the mapping made above, which
    // nothing uses yet: the unaligned head and tail are unmapped, and the
    // advice only chooses the page size.
    unsafe {
        if huge {
            if at > start {
                libc::munmap(p, at - start);
            }
            if at + REGION < start + len {
                libc::munmap(
                    (at + REGION) as *mut libc::c_void,
                    start + len - at - REGION,
                );
            }
        }
        // Best effort: without THP (or with it set to `never`) the region
        // simply has small pages. The first region refuses huge pages even
        // when THP is `always`, so that a small program stays small.
        let advice = if huge {
            libc::MADV_HUGEPAGE
        } else {
            libc::MADV_NOHUGEPAGE
        };
        libc::madvise(at as *mut libc::c_void, REGION, advice);
    }
    Some(at)
}

fn new_slab() -> Option<Vec<GPtr>> {
    let mut v = Vec::new();
    v.try_reserve_exact(SLAB).ok()?;
    let p = {
        let mut gl = global();
        if gl.next == gl.end {
            let at = map_region(gl.end != 0)?;
            // Gs hold the arguments of goroutines that have not run yet:
            // memory referenced only from there is not leaked. Registered
            // before the region is published: another thread may cut the
            // next slab from it as soon as we drop the lock. (The runtime's
            // start has already looked the sanitizer up: no dlsym here.)
            crate::san::lsan_root(at, REGION);
            gl.next = at;
            gl.end = at + REGION;
        }
        let p = gl.next as *mut G;
        gl.next += SLAB_BYTES;
        p
    };
    for i in 0..SLAB {
        // SAFETY: i < SLAB: inside the slab cut above, which nobody else
        // was given; write initializes the slot.
        let gi = unsafe { p.add(i) };
        // SAFETY: as above.
        unsafe { gi.write(G::new()) };
        v.push(GPtr(gi));
    }
    global().slabs.push(GPtr(p));
    Some(v)
}

/// Calls `f` for every G ever allocated (live or free). For dumps: the
/// fields are read racily through atomics.
pub(crate) fn for_each(mut f: impl FnMut(&G)) {
    let slabs = global();
    for s in slabs.slabs.iter() {
        for i in 0..SLAB {
            // SAFETY: slabs are never freed and every slot was initialized.
            f(unsafe { &*s.0.add(i) });
        }
    }
}

/// As [`for_each`], for signal handlers: gives up (returns false) instead
/// of waiting if the slab list is locked, and never allocates.
pub(crate) fn try_for_each(mut f: impl FnMut(&G)) -> bool {
    let Ok(slabs) = GLOBAL.try_lock() else {
        return false;
    };
    for s in slabs.slabs.iter() {
        for i in 0..SLAB {
            // SAFETY: slabs are never freed and every slot was initialized.
            f(unsafe { &*s.0.add(i) });
        }
    }
    true
}
