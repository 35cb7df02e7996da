//! The parking layer: wait queues keyed by address, for goroutines and
//! plain threads alike. Every blocking call in goro ends up here.
//!
//! * A fixed table of buckets (cache-line sized: a lock and a list of
//!   per-key queues). An address hashes to a bucket; each
//!   distinct key waited on in a bucket has its own FIFO queue, so waking
//!   one key never walks another key's waiters (Go's `sema.go` keeps a treap
//!   per bucket for the same reason; a list suffices at this table size).
//! * A waiter node lives on the waiting goroutine's (or thread's) own stack:
//!   parking allocates nothing. A goroutine waiter is woken with
//!   `runtime::ready` (the park handshake makes the wake-before-switched-out
//!   race impossible: see runtime/mod.rs); a thread waiter sleeps on a futex
//!   word inside its node.
//! * `park` takes a `validate` closure run under the bucket lock: the
//!   caller re-checks the object's state there, so a wake between "I must
//!   wait" and "I am queued" is never lost.
//! * Wakers never touch a node after waking it (its stack frame may be gone
//!   at once), and never dereference the key: a sync object may be freed by
//!   the woken side as soon as it returns (WaitGroup on the stack).

use crate::lock::RawLock;
use crate::runtime::{self, g::WaitReason, g::G, g::PARKING};
use crate::sys;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};

const BUCKETS: usize = 4096;

/// Plain threads blocked in the parking layer, and how many thread wake-ups
/// happened (for the deadlock detector). Both changed by whoever makes the
/// change happen: the count drops when a waker dequeues a thread, before
/// the thread runs again, so it never counts a thread that is already
/// awake as blocked.
static BLOCKED_THREADS: AtomicUsize = AtomicUsize::new(0);
static THREAD_WAKES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// (threads blocked in goro now, thread wake-ups so far).
pub(crate) fn thread_waits() -> (usize, u64) {
    (BLOCKED_THREADS.load(SeqCst), THREAD_WAKES.load(SeqCst))
}

#[repr(C, align(64))]
struct Bucket {
    lock: RawLock,
    /// First queue head (a Waiter), linked through `next_key`.
    queues: UnsafeCell<*mut Waiter>,
}

// SAFETY: `queues` and every node reachable from it are only accessed with
// `lock` held.
unsafe impl Sync for Bucket {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_BUCKET: Bucket = Bucket {
    lock: RawLock::new(),
    queues: UnsafeCell::new(ptr::null_mut()),
};
static TABLE: [Bucket; BUCKETS] = [EMPTY_BUCKET; BUCKETS];

fn bucket(key: usize) -> &'static Bucket {
    // Fibonacci hashing of the address; drop the low bits that alignment
    // makes equal.
    let h = (key >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 12);
    &TABLE[h % BUCKETS]
}

/// A waiter's place in its key's queue. A goroutine's link lives in its
/// `G`, a thread's in its [`Waiter`] node. Queues are chained through
/// links, so waking a long queue of goroutines walks their control blocks
/// (dense slabs, 32 to a page) instead of one stack page per waiter: with
/// a million waiters (W2), the walk over their stacks cost ~300 ns a
/// waiter (a TLB miss and a cache miss each, one after the other), the
/// walk over their Gs ~30 ns.
#[repr(C)]
pub(crate) struct Link {
    /// Next waiter on the same key.
    next: UnsafeCell<*mut Link>,
    /// The waiter's node, with [`IN_G`] set for a goroutine's link.
    node: UnsafeCell<usize>,
}

// SAFETY: a link is only accessed by the bucket-lock holder while queued,
// by the waker that detached it, and by its waiter before it queues.
unsafe impl Sync for Link {}

/// Tag in `Link::node`: the link is the `link` field of a `G`.
const IN_G: usize = 1;

impl Link {
    pub(crate) const fn new() -> Link {
        Link {
            next: UnsafeCell::new(ptr::null_mut()),
            node: UnsafeCell::new(0),
        }
    }
}

/// The goroutine whose `G` holds link `l`, or null for a thread's link.
///
/// # Safety
/// `l` is a queued or just-detached link.
#[inline(always)]
unsafe fn g_of(l: *mut Link) -> *mut G {
    // SAFETY: per the contract the link is alive; a tagged link is the
    // `link` field of a G.
    unsafe {
        if *(*l).node.get() & IN_G != 0 {
            l.byte_sub(core::mem::offset_of!(G, link)).cast()
        } else {
            ptr::null_mut()
        }
    }
}

