//! Telling ThreadSanitizer, AddressSanitizer and Valgrind about goroutines.
//!
//! One `libgoro.so` serves sanitized and plain programs: the sanitizer
//! runtimes are looked up with `dlsym(RTLD_DEFAULT, ...)` the first time
//! anything asks, and every hook site tests one byte ([`active`]) before
//! doing anything, so a plain program pays a predicted branch per hook.
//!
//! * **TSan**: each goroutine is a TSan fiber, created by the spawner (so
//!   TSan's thread-creation edge is exactly "spawn happens before the
//!   goroutine starts"), switched to without synchronization (so goroutines
//!   sharing a worker are *not* ordered by the switches between them: races
//!   between them are reported), destroyed when reclaimed. goro's own code
//!   is not instrumented, so every happens-before edge it creates is
//!   announced with `__tsan_acquire` / `__tsan_release` (sync types) and a
//!   reused stack carries an edge from its previous goroutine to the next
//!   (their stack frames occupy the same addresses).
//! * **ASan**: `__sanitizer_start_switch_fiber` / `finish_switch_fiber`
//!   around every switch (NULL fake-stack handle when a goroutine exits),
//!   and a reused stack is unpoisoned.
//! * **Valgrind**: every stack is registered (`VALGRIND_STACK_REGISTER`,
//!   issued as the raw client-request instruction sequence, so no valgrind
//!   header is needed at build time).

use core::ffi::c_void;
use core::sync::atomic::{AtomicU8, Ordering::*};
use std::sync::OnceLock;

/// Bits of [`active`].
pub(crate) const TSAN: u8 = 1;
pub(crate) const ASAN: u8 = 2;
pub(crate) const VALGRIND: u8 = 4;
const UNINIT: u8 = 0x80;
/// The tools that need to hear about every context switch.
pub(crate) const SWITCH_HOOKS: u8 = TSAN | ASAN;

static ACTIVE: AtomicU8 = AtomicU8::new(UNINIT);

struct Tsan {
    ignore_begin: unsafe extern "C" fn(),
    ignore_end: unsafe extern "C" fn(),
    create_fiber: unsafe extern "C" fn(u32) -> *mut c_void,
    destroy_fiber: unsafe extern "C" fn(*mut c_void),
    switch_to_fiber: unsafe extern "C" fn(*mut c_void, u32),
    get_current_fiber: unsafe extern "C" fn() -> *mut c_void,
    acquire: unsafe extern "C" fn(*mut c_void),
    release: unsafe extern "C" fn(*mut c_void),
}

struct Asan {
    start_switch: unsafe extern "C" fn(*mut *mut c_void, *const c_void, usize),
    finish_switch: unsafe extern "C" fn(*mut c_void, *mut *const c_void, *mut usize),
    unpoison: unsafe extern "C" fn(*const c_void, usize),
}

static TSAN_FNS: OnceLock<Option<Tsan>> = OnceLock::new();
static ASAN_FNS: OnceLock<Option<Asan>> = OnceLock::new();

/// `__tsan_switch_to_fiber` flag: switch without creating a
/// happens-before edge between the two fibers.
const TSAN_NO_SYNC: u32 = 1;

fn sym(name: &core::ffi::CStr) -> Option<usize> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads
    // the loader's symbol tables.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p as usize)
}

/// Casts a symbol address to a function pointer type.
///
/// # Safety
/// `F` must be the symbol's real signature.
unsafe fn as_fn<F: Copy>(addr: usize) -> F {
    debug_assert_eq!(core::mem::size_of::<F>(), core::mem::size_of::<usize>());
    // SAFETY: the caller vouches for the type; sizes match.
    unsafe { core::mem::transmute_copy(&addr) }
}

