//! Go's `sync` package: WaitGroup, Mutex, RWMutex and Once, with Go's
//! algorithms over the parking layer ([`crate::park`]); their C faces are
//! in `ffi/sync.rs`.
//!
//! * [`sema`]: Go's runtime semaphore (`runtime/sema.go`), the one place
//!   where the sync types block. Goroutines park, plain threads sleep on a
//!   futex: the same object may be contended by both.
//! * [`mutex`], [`rwmutex`], [`waitgroup`], [`once`]: Go's state machines,
//!   word for word where C allows (see each module for where it differs
//!   and why: mostly so that an object may be freed as soon as the last
//!   waiter is out, which C programs rely on and Go's garbage collector
//!   makes moot).
//! * [`atomic`]: the facade through which all of them reach atomics,
//!   time, spinning and the caller's identity, so that `loom` can model
//!   them (`loom_tests.rs`, with `loom_park.rs` standing in for the
//!   parking layer).
//!
//! Every type is valid all-zero (a C `static` or `{0}`) and owns nothing:
//! no constructor, no destructor, and (except through `--cfg loom`) no
//! Rust-side construction at all: the C types in `ffi/sync.rs` are cast to
//! these, with equal size and alignment asserted at compile time.
//!
//! Public only as a module name (it shadows the `ffi::sync` glob
//! re-export); everything in it is crate-private.

#![doc(hidden)]

pub(crate) mod atomic;
#[cfg(loom)]
mod loom_park;
#[cfg(all(test, loom))]
mod loom_tests;
pub(crate) mod mutex;
pub(crate) mod once;
pub(crate) mod rwmutex;
pub(crate) mod sema;
pub(crate) mod waitgroup;

pub(crate) use mutex::Mutex;
pub(crate) use once::Once;
pub(crate) use rwmutex::RwMutex;
pub(crate) use waitgroup::WaitGroup;
