//! Helpers for the sync integration tests (`tests/sync_*.rs`): goroutines
//! from Rust closures, groups of goroutines and plain threads, GOMAXPROCS
//! settings serialized across the tests of one binary, plain (non-atomic)
//! shared cells, and death cases that re-run the test binary.
#![allow(dead_code)]

#[path = "../common/catch_panic.rs"]
mod catch_panic;
use catch_panic::catch_panic;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use goro::*;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A plain, non-atomic cell: only the lock under test protects it.
pub struct Racy<T>(UnsafeCell<T>);
// SAFETY: the tests access it only under the sync object they check; a
// failure of that object is what the tests are there to detect.
unsafe impl<T: Send> Sync for Racy<T> {}
impl<T: Copy> Racy<T> {
    pub const fn new(v: T) -> Self {
        Racy(UnsafeCell::new(v))
    }
    pub fn get(&self) -> T {
        // SAFETY: see the type.
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }
    pub fn set(&self, v: T) {
        // SAFETY: see the type.
        unsafe { core::ptr::write_volatile(self.0.get(), v) }
    }
}

/// `&T` as the `*mut T` the C API takes (all sync types are interior
/// mutable).
pub fn p<T>(x: &T) -> *mut T {
    x as *const T as *mut T
}

/// Assertion failures inside goroutines: a panic cannot unwind out of a
/// goroutine (nothing catches it at the bottom of its stack, and the
/// process aborts without saying which assertion failed), so the
/// trampoline catches it here and the waiting test reports it.
static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Panics with the first failure recorded inside a goroutine, if any.
pub fn check_failures() {
    let f = std::mem::take(&mut *FAILURES.lock().unwrap_or_else(|e| e.into_inner()));
    if !f.is_empty() {
        panic!("{} goroutine(s) failed; first: {}", f.len(), f[0]);
    }
}

/// Runs `f`, recording a panic for `check_failures` instead of letting it
/// unwind: for the bodies of `extern "C"` callbacks (go_once_do's) and of
/// goroutines, which cannot unwind.
pub fn record_panic(f: impl FnOnce()) {
    if let Some(msg) = catch_panic(f) {
        FAILURES.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
    }
}

extern "C" fn trampoline<F: FnOnce() + Send + 'static>(arg: *mut c_void) {
    // SAFETY: arg is the Box<F> leaked by go()/Group::go, consumed once.
    let f = unsafe { Box::from_raw(arg as *mut F) };
    record_panic(f);
}

fn boxed<F: FnOnce() + Send + 'static>(f: F) -> (go_fn, *mut c_void) {
    (Some(trampoline::<F>), Box::into_raw(Box::new(f)).cast())
}

/// `go f()`.
pub fn go<F: FnOnce() + Send + 'static>(f: F) {
    let (func, arg) = boxed(f);
    assert_eq!(go_spawn(func, arg), 0);
}

/// Goroutines (tracked by a WaitGroup, through go_waitgroup_go) and plain
/// threads, waited for together.
pub struct Group {
    wg: Box<go_waitgroup>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Group {
    pub fn new() -> Group {
        Group {
            wg: Box::new(go_waitgroup::new()),
            threads: Vec::new(),
        }
    }
    pub fn go<F: FnOnce() + Send + 'static>(&mut self, f: F) {
        let (func, arg) = boxed(f);
        // SAFETY: the WaitGroup is boxed and outlives the wait in wait().
        assert_eq!(unsafe { go_waitgroup_go(p(&*self.wg), func, arg) }, 0);
    }
    pub fn thread<F: FnOnce() + Send + 'static>(&mut self, f: F) {
        self.threads.push(std::thread::spawn(f));
    }
    /// `gs` goroutines and `ts` threads running `f`.
    pub fn start<F: Fn() + Send + Sync + Clone + 'static>(&mut self, gs: usize, ts: usize, f: F) {
        for _ in 0..gs {
            let f = f.clone();
            self.go(f);
        }
        for _ in 0..ts {
            let f = f.clone();
            self.thread(f);
        }
    }
    pub fn wait(&mut self) {
        // SAFETY: our own WaitGroup.
        unsafe { go_waitgroup_wait(p(&*self.wg)) };
        for t in self.threads.drain(..) {
            t.join().expect("thread panicked");
        }
        if !std::thread::panicking() {
            check_failures();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failed assertion is unwinding the test: its goroutines and
            // threads may wait for something that will never come; report
            // the failure instead of waiting for them. They keep the
            // WaitGroup (leaked here) and the data they share through Arcs.
            let wg = core::mem::replace(&mut self.wg, Box::new(go_waitgroup::new()));
            core::mem::forget(wg);
            self.threads.clear();
            return;
        }
        self.wait();
    }
}

static PROCS: Mutex<()> = Mutex::new(());

/// Runs `f` with GOMAXPROCS = 1, 2, then 4 (more workers than this
/// machine's cores: the RWMutex's writer then revokes reader slots on four
/// workers, and readers migrate among them); tests of one binary that call
/// it do not overlap.
pub fn each_procs(f: impl Fn(usize)) {
    let _g = PROCS.lock().unwrap_or_else(|e| e.into_inner());
    let old = go_maxprocs(0);
    for n in [1, 2, 4] {
        go_maxprocs(n);
        f(n as usize);
        check_failures();
    }
    go_maxprocs(old);
}

/// Runs `f` with GOMAXPROCS = n, serialized with each_procs.
pub fn with_procs(n: i32, f: impl FnOnce()) {
    let _g = PROCS.lock().unwrap_or_else(|e| e.into_inner());
    let old = go_maxprocs(n);
    f();
    check_failures();
    go_maxprocs(old);
}

pub fn in_goroutine() -> bool {
    go_id() != 0
}

/// Sleeps `ns` in a goroutine (parks) or a thread.
pub fn nap(ns: i64) {
    if in_goroutine() {
        go_sleep(ns);
    } else {
        std::thread::sleep(Duration::from_nanos(ns as u64));
    }
}

/// Waits until `cond` holds; the bound only turns a hang into a failure.
pub fn await_cond(what: &str, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        if let Some(f) = FAILURES.lock().unwrap_or_else(|e| e.into_inner()).first() {
            panic!("while waiting for {what}, a goroutine failed: {f}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        nap(100_000);
    }
}

/// Death cases: `run_death_child(cases)` in a test named `death_child`
/// runs the case named by GORO_SYNC_DEATH (and does nothing without it);
/// `check_deaths` re-runs this binary for each case and checks that it
/// died of SIGABRT with the expected text on stderr.
pub type DeathCase = (&'static str, fn(), &'static str);

pub fn run_death_child(cases: &[DeathCase]) {
    let Ok(name) = std::env::var("GORO_SYNC_DEATH") else {
        return;
    };
    let case = cases
        .iter()
        .find(|c| c.0 == name)
        .expect("unknown death case");
    (case.1)();
    // Fatal errors from other goroutines: give them time.
    std::thread::sleep(Duration::from_secs(20));
}

pub fn check_deaths(cases: &[DeathCase]) {
    use std::os::unix::process::ExitStatusExt;
    let exe = std::env::current_exe().unwrap();
    for (name, _, expect) in cases {
        let out = Command::new(&exe)
            .args(["--exact", "death_child", "--nocapture", "--test-threads=1"])
            .env("GORO_SYNC_DEATH", name)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{name}: status {:?}, stderr:\n{err}",
            out.status
        );
        assert!(
            err.contains(expect),
            "{name}: want {expect:?} in stderr:\n{err}"
        );
    }
}