/// The node of the waiter whose link is `l`.
///
/// # Safety
/// `l` is a queued link (its waiter is still parked).
#[inline(always)]
unsafe fn node_of(l: *mut Link) -> *mut Waiter {
    // SAFETY: per the contract.
    unsafe { (*(*l).node.get() & !IN_G) as *mut Waiter }
}

/// A key other than `key` that hashes to the same bucket (for tests of
/// several queues in one bucket).
pub(crate) fn key_in_same_bucket(key: usize) -> usize {
    let b = bucket(key) as *const Bucket;
    (1..)
        .map(|i| key.wrapping_add(i * 8))
        .find(|&k| ptr::eq(bucket(k), b))
        .unwrap_or(key)
}

/// A parked goroutine or thread. Lives on the waiter's stack.
#[repr(C)]
struct Waiter {
    /// The queue link of a thread waiter (a goroutine uses its G's).
    link: Link,
    key: usize,
    /// Last waiter on the same key (valid in the queue head only).
    tail: *mut Link,
    /// Next queue head in the bucket (valid in the queue head only).
    next_key: *mut Waiter,
    /// Waiters in this key's queue (valid in the queue head only): lets a
    /// release of at least that many detach the queue in O(1).
    count: usize,
    /// The goroutine, or null for a thread (which sleeps on `futex`).
    g: *mut G,
    futex: AtomicU32,
    /// A thread's token: written by the waker before the wake-up, read by
    /// the thread after (a goroutine's is in its G).
    token: UnsafeCell<usize>,
}

impl Waiter {
    /// This waiter's queue link.
    fn link(&mut self) -> *mut Link {
        if self.g.is_null() {
            &mut self.link
        } else {
            // SAFETY: g is the parking goroutine, alive.
            unsafe { &raw mut (*self.g).link }
        }
    }
}

/// What `unpark_one` found, passed to its callback under the bucket lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UnparkResult {
    /// A waiter was dequeued.
    pub unparked: bool,
}

impl Bucket {
    /// # Safety: lock held.
    unsafe fn find(&self, key: usize) -> (*mut Waiter, *mut *mut Waiter) {
        // SAFETY: lock held; nodes in the list are alive (their owners are
        // parked until dequeued).
        unsafe {
            let mut link: *mut *mut Waiter = self.queues.get();
            while !(*link).is_null() {
                if (**link).key == key {
                    return (*link, link);
                }
                link = &mut (**link).next_key;
            }
            (ptr::null_mut(), link)
        }
    }

    /// Makes the waiter of link `first` the head of a queue that continues
    /// the one headed by `old` (tail and neighbours kept) with `count`
    /// waiters, in `old`'s place `slot`. # Safety: lock held.
    unsafe fn new_head(old: *mut Waiter, first: *mut Link, count: usize, slot: *mut *mut Waiter) {
        // SAFETY: lock held; `first` is queued, so its node is alive.
        unsafe {
            let h = node_of(first);
            (*h).tail = (*old).tail;
            (*h).next_key = (*old).next_key;
            (*h).count = count;
            *slot = h;
        }
    }

    /// # Safety: lock held; w alive until dequeued.
    unsafe fn enqueue(&self, w: *mut Waiter, lifo: bool) {
        // SAFETY: lock held.
        unsafe {
            let l = (*w).link();
            *(*l).node.get() = w as usize | if (*w).g.is_null() { 0 } else { IN_G };
            *(*l).next.get() = ptr::null_mut();
            let (head, slot) = self.find((*w).key);
            if head.is_null() {
                (*w).tail = l;
                (*w).next_key = ptr::null_mut();
                (*w).count = 1;
                *slot = w;
            } else if lifo {
                // w becomes the queue head.
                *(*l).next.get() = (*head).link();
                Self::new_head(head, l, (*head).count + 1, slot);
            } else {
                *(*(*head).tail).next.get() = l;
                (*head).tail = l;
                (*head).count += 1;
            }
        }
    }

    /// Dequeues the first waiter of `key`. # Safety: lock held.
    unsafe fn dequeue(&self, key: usize) -> *mut Link {
        // SAFETY: lock held.
        unsafe {
            let (head, slot) = self.find(key);
            if head.is_null() {
                return ptr::null_mut();
            }
            let first = (*head).link();
            let next = *(*first).next.get();
            if next.is_null() {
                *slot = (*head).next_key;
            } else {
                Self::new_head(head, next, (*head).count - 1, slot);
            }
            first
        }
    }

