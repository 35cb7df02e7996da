//! Thin wrappers over the Linux system calls goro needs: futex, the
//! monotonic clock, thread ids, errno, and raw writes to a file descriptor
//! (usable from signal handlers and without allocating).

use core::sync::atomic::AtomicU32;

/// Nanoseconds on CLOCK_MONOTONIC.
#[inline]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; CLOCK_MONOTONIC is
    // always available on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Blocks while `*word == expected`, until woken, or until the absolute
/// CLOCK_MONOTONIC time `deadline_ns` (if any). Returns spuriously at times:
/// callers loop on their own condition.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, deadline_ns: Option<u64>) {
    let ts;
    let tsp = match deadline_ns {
        Some(d) => {
            ts = libc::timespec {
                tv_sec: (d / 1_000_000_000) as libc::time_t,
                tv_nsec: (d % 1_000_000_000) as libc::c_long,
            };
            &ts as *const libc::timespec
        }
        None => core::ptr::null(),
    };
    // SAFETY: FUTEX_WAIT_BITSET reads the 32-bit word at a valid, aligned
    // address we borrow for the duration of the call; the timespec (if any)
    // outlives the call. Errors (EAGAIN, EINTR, ETIMEDOUT) are all "return
    // and let the caller re-check".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            tsp,
            core::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        );
    }
}

/// Wakes up to `n` threads blocked in [`futex_wait`] on `word`.
///
/// Takes a raw pointer on purpose: a waker may call this after the waiting
/// thread has already seen its wake-up and left (the word lived on its
/// stack). A futex wake on such an address is harmless: at worst a spurious
/// wake-up for an unrelated waiter, which every futex user tolerates.
pub(crate) fn futex_wake(word: *const AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE does not access the memory at `word`; it only uses
    // the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        );
    }
}

/// The calling thread's kernel thread id.
pub(crate) fn gettid() -> i64 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i64 }
}

/// The calling thread's errno.
#[inline]
pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot,
    // valid for the thread's lifetime.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
#[inline]
pub(crate) fn set_errno(v: i32) {
    // SAFETY: as in errno().
    unsafe { *libc::__errno_location() = v }
}

/// Restores the calling thread's errno when dropped: goro's slow paths make
/// system calls (futex, clock) that may set errno, and a goro call must
/// leave the caller's errno as it found it. Reads the errno location afresh
/// at drop time, so it is right even if a goroutine migrated meanwhile.
pub(crate) struct ErrnoGuard(i32);

impl ErrnoGuard {
    #[inline]
    pub(crate) fn new() -> ErrnoGuard {
        ErrnoGuard(errno())
    }
}

impl Drop for ErrnoGuard {
    #[inline]
    fn drop(&mut self) {
        set_errno(self.0);
    }
}

/// Writes all of `bytes` to `fd`, retrying on EINTR and short writes;
/// async-signal-safe.
pub(crate) fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the buffer is valid for bytes.len() bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// A fixed-size, stack-allocated text buffer that implements
/// `core::fmt::Write` without allocating: for messages written from signal
/// handlers and fatal paths. Output beyond the capacity is dropped.
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub(crate) fn push_bytes(&mut self, b: &[u8]) {
        let n = b.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
}

impl<const N: usize> core::fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

/// Reads a small text file (procfs, cgroupfs) into a string; None on error.
pub(crate) fn read_small_file(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The system page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 {
        4096
    } else {
        p as usize
    }
}
