//! Helpers shared by goro's Rust integration tests.
#![allow(dead_code)]

mod catch_panic;
use catch_panic::catch_panic;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static PROCS_LOCK: Mutex<()> = Mutex::new(());
static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs `f` with GOMAXPROCS = `n`; tests that depend on the worker count
/// are serialized by a lock (cargo runs tests as threads of one process).
pub fn with_procs<R>(n: i32, f: impl FnOnce() -> R) -> R {
    let _g: MutexGuard<'_, ()> = PROCS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    goro::go_maxprocs(n);
    let r = f();
    check_failures();
    r
}

/// Panics with the first failure recorded inside a goroutine, if any.
pub fn check_failures() {
    let f = std::mem::take(&mut *FAILURES.lock().unwrap());
    if !f.is_empty() {
        panic!("{} goroutine(s) failed; first: {}", f.len(), f[0]);
    }
}

unsafe extern "C" fn trampoline(arg: *mut c_void) {
    // SAFETY: arg came from Box::into_raw in go().
    let f = unsafe { Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>) };
    if let Some(msg) = catch_panic(f) {
        FAILURES.lock().unwrap().push(msg);
    }
}

/// Spawns a Rust closure as a goroutine (assertion failures inside are
/// recorded and reported by `check_failures`).
pub fn go(f: impl FnOnce() + Send + 'static) {
    let b: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
    let p = Box::into_raw(b);
    let r = goro::go_spawn(Some(trampoline), p.cast());
    assert_eq!(r, 0, "go_spawn failed");
}

/// Like `go`, with a stack size and a name.
pub fn go_ex(
    stack: usize,
    name: Option<&std::ffi::CStr>,
    f: impl FnOnce() + Send + 'static,
) -> i32 {
    let b: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
    let p = Box::into_raw(b);
    let attr = goro::go_attr {
        stack_size: stack,
        name: name.map_or(std::ptr::null(), |n| n.as_ptr()),
    };
    // SAFETY: attr is a valid go_attr_t.
    let r = unsafe { goro::go_spawn_ex(Some(trampoline), p.cast(), &attr) };
    if r != 0 {
        // SAFETY: not handed over on failure.
        drop(unsafe { Box::from_raw(p) });
    }
    r
}

/// Waits (on a plain thread) until `c` reaches `n`, failing after 60 s.
pub fn wait_count(c: &AtomicUsize, n: usize) {
    let t = Instant::now();
    while c.load(SeqCst) < n {
        if let Some(f) = FAILURES.lock().unwrap().first() {
            panic!("a goroutine failed: {f}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "timeout: {} of {}",
            c.load(SeqCst),
            n
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits until no goroutine is left (go_num_goroutine() == 0).
pub fn wait_no_goroutines() {
    let t = Instant::now();
    while goro::go_num_goroutine() != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "goroutines left: {}",
            goro::go_num_goroutine()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A one-shot gate built on the parking layer: goroutines and threads wait
/// until `open` is called.
pub struct Gate {
    open: AtomicUsize,
}

impl Gate {
    pub const fn new() -> Gate {
        Gate {
            open: AtomicUsize::new(0),
        }
    }
    fn key(&self) -> usize {
        self as *const Gate as usize
    }
    pub fn wait(&self) {
        while self.open.load(SeqCst) == 0 {
            goro::__test::park_if(self.key(), || self.open.load(SeqCst) == 0);
        }
    }
    pub fn open(&self) {
        self.open.store(1, SeqCst);
        goro::__test::unpark_all(self.key(), 0);
    }
}

/// VmRSS of this process in bytes.
pub fn rss() -> usize {
    status_kb("VmRSS:") * 1024
}

pub fn status_kb(field: &str) -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