    /// Detaches the first `max` (>= 1) waiters of `key` (all of them in
    /// O(1) when `max` is at least their number); returns the chain
    /// (linked by `next`) and its length. # Safety: lock held.
    unsafe fn dequeue_n(&self, key: usize, max: usize) -> (*mut Link, usize) {
        // SAFETY: lock held.
        unsafe {
            let (head, slot) = self.find(key);
            if head.is_null() {
                return (ptr::null_mut(), 0);
            }
            let first = (*head).link();
            let count = (*head).count;
            if max >= count {
                // All of them: O(1).
                *slot = (*head).next_key;
                return (first, count);
            }
            let mut last = first;
            for _ in 1..max {
                last = *(*last).next.get();
                debug_assert!(!last.is_null(), "park: queue shorter than its count");
            }
            let rest = *(*last).next.get();
            Self::new_head(head, rest, count - max, slot);
            *(*last).next.get() = ptr::null_mut();
            (first, max)
        }
    }
}

/// Hands `token` to the dequeued waiter of link `l`: a thread is woken
/// with it; a goroutine gets it in its G and is returned, for the caller
/// to make runnable. The token is where [`park`] reads it back.
///
/// # Safety
/// `l` was dequeued by the caller and not woken yet.
#[inline(always)]
unsafe fn deliver(l: *mut Link, token: usize) -> *mut G {
    // SAFETY: the waiter is still blocked (it waits for exactly this wake),
    // so its link and node are alive until woken.
    unsafe {
        let g = g_of(l);
        if g.is_null() {
            wake_thread(node_of(l), token);
        } else {
            (*g).wait_word.set(token as u64);
        }
        g
    }
}

/// Wakes a dequeued waiter after storing its token. Does not touch the
/// link or node afterwards. A goroutine goes to this worker's run-next
/// slot (it is likely what the waker waits for next, as in Go's
/// semrelease).
///
/// # Safety
/// `l` was dequeued by the caller and not woken yet.
unsafe fn wake(l: *mut Link, token: usize) {
    // SAFETY: forwarded contract.
    let g = unsafe { deliver(l, token) };
    if !g.is_null() {
        runtime::count_gwakes(1);
        runtime::ready(g);
    }
}

/// Wakes a dequeued thread waiter with `token`.
///
/// # Safety
/// `w` is a dequeued thread waiter, not woken yet.
unsafe fn wake_thread(w: *mut Waiter, token: usize) {
    BLOCKED_THREADS.fetch_sub(1, SeqCst);
    THREAD_WAKES.fetch_add(1, SeqCst);
    // SAFETY: the node is alive until the store to `futex` below releases
    // the waiter.
    let f: *const AtomicU32 = unsafe {
        *(*w).token.get() = token;
        &(*w).futex
    };
    // SAFETY: as above.
    unsafe { (*f).store(1, Release) };
    // The thread may have returned already; futex_wake only uses the
    // address as a key.
    sys::futex_wake(f, 1);
}

/// Parks the calling goroutine (or thread) on `key` unless `validate`,
/// run under the bucket lock, returns false. Returns the token passed by
/// the waker, or None if validation failed (nothing was parked).
///
/// `lifo` queues at the front (Go's semacquire with lifo, for waiters that
/// were woken before and lost the race again). `reason` and the key show
/// up in goroutine dumps.
pub(crate) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    reason: WaitReason,
    lifo: bool,
) -> Option<usize> {
    let _errno = sys::ErrnoGuard::new();
    let g = runtime::current_g();
    if g.is_null() {
        // A plain thread about to block: make sure the workers (and with
        // them the deadlock detector) exist.
        runtime::rt();
    }
    let mut node = Waiter {
        link: Link::new(),
        key,
        tail: ptr::null_mut(),
        next_key: ptr::null_mut(),
        count: 0,
        g,
        futex: AtomicU32::new(0),
        token: UnsafeCell::new(0),
    };
    let w: *mut Waiter = &mut node;
    let b = bucket(key);
    b.lock.lock();
    if !validate() {
        b.lock.unlock();
        return None;
    }
    if g.is_null() {
        BLOCKED_THREADS.fetch_add(1, SeqCst);
    } else {
        runtime::count_gpark();
        // SAFETY: g is the goroutine running on this thread.
        unsafe {
            runtime::begin_wait(g, reason, key);
            (*g).state.store(PARKING, Relaxed);
        }
    }
    // SAFETY: lock held; the node stays alive until we are woken, since we
    // do not return before that.
    unsafe { b.enqueue(w, lifo) };
    b.lock.unlock();
    if g.is_null() {
        // SAFETY: the node is ours.
        let f = unsafe { &(*w).futex };
        while f.load(Acquire) == 0 {
            sys::futex_wait(f, 0, None);
        }
    } else {
        // SAFETY: g is running here, state PARKING published with the node.
        unsafe { runtime::park_current(g) };
    }
    // SAFETY: the waker wrote the token before waking us (release/acquire
    // through the futex word or the goroutine handshake).
    Some(unsafe {
        if g.is_null() {
            *(*w).token.get()
        } else {
            (*g).wait_word.get() as usize
        }
    })
}