fn detect_tsan() -> Option<Tsan> {
    let cf = sym(c"__tsan_create_fiber")?;
    let df = sym(c"__tsan_destroy_fiber")?;
    let sf = sym(c"__tsan_switch_to_fiber")?;
    let gf = sym(c"__tsan_get_current_fiber")?;
    let ac = sym(c"__tsan_acquire")?;
    let rl = sym(c"__tsan_release")?;
    let ib = sym(c"__tsan_ignore_thread_begin")?;
    let ie = sym(c"__tsan_ignore_thread_end")?;
    // SAFETY: these are the signatures of TSan's public fiber and
    // annotation interface (sanitizer/tsan_interface.h).
    unsafe {
        Some(Tsan {
            ignore_begin: as_fn(ib),
            ignore_end: as_fn(ie),
            create_fiber: as_fn(cf),
            destroy_fiber: as_fn(df),
            switch_to_fiber: as_fn(sf),
            get_current_fiber: as_fn(gf),
            acquire: as_fn(ac),
            release: as_fn(rl),
        })
    }
}

fn detect_asan() -> Option<Asan> {
    // ASan proper (not only the sanitizer-common fiber hooks).
    sym(c"__asan_init")?;
    let st = sym(c"__sanitizer_start_switch_fiber")?;
    let fi = sym(c"__sanitizer_finish_switch_fiber")?;
    let un = sym(c"__asan_unpoison_memory_region")?;
    // SAFETY: signatures of sanitizer/common_interface_defs.h and
    // sanitizer/asan_interface.h.
    unsafe {
        Some(Asan {
            start_switch: as_fn(st),
            finish_switch: as_fn(fi),
            unpoison: as_fn(un),
        })
    }
}

#[cold]
fn detect() -> u8 {
    let mut v = 0;
    if TSAN_FNS.get_or_init(detect_tsan).is_some() {
        v |= TSAN;
    }
    if ASAN_FNS.get_or_init(detect_asan).is_some() {
        v |= ASAN;
    }
    if running_on_valgrind() {
        v |= VALGRIND;
    }
    ACTIVE.store(v, Relaxed);
    v
}

/// Which tools are watching (TSAN | ASAN | VALGRIND bits); 0 for a plain
/// program.
#[inline(always)]
pub(crate) fn active() -> u8 {
    let v = ACTIVE.load(Relaxed);
    if v & UNINIT == 0 {
        v
    } else {
        detect()
    }
}

/// Whether any tool in `mask` may be watching: one load, one test (true
/// also before detection ran; callers then ask [`active`]). The fast-path
/// guard of every hook.
#[inline(always)]
pub(crate) fn maybe(mask: u8) -> bool {
    ACTIVE.load(Relaxed) & (mask | UNINIT) != 0
}

/// The tools among TSan and ASan that need to hear about this switch (0 for
/// a plain program: one load and one test).
#[inline(always)]
pub(crate) fn switch_hooks() -> u8 {
    if maybe(SWITCH_HOOKS) {
        active() & SWITCH_HOOKS
    } else {
        0
    }
}

/// Detects the tools now (at runtime start), so that hooks never take the
/// detection path later.
pub(crate) fn init() {
    active();
}

fn tsan() -> &'static Tsan {
    TSAN_FNS
        .get()
        .and_then(|t| t.as_ref())
        .expect("tsan hooks used without TSan")
}

fn asan() -> &'static Asan {
    ASAN_FNS
        .get()
        .and_then(|a| a.as_ref())
        .expect("asan hooks used without ASan")
}

/// `__tsan_acquire(addr)` when TSan is present: the caller's later
/// actions happen after every earlier `release(addr)`.
#[inline(always)]
pub(crate) fn acquire(addr: usize) {
    if maybe(TSAN) {
        acquire_slow(addr)
    }
}

#[cold]
fn acquire_slow(addr: usize) {
    if active() & TSAN != 0 {
        // SAFETY: TSan's annotation takes any address as a sync object key.
        unsafe { (tsan().acquire)(addr as *mut c_void) }
    }
}

/// `__tsan_release(addr)` when TSan is present.
#[inline(always)]
pub(crate) fn release(addr: usize) {
    if maybe(TSAN) {
        release_slow(addr)
    }
}

