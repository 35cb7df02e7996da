//! Fatal errors and the stack-overflow handler.
//!
//! Every fatal error is one line on stderr, in Go's words, prefixed
//! `goro: fatal error: ` and naming the goroutine
//! (`(goroutine 17)`, or `(goroutine 0, thread <tid>)` on a plain thread),
//! followed by `abort()`. Messages are formatted into a stack buffer and
//! written with one `write(2)`: no allocation, usable from signal handlers.

use crate::runtime::{self, g::G};
use crate::sys::{self, StackBuf};
use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering::*};

/// Writes "(goroutine N)" / "(goroutine N [name])" / "(goroutine 0, thread T)".
fn who(out: &mut StackBuf<512>, g: *mut G) {
    if g.is_null() {
        let _ = write!(out, "(goroutine 0, thread {})", sys::gettid());
    } else {
        // SAFETY: G control blocks are never freed; id and name are atomics.
        let (id, name) = unsafe { ((*g).id.load(Relaxed), (*g).name.load(Relaxed)) };
        let _ = write!(out, "(goroutine {id}");
        push_name(out, name);
        out.push_bytes(b")");
    }
}

/// Appends ` [name]` for a named goroutine (name: a C string or 0).
fn push_name(out: &mut StackBuf<512>, name: usize) {
    if name != 0 {
        out.push_bytes(b" [");
        // SAFETY: name is the NUL-terminated copy owned by the goroutine.
        let s = unsafe { core::ffi::CStr::from_ptr(name as *const libc::c_char) };
        out.push_bytes(&s.to_bytes()[..s.to_bytes().len().min(200)]);
        out.push_bytes(b"]");
    }
}

fn die(out: &StackBuf<512>) -> ! {
    sys::write_all(2, out.as_bytes());
    // SAFETY: abort has no preconditions and does not return.
    unsafe { libc::abort() }
}

/// `goro: fatal error: <msg> (goroutine N)` and abort: misuse that Go
/// treats as fatal.
#[cold]
pub(crate) fn fatal(msg: core::fmt::Arguments<'_>) -> ! {
    let mut out = StackBuf::<512>::new();
    let _ = write!(out, "goro: fatal error: {msg} ");
    who(&mut out, runtime::current_g());
    out.push_bytes(b"\n");
    die(&out)
}

/// Reports a stack overflow of goroutine `g` and aborts. `fault` is the
/// faulting address when known. Async-signal-safe.
pub(crate) fn stack_overflow(g: *mut G, fault: Option<usize>) -> ! {
    let mut out = StackBuf::<512>::new();
    // SAFETY: G control blocks are never freed; the fields read here were
    // set before the goroutine first ran and do not change while it runs.
    let (id, name, size) = unsafe {
        (
            (*g).id.load(Relaxed),
            (*g).name.load(Relaxed),
            (*g).stack.get().size(),
        )
    };
    let _ = write!(out, "goro: fatal error: stack overflow in goroutine {id}");
    push_name(&mut out, name);
    let _ = write!(
        out,
        " (stack {} KiB; raise GORO_STACK_SIZE or go_spawn_ex stack_size)",
        size / 1024
    );
    if fault.is_none() {
        out.push_bytes(b" [detected by stack check]");
    }
    out.push_bytes(b"\n");
    die(&out)
}

/// Aborts with a clear message if a Rust panic unwinds through a frame that
/// must never unwind (worker loop, functions called from the assembly
/// trampoline). Forget it on the success path.
pub(crate) struct AbortOnPanic(pub &'static str);

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            fatal(format_args!("internal error: Rust panic in {}", self.0));
        }
    }
}

static mut OLD_SEGV: libc::sigaction = {
    // SAFETY: sigaction is plain data; all-zero is SIG_DFL with no flags.
    unsafe { core::mem::zeroed() }
};
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGSEGV handler that recognises guard-page hits (once).
pub(crate) fn install_signal_handlers() {
    if INSTALLED.swap(true, SeqCst) {
        return;
    }
    // SAFETY: we build a valid sigaction; the old one is saved before any
    // fault can reach our handler (which reads it), as sigaction installs
    // atomically and OLD_SEGV is written by the same call.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = segv_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGSEGV, &sa, ptr::addr_of_mut!(OLD_SEGV));
    }
}