/// Wakes the first waiter on `key`. `callback` runs under the bucket lock
/// with what was found and returns the token for the woken waiter (so the
/// caller can update its object's state atomically with the dequeue).
pub(crate) fn unpark_one(key: usize, callback: impl FnOnce(UnparkResult) -> usize) -> UnparkResult {
    let _errno = sys::ErrnoGuard::new();
    let b = bucket(key);
    b.lock.lock();
    // SAFETY: lock held.
    let w = unsafe { b.dequeue(key) };
    let res = UnparkResult {
        unparked: !w.is_null(),
    };
    let token = callback(res);
    b.lock.unlock();
    if !w.is_null() {
        // SAFETY: dequeued by us above.
        unsafe { wake(w, token) };
    }
    res
}

/// Wakes every waiter on `key` with `token`; returns how many. A single
/// woken goroutine runs next on this worker, as with [`unpark_n`].
pub(crate) fn unpark_all(key: usize, token: usize) -> usize {
    let _errno = sys::ErrnoGuard::new();
    let b = bucket(key);
    b.lock.lock();
    // SAFETY: lock held.
    let (w, n) = unsafe { b.dequeue_n(key, usize::MAX) };
    b.lock.unlock();
    // SAFETY: the chain was detached by us above.
    unsafe { wake_detached(w, n, token) };
    n
}

/// Wakes a detached chain of `n` waiters: a single one as [`wake`] does
/// (a goroutine runs next on this worker), more through [`wake_chain`].
///
/// # Safety
/// The chain was detached by the caller and none of it woken yet.
unsafe fn wake_detached(w: *mut Link, n: usize, token: usize) {
    // SAFETY: forwarded contract.
    unsafe {
        if n == 1 {
            wake(w, token);
        } else {
            wake_chain(w, token);
        }
    }
}

/// Wakes up to `max` waiters on `key`, oldest first, under one acquisition
/// of the queue lock. `callback` runs under the lock with the number
/// dequeued and returns the token they all receive (so the caller can
/// account for the waiters it could not find, atomically). Returns the
/// number woken.
///
/// A single woken goroutine goes to this worker's run-next slot, as in
/// Go's `goready`: it is most likely what the waker's worker should run
/// next (a writer the last reader let in, a mutex waiter, the one waiter
/// of a WaitGroup). Queued at the back instead, it waits behind every
/// runnable goroutine of the worker, and each of those may find the
/// object still taken and park too: RWMutex W6 measured 100 ns per
/// operation that way, 47 with run-next (1.28M parks -> 0.40M).
// Used by sync; loom builds replace sync's parking with a model.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn unpark_n(key: usize, max: usize, callback: impl FnOnce(usize) -> usize) -> usize {
    let _errno = sys::ErrnoGuard::new();
    let b = bucket(key);
    b.lock.lock();
    let (w, n) = if max == 0 {
        (ptr::null_mut(), 0)
    } else {
        // SAFETY: lock held.
        unsafe { b.dequeue_n(key, max) }
    };
    let token = callback(n);
    b.lock.unlock();
    // SAFETY: the chain was detached by us above.
    unsafe { wake_detached(w, n, token) };
    n
}

/// Wakes every waiter of a detached chain.
///
/// # Safety
/// The chain was detached by the caller and none of it woken yet.
unsafe fn wake_chain(mut l: *mut Link, token: usize) {
    let mut goroutines = 0;
    while !l.is_null() {
        // SAFETY: read `next` before the wake, after which the link may be
        // reused (the goroutine may run and park again at once).
        unsafe {
            let next = *(*l).next.get();
            crate::arch::prefetch(next as *const u8);
            let g = deliver(l, token);
            if !g.is_null() {
                runtime::ready_batch_one(g);
                goroutines += 1;
                // Put idle workers to work while the rest is still being
                // woken (a million waiters take the waker a while).
                if goroutines % 64 == 1 {
                    runtime::ready_batch_end();
                }
            }
            l = next;
        }
    }
    if goroutines > 0 {
        runtime::count_gwakes(goroutines);
        runtime::ready_batch_end();
    }
}