#[cold]
fn release_slow(addr: usize) {
    if active() & TSAN != 0 {
        // SAFETY: as in acquire_slow().
        unsafe { (tsan().release)(addr as *mut c_void) }
    }
}

/// A new TSan fiber for a goroutine being spawned (null without TSan).
/// Created on the spawner's thread: TSan then orders everything the
/// spawner did before this point before everything the goroutine does.
pub(crate) fn fiber_create() -> usize {
    if active() & TSAN == 0 {
        return 0;
    }
    // SAFETY: TSan's public fiber interface; flags 0.
    unsafe { (tsan().create_fiber)(0) as usize }
}

/// Destroys a goroutine's fiber (not the current one).
pub(crate) fn fiber_destroy(fiber: usize) {
    if fiber != 0 && active() & TSAN != 0 {
        // SAFETY: the fiber was created by fiber_create and is not running.
        unsafe { (tsan().destroy_fiber)(fiber as *mut c_void) }
    }
}

/// The calling thread's own fiber (for a worker's scheduler context).
pub(crate) fn fiber_current() -> usize {
    if active() & TSAN == 0 {
        return 0;
    }
    // SAFETY: TSan's public fiber interface.
    unsafe { (tsan().get_current_fiber)() as usize }
}

/// Tells TSan that `fiber` runs from now on (no synchronization implied).
#[inline]
pub(crate) fn fiber_switch(fiber: usize) {
    if fiber != 0 {
        // SAFETY: fiber is a live fiber from fiber_create/fiber_current.
        unsafe { (tsan().switch_to_fiber)(fiber as *mut c_void, TSAN_NO_SYNC) }
    }
}

/// ASan: we are about to switch to the stack `[bottom, bottom+size)`.
/// `save` receives this context's fake-stack handle; null means this
/// context is finished for good (a goroutine exiting).
#[inline]
pub(crate) fn asan_start_switch(save: *mut *mut c_void, bottom: usize, size: usize) {
    // SAFETY: the documented protocol of __sanitizer_start_switch_fiber.
    unsafe { (asan().start_switch)(save, bottom as *const c_void, size) }
}

/// ASan: the switch to this context is complete (`save` is what this
/// context's start_switch stored, or null for a fresh context).
#[inline]
pub(crate) fn asan_finish_switch(save: *mut c_void) {
    let mut b: *const c_void = core::ptr::null();
    let mut s = 0usize;
    // SAFETY: the documented protocol of __sanitizer_finish_switch_fiber.
    unsafe { (asan().finish_switch)(save, &mut b, &mut s) }
}

/// ASan: clears poisoning left on a stack by its previous goroutine.
pub(crate) fn asan_unpoison(lo: usize, size: usize) {
    if active() & ASAN != 0 {
        // SAFETY: [lo, lo+size) is a goroutine stack we own.
        unsafe { (asan().unpoison)(lo as *const c_void, size) }
    }
}

/// `__lsan_register_root_region`, when LeakSanitizer is in the process
/// (alone, `-fsanitize=leak`, or inside ASan).
type RootRegionFn = unsafe extern "C" fn(*const c_void, usize);
static LSAN_ROOT: OnceLock<Option<RootRegionFn>> = OnceLock::new();

fn lsan_root_fn() -> Option<RootRegionFn> {
    *LSAN_ROOT.get_or_init(|| {
        // SAFETY: the signature of sanitizer/lsan_interface.h.
        sym(c"__lsan_register_root_region").map(|a| unsafe { as_fn::<RootRegionFn>(a) })
    })
}

/// Whether LeakSanitizer will look for leaks in this process.
pub(crate) fn lsan_present() -> bool {
    lsan_root_fn().is_some()
}