/// Gives the calling worker thread an alternate signal stack, so that the
/// overflow handler has room to run when a goroutine stack is exhausted.
pub(crate) fn setup_worker_altstack() {
    const SIZE: usize = 64 << 10;
    // SAFETY: a fresh private mapping used only as this thread's signal stack.
    unsafe {
        let p = libc::mmap(
            ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
        let ss = libc::stack_t {
            ss_sp: p,
            ss_flags: 0,
            ss_size: SIZE,
        };
        libc::sigaltstack(&ss, ptr::null_mut());
    }
}

/// The stack pointer at the time of the fault, from the signal context.
unsafe fn fault_sp(ctx: *mut libc::c_void) -> usize {
    let uc = ctx as *mut libc::ucontext_t;
    // SAFETY: the kernel passes a valid ucontext_t to SA_SIGINFO handlers.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        {
            (*uc).uc_mcontext.gregs[libc::REG_RSP as usize] as usize
        }
        #[cfg(target_arch = "aarch64")]
        {
            (*uc).uc_mcontext.sp as usize
        }
    }
}

extern "C" fn segv_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: called by the kernel with valid info/ctx for SA_SIGINFO.
    unsafe {
        let addr = (*info).si_addr() as usize;
        let g = runtime::current_g();
        if !g.is_null() {
            let s = (*g).stack.get();
            if !s.is_empty() {
                let lo = s.lo();
                let guard_lo = lo.saturating_sub(crate::config::GUARD_BYTES);
                let sp = fault_sp(ctx);
                let in_guard = addr >= guard_lo && addr < lo;
                // A frame larger than the guard may jump past it: count a
                // fault just below the stack while sp is below the stack too.
                let below = sp < lo && addr < lo && addr + (1 << 20) >= sp.min(lo);
                if in_guard || below {
                    stack_overflow(g, Some(addr));
                }
            }
        }
        // Not ours: hand it to whoever was there before.
        let old = &*ptr::addr_of!(OLD_SEGV);
        let h = old.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, ptr::null_mut());
            // Returning re-executes the faulting instruction, which now
            // takes the default action (core dump).
            return;
        }
        if old.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                core::mem::transmute(h);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = core::mem::transmute(h);
            f(sig);
        }
    }
}

/// Serializes reading goroutine names (dumps, fatal errors on another
/// thread) with freeing them (a named goroutine's exit): only named
/// goroutines ever take it.
pub(crate) static NAMES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Frees a goroutine's name under [`NAMES`].
pub(crate) fn free_name(name: usize) {
    let _l = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `name` was malloc'd (strdup) for this goroutine, which has
    // exited; dumps read names only while holding NAMES.
    unsafe { libc::free(name as *mut libc::c_void) };
}

/// Appends "symbol (object+0xoffset)" for a code address, via dladdr.
fn push_symbol(out: &mut StackBuf<1024>, addr: usize) {
    // SAFETY: Dl_info is plain data; dladdr only reads loader tables.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: addr is any value; dladdr returns 0 if it maps to nothing.
    if addr == 0 || unsafe { libc::dladdr(addr as *const libc::c_void, &mut info) } == 0 {
        let _ = write!(out, "{addr:#x}");
        return;
    }
    let cstr = |p: *const libc::c_char| {
        if p.is_null() {
            None
        } else {
            // SAFETY: dladdr's strings are NUL-terminated and live as long as the object.
            Some(unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes())
        }
    };
    match cstr(info.dli_sname) {
        Some(name) => {
            out.push_bytes(name);
            let off = addr.wrapping_sub(info.dli_saddr as usize);
            if off != 0 {
                let _ = write!(out, "+{off:#x}");
            }
        }
        None => {
            let _ = write!(out, "{addr:#x}");
        }
    }
    if let Some(file) = cstr(info.dli_fname) {
        out.push_bytes(b" (");
        out.push_bytes(file);
        let _ = write!(out, "+{:#x})", addr.wrapping_sub(info.dli_fbase as usize));
    }
}

/// Formats one goroutine's dump line into `out`; false for a free G.
/// `names` tells whether names may be read (NAMES held).
fn dump_line(out: &mut StackBuf<1024>, g: &G, now: u64, names: bool) -> bool {
    let st = g.get_status();
    if st == runtime::g::Status::Free {
        return false;
    }
    let _ = write!(out, "goroutine {}", g.id.load(Relaxed));
    let name = g.name.load(Relaxed);
    if name != 0 && names {
        out.push_bytes(b" [");
        // SAFETY: NAMES is held by the caller, so the name is not freed.
        let s = unsafe { core::ffi::CStr::from_ptr(name as *const libc::c_char) };
        out.push_bytes(s.to_bytes());
        out.push_bytes(b"]");
    }
    match st {
        runtime::g::Status::Running => out.push_bytes(b": running"),
        runtime::g::Status::Runnable => out.push_bytes(b": runnable"),
        _ => {
            let reason = runtime::g::WaitReason::from_u8(g.reason.load(Relaxed));
            let since = g.wait_since.load(Relaxed);
            let ms = now.saturating_sub(since) / 1_000_000;
            let _ = write!(out, ": waiting ({}", reason.name());
            let obj = g.wait_obj.load(Relaxed);
            if obj != 0 {
                let _ = write!(out, " {obj:#x}");
            }
            let _ = write!(out, ", {}.{:03} s)", ms / 1000, ms % 1000);
        }
    }
    out.push_bytes(b", entry ");
    push_symbol(out, g.entry.load(Relaxed));
    out.push_bytes(b"\n");
    true
}

