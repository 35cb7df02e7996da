//! Every `extern "C"` item of `goro.h`: argument checks, errno mapping,
//! and a call into the core. No logic beyond that.
//!
//! The doc comments here are the header's documentation (cbindgen copies
//! them): they are written for a C reader.

#![allow(non_camel_case_types)]

use crate::runtime;
use core::ffi::{c_char, c_int, c_void};

/// A goroutine's function: `void fn(void *arg)`.
pub type go_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// Options for go_spawn_ex(). Zero-initialize it (`go_attr_t a = {0};`) and
/// set what you need.
#[repr(C)]
pub struct go_attr {
    /// Usable stack size in bytes; 0 means the default (128 KiB, or
    /// `GORO_STACK_SIZE`). Accepted: 16 KiB to 1 GiB, rounded up to whole
    /// pages. Stacks are reserved address space: only the pages a goroutine
    /// touches use memory.
    pub stack_size: usize,
    /// Name shown in goroutine dumps and fatal errors; copied, may be NULL.
    pub name: *const c_char,
}

/// Options for go_spawn_ex(); see struct go_attr.
pub type go_attr_t = go_attr;

fn spawn_common(func: go_fn, arg: *mut c_void, stack_size: usize, name: *const c_char) -> c_int {
    let Some(func) = func else {
        return libc::EINVAL;
    };
    if stack_size != 0
        && !(crate::config::MIN_STACK..=crate::config::MAX_STACK).contains(&stack_size)
    {
        return libc::EINVAL;
    }
    let name_copy = if name.is_null() {
        core::ptr::null_mut()
    } else {
        // SAFETY: the caller passes a NUL-terminated string (documented).
        let p = unsafe { libc::strdup(name) };
        if p.is_null() {
            return libc::ENOMEM;
        }
        p
    };
    match runtime::spawn(runtime::SpawnArgs {
        func,
        arg,
        stack_size,
        name: name_copy,
        on_exit: None,
    }) {
        Ok(()) => 0,
        Err(e) => {
            if !name_copy.is_null() {
                // SAFETY: our own strdup'd copy, not handed over on failure.
                unsafe { libc::free(name_copy.cast()) };
            }
            e
        }
    }
}

/// Starts `fn(arg)` in a new goroutine (Go: `go fn(arg)`).
///
/// Returns 0 on success; `EINVAL` if `fn` is NULL; `EAGAIN` when no address
/// space is left for its stack, `ENOMEM` when no memory is left for its
/// control block. Never aborts. Callable from goroutines and plain threads.
///
/// The goroutine starts with a default stack (128 KiB, `GORO_STACK_SIZE`),
/// committed page by page as it is touched, with a guard below it: an
/// overflow is reported as a fatal error, never silent corruption. Its
/// floating-point environment starts at the defaults (round to nearest,
/// exceptions masked); `errno` starts at 0 and is the goroutine's own
/// across every goro call that parks or migrates it.
///
/// Memory ordering: everything the spawner did before go_spawn happens
/// before `fn` starts.
#[no_mangle]
pub extern "C" fn go_spawn(func: go_fn, arg: *mut c_void) -> c_int {
    spawn_common(func, arg, 0, core::ptr::null())
}

/// As go_spawn(), with options; `attr` may be NULL.
///
/// `attr->stack_size` 0 means the default; otherwise 16 KiB to 1 GiB, else
/// `EINVAL` and no goroutine is started. `attr->name` (copied; may be NULL)
/// shows up in goroutine dumps and fatal errors.
///
/// # Safety
/// `attr` is NULL or points to a go_attr_t whose `name` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn go_spawn_ex(
    func: go_fn,
    arg: *mut c_void,
    attr: *const go_attr_t,
) -> c_int {
    if attr.is_null() {
        return spawn_common(func, arg, 0, core::ptr::null());
    }
    // SAFETY: a non-null attr points at a go_attr_t (documented contract).
    let a = unsafe { &*attr };
    spawn_common(func, arg, a.stack_size, a.name)
}

/// Lets other goroutines run (Go: `runtime.Gosched()`): the calling
/// goroutine goes to the back of its worker's run queue. Returns at once if
/// nothing else is runnable there. On a plain thread: `sched_yield()`.
#[no_mangle]
pub extern "C" fn go_yield() {
    runtime::yield_now()
}

/// Sleeps for `ns` nanoseconds (Go: `time.Sleep`); `ns <= 0` returns at
/// once. A goroutine parks (its worker runs others meanwhile); a plain
/// thread sleeps. The time is measured on CLOCK_MONOTONIC.
#[no_mangle]
pub extern "C" fn go_sleep(ns: i64) {
    runtime::sleep(ns)
}

/// The calling goroutine's id: 1, 2, ... unique in the process and never
/// reused; 0 on a plain thread.
#[no_mangle]
pub extern "C" fn go_id() -> u64 {
    let g = runtime::current_g();
    if g.is_null() {
        0
    } else {
        // SAFETY: the running goroutine's control block.
        unsafe { (*g).id.load(core::sync::atomic::Ordering::Relaxed) }
    }
}

/// Number of goroutines spawned and not yet returned (Go:
/// `runtime.NumGoroutine()`, except that the calling plain thread is not
/// counted and goro has no runtime goroutines of its own). Exact: a
/// goroutine stops counting before anything it does on return (such as the
/// go_waitgroup_go() done), so after a WaitGroup wait over go_waitgroup_go
/// goroutines, it no longer counts them.
#[no_mangle]
pub extern "C" fn go_num_goroutine() -> i64 {
    runtime::num_goroutine()
}

/// Sets the number of worker threads running goroutines (Go:
/// `runtime.GOMAXPROCS(n)`) if `n > 0` (values above 1024 are treated as
/// 1024), and returns the previous setting; `n <= 0` only returns it.
///
/// The default is the number of CPUs this process may run on (affinity
/// mask, lowered to the cgroup CPU quota rounded up, minimum 2, as Go
/// 1.25+), or the `GOMAXPROCS` environment variable. Lowering it takes
/// effect as running goroutines next park or yield.
#[no_mangle]
pub extern "C" fn go_maxprocs(n: c_int) -> c_int {
    let r = runtime::rt();
    if n <= 0 {
        return r.procs() as c_int;
    }
    r.set_procs(n as usize) as c_int
}

/// Writes one line per live goroutine to file descriptor `fd`: id, name
/// (from go_spawn_ex), state (running / runnable / waiting), for a waiting
/// goroutine what it waits for (mutex, rwmutex, waitgroup, once, sleep),
/// the object's address and for how long, and the entry function
/// (symbolised with dladdr; build with -rdynamic to name functions of the
/// main program). The first line is `goro: N goroutines`.
///
/// The dump reads goroutines' states without stopping them: one that
/// changes state meanwhile shows its old or its new state. Callable from
/// goroutines and plain threads; not async-signal-safe.
#[no_mangle]
pub extern "C" fn go_dump(fd: c_int) {
    crate::diag::dump(fd)
}

pub mod sync;
pub use sync::*;