/// Asks LeakSanitizer to look for pointers in `[lo, lo + size)` when it
/// checks for leaks (it scans only the parts that are mapped and
/// readable). LeakSanitizer scans each thread's stack from its current
/// stack pointer, so without this it never sees a worker's own stack while
/// the worker runs a goroutine, nor the stack of any goroutine that is not
/// running: memory referenced only from there is reported as leaked.
pub(crate) fn lsan_root(lo: usize, size: usize) {
    if let Some(f) = lsan_root_fn() {
        // SAFETY: LeakSanitizer only records the range; it reads it later
        // with the world stopped, and only where it is mapped.
        unsafe { f(lo as *const c_void, size) }
    }
}

/// A Valgrind client request (returns `default` when not under Valgrind).
#[inline(never)]
fn client_request(default: usize, args: &[usize; 6]) -> usize {
    #[allow(unused_mut)]
    let mut result = default;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the rotations by 3+13+61+51 = 128 bits leave rdi unchanged and
    // `xchg rbx, rbx` is a no-op: natively the sequence does nothing but
    // leave rdx = default. Valgrind recognises it and writes the result to
    // rdx, reading the request from the array rax points to.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") result,
            in("rax") args.as_ptr(),
            inout("rdi") 0usize => _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: rotations of x12 by 3+13+51+61 = 128 bits leave it unchanged
    // and `orr x10, x10, x10` is a no-op: natively x3 keeps the default.
    // Valgrind reads the request from the array x4 points to and writes the
    // result to x3.
    unsafe {
        core::arch::asm!(
            "ror x12, x12, #3", "ror x12, x12, #13", "ror x12, x12, #51", "ror x12, x12, #61",
            "orr x10, x10, x10",
            inout("x3") result,
            in("x4") args.as_ptr(),
            inout("x12") 0usize => _,
            options(nostack),
        );
    }
    result
}

const VG_RUNNING_ON_VALGRIND: usize = 0x1001;
const VG_STACK_REGISTER: usize = 0x1501;

fn running_on_valgrind() -> bool {
    client_request(0, &[VG_RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) != 0
}

/// Registers a goroutine stack `[lo, hi)` with Valgrind (once per stack:
/// stacks are never unmapped).
pub(crate) fn valgrind_stack_register(lo: usize, hi: usize) {
    if active() & VALGRIND != 0 {
        client_request(0, &[VG_STACK_REGISTER, lo, hi, 0, 0, 0]);
    }
}

/// goro's heap allocations, invisible to ThreadSanitizer.
///
/// goro is not instrumented, so TSan does not see the locks and atomics that
/// hand goro's own heap blocks (run-queue buffers, free lists, caches)
/// between worker threads; it would see only the malloc/realloc/free calls
/// and report them as racing. Every Rust allocation of the library goes
/// through this allocator, which brackets the call with
/// `__tsan_ignore_thread_begin/end` when TSan is present (one predicted
/// branch otherwise). The program's own allocations are untouched.
pub(crate) struct Alloc;

struct IgnoreGuard(bool);

impl IgnoreGuard {
    #[inline(always)]
    fn new() -> IgnoreGuard {
        if maybe(TSAN) && active() & TSAN != 0 {
            // SAFETY: TSan's public interface; balanced by Drop.
            unsafe { (tsan().ignore_begin)() };
            IgnoreGuard(true)
        } else {
            IgnoreGuard(false)
        }
    }
}

impl Drop for IgnoreGuard {
    #[inline(always)]
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: balances ignore_begin on this thread.
            unsafe { (tsan().ignore_end)() };
        }
    }
}

// SAFETY: every method forwards to the system allocator with the same
// arguments; the guard only toggles TSan's bookkeeping around the call.
unsafe impl std::alloc::GlobalAlloc for Alloc {
    #[inline]
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let _g = IgnoreGuard::new();
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.alloc(l) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        let _g = IgnoreGuard::new();
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.alloc_zeroed(l) }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        let _g = IgnoreGuard::new();
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        let _g = IgnoreGuard::new();
        // SAFETY: forwarded contract.
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}