/// Writes the dump to `fd`: a header line, then one line per goroutine.
/// `in_signal`: never wait for a lock and never allocate (SIGQUIT); a
/// locked list is reported instead of waited for.
pub(crate) fn dump_to(fd: i32, in_signal: bool) {
    let now = runtime::coarse_now();
    let names = if in_signal {
        NAMES.try_lock().ok()
    } else {
        Some(NAMES.lock().unwrap_or_else(|e| e.into_inner()))
    };
    let mut count = 0usize;
    let mut counter = |g: &G| count += (g.get_status() != runtime::g::Status::Free) as usize;
    let ok = if in_signal {
        runtime::g::try_for_each(&mut counter)
    } else {
        runtime::g::for_each(&mut counter);
        true
    };
    if !ok {
        sys::write_all(
            fd,
            b"goro: goroutine dump unavailable: the goroutine list is locked\n",
        );
        return;
    }
    let mut head = StackBuf::<1024>::new();
    let _ = writeln!(head, "goro: {count} goroutines:");
    sys::write_all(fd, head.as_bytes());
    let mut line = |g: &G| {
        let mut out = StackBuf::<1024>::new();
        if dump_line(&mut out, g, now, names.is_some()) {
            sys::write_all(fd, out.as_bytes());
        }
    };
    if in_signal {
        runtime::g::try_for_each(&mut line);
    } else {
        runtime::g::for_each(&mut line);
    }
}

/// go_dump: one line per live goroutine, written to `fd`.
///
/// ```text
/// goro: 3 goroutines:
/// goroutine 17 [fetcher]: waiting (mutex 0x55d0c0a04040, 1.532 s), entry fetch (/app+0x11a9)
/// goroutine 18: runnable, entry leaf (/app+0x1189)
/// ```
/// Fields are read without stopping the world: a goroutine changing state
/// during the dump shows its old or new state.
pub(crate) fn dump(fd: i32) {
    dump_to(fd, false)
}

/// The deadlock report (Go's words), the dump, and abort.
pub(crate) fn deadlock() -> ! {
    sys::write_all(
        2,
        b"goro: fatal error: all goroutines are asleep - deadlock!\n\n",
    );
    dump_to(2, false);
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

extern "C" fn sigquit_handler(_sig: libc::c_int) {
    sys::write_all(2, b"SIGQUIT: quit\n");
    dump_to(2, true);
    // SAFETY: _exit is async-signal-safe; status 2 as Go's runtime.
    unsafe { libc::_exit(2) }
}

extern "C" fn leakcheck_at_exit() {
    let n = runtime::num_goroutine();
    if n > 0 {
        let mut head = StackBuf::<512>::new();
        let _ = writeln!(
            head,
            "goro: leak check: {n} goroutine(s) still alive at exit"
        );
        sys::write_all(2, head.as_bytes());
        dump_to(2, false);
    }
}

/// Opt-in diagnostics from the environment, set up with the runtime:
/// `GORO_TRACEBACK=1` (SIGQUIT dumps every goroutine and exits with status
/// 2, as Go does) and `GORO_LEAKCHECK=1` (an exit-time report of goroutines
/// still alive). Both off by default: a library takes no signal uninvited.
pub(crate) fn install_env_diagnostics() {
    let on = |v: &str| std::env::var(v).map(|x| x.trim() == "1").unwrap_or(false);
    if on("GORO_TRACEBACK") {
        // SAFETY: a valid handler for SIGQUIT, installed once.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = sigquit_handler as *const () as usize;
            sa.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGQUIT, &sa, ptr::null_mut());
        }
    }
    if on("GORO_LEAKCHECK") {
        // SAFETY: registers a plain extern "C" fn() with no preconditions.
        unsafe { libc::atexit(leakcheck_at_exit) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trap 3: a Rust panic must never unwind out of goro's frames; the
    /// guard turns it into a one-line fatal error and an abort. Checked in
    /// a re-executed copy of this test binary.
    #[test]
    fn rust_panic_is_a_clear_fatal_error() {
        if std::env::var("GORO_PANIC_CHILD").is_ok() {
            let _guard = AbortOnPanic("test frame");
            panic!("boom");
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "diag::tests::rust_panic_is_a_clear_fatal_error",
                "--nocapture",
            ])
            .env("GORO_PANIC_CHILD", "1")
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "goro: fatal error: internal error: Rust panic in test frame (goroutine 0, thread "
            ),
            "{err}"
        );
    }
}
