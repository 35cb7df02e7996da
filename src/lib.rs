//! # goro: Go's goroutines and `sync` package for C and C++
//!
//! A C-ABI library (`libgoro.so`, `libgoro.a`, header `include/goro.h`)
//! giving C programs Go's concurrency model: stackful goroutines that cost a
//! few KiB, multiplexed onto GOMAXPROCS worker threads by a work-stealing
//! scheduler, and WaitGroup, Mutex, RWMutex and Once with Go's semantics,
//! usable from goroutines and plain threads alike.
//!
//! ## The design in a page
//!
//! Data flows one way: [`ffi`] -> `sync` -> [`park`] -> [`runtime`] ->
//! `arch` / [`stack`].
//!
//! * `arch`: the context switch, hand-written assembly per architecture
//!   (`src/arch/*.S`, frame diagrams inside). A switch saves exactly the
//!   callee-saved registers (plus MXCSR/x87 control words on x86_64), swaps
//!   stack pointers and carries one word to the other side: the *transfer*.
//! * [`stack`]: stacks reserved with `mmap(MAP_NORESERVE)` in 32 MiB slabs,
//!   committed as touched, guarded by `MADV_GUARD_INSTALL` (no kernel
//!   mapping per guard, so a million guarded stacks fit under the default
//!   `vm.max_map_count`), pooled per worker, trimmed when idle.
//! * [`runtime`]: the scheduler. A goroutine that blocks switches straight
//!   to the next runnable goroutine of its worker; whatever must happen once
//!   it is off its stack (re-queue, publish "parked", free the stack) is the
//!   transfer, executed by whoever resumes. Nobody can therefore run a
//!   goroutine on a stack it is still using.
//! * [`park`]: address-keyed wait queues; a waiter is a goroutine (parked
//!   through the handshake above) or a thread (futex), its node on its own
//!   stack. The sync types are Go's algorithms on top of it.
//! * `diag`: fatal errors in Go's words, the stack-overflow handler.
//!
//! The traps this design answers (thread-locals across a switch, woken
//! before switched out, unwinding, exiting goroutines, idle CPU, signals,
//! process exit, ABI details) are each pinned by a test; see README.md.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod arch;
mod config;
mod diag;
pub mod ffi;
mod lock;
mod park;
mod runtime;
mod san;
mod stack;
pub mod sync;
mod sys;

pub use ffi::*;

#[global_allocator]
static ALLOC: san::Alloc = san::Alloc;

/// Internal entry points for goro's own benchmarks (`benches/`); not part
/// of the C API and not stable.
#[doc(hidden)]
pub mod __bench {
    /// Switches between the calling thread and a bare context on a private
    /// stack `n` round trips (2n raw switches), outside the scheduler.
    pub fn raw_switch_roundtrips(n: u64) {
        crate::arch::raw_switch_roundtrips(n)
    }
}

/// Internal hooks for goro's own tests (`tests/`); not part of the C API
/// and not stable.
#[doc(hidden)]
pub mod __test {
    use core::sync::atomic::Ordering::Relaxed;

    /// Kernel tid of the worker whose state this thread sees through the
    /// runtime's thread-local slot (0 on a plain thread). After any switch
    /// it must equal [`gettid`]: the check for thread-local state cached
    /// across a migration.
    pub fn worker_tid_seen() -> i64 {
        let l = crate::runtime::local();
        if l.is_null() {
            0
        } else {
            // SAFETY: a non-null slot points at this thread's Local.
            unsafe { (*l).w.tid.load(Relaxed) }
        }
    }

    /// The calling thread's kernel tid.
    pub fn gettid() -> i64 {
        crate::sys::gettid()
    }

    /// Parks the caller (goroutine or thread) on `key` until [`unpark_one`]
    /// or [`unpark_all`]; returns the waker's token.
    pub fn park(key: usize) -> usize {
        crate::park::park(key, || true, crate::runtime::g::WaitReason::Other, false)
            .unwrap_or(usize::MAX)
    }

    /// Parks the caller on `key` if `validate`, run under the queue lock,
    /// returns true; returns whether it parked.
    pub fn park_if(key: usize, validate: impl FnOnce() -> bool) -> bool {
        crate::park::park(key, validate, crate::runtime::g::WaitReason::Other, false).is_some()
    }

    /// Wakes one waiter on `key` with `token`; returns whether one was there.
    pub fn unpark_one(key: usize, token: usize) -> bool {
        crate::park::unpark_one(key, |_| token).unparked
    }

    /// Wakes every waiter on `key`; returns how many.
    pub fn unpark_all(key: usize, token: usize) -> usize {
        crate::park::unpark_all(key, token)
    }

    /// Parks the caller on `key` if `validate` returns true, at the front
    /// of the queue when `lifo`; returns the token, or None if it did not
    /// park.
    pub fn park_at(key: usize, lifo: bool, validate: impl FnOnce() -> bool) -> Option<usize> {
        crate::park::park(key, validate, crate::runtime::g::WaitReason::Other, lifo)
    }

    /// Wakes up to `max` waiters on `key` with `token`; returns how many.
    pub fn unpark_n(key: usize, max: usize, token: usize) -> usize {
        crate::park::unpark_n(key, max, |_| token)
    }

    /// A key other than `key` whose queue shares `key`'s bucket.
    pub fn key_in_same_bucket(key: usize) -> usize {
        crate::park::key_in_same_bucket(key)
    }
}
