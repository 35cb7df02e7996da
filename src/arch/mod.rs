//! The machine-dependent part: the context switch (hand-written assembly, one
//! `.S` file per architecture, assembled by `build.rs`) and the preparation
//! of a fresh goroutine stack so that the first switch to it lands in the
//! entry trampoline.
//!
//! The frame layout is documented with a diagram at the top of each `.S`
//! file; the constants below mirror it and are checked at compile time.

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("goro supports x86_64 and aarch64 only (see README: platform support)");

#[cfg(not(target_os = "linux"))]
compile_error!("goro supports Linux only (see README: platform support)");

/// Runtime hook run first on a fresh goroutine: finishes the switch that
/// started it. Receives the transfer word and the goroutine's control block.
pub(crate) type StartHook = unsafe extern "C" fn(transfer: usize, g: *mut u8);
/// Runtime hook run after the user's function returns. Never returns.
pub(crate) type ExitHook = unsafe extern "C" fn(g: *mut u8) -> !;
/// The user's function.
pub(crate) type EntryFn = unsafe extern "C" fn(arg: *mut libc::c_void);

extern "C" {
    /// Saves the callee-saved state on the current stack, stores the stack
    /// pointer in `*save_sp`, switches to `load_sp` and returns there with
    /// `transfer` as the return value of the other side's call.
    pub(crate) fn goro_ctx_switch(save_sp: *mut usize, load_sp: usize, transfer: usize) -> usize;
    fn goro_ctx_trampoline();
    fn goro_ctx_restart(
        top: usize,
        func: EntryFn,
        arg: *mut libc::c_void,
        g: *mut u8,
        start: StartHook,
        exit: ExitHook,
    ) -> !;
    /// Reads thread-local slot `slot` (0: worker state, 1: plain-thread
    /// state); initial-exec TLS, one load. An opaque call, so no thread-local
    /// address is ever cached across a switch.
    pub(crate) fn goro_tls_get(slot: i32) -> *mut u8;
    /// Writes thread-local slot `slot`.
    pub(crate) fn goro_tls_set(slot: i32, value: *mut u8);
}

#[cfg(target_arch = "x86_64")]
extern "C" {
    /// The two thread-local slots behind [`goro_tls_get`] (x86_64.S).
    static goro_tls_slots: [usize; 2];
}

/// Reads thread-local slot 0 (the worker state): [`goro_tls_get`]`(0)`,
/// inlined. An `asm!` block without `pure` is never merged with another
/// nor moved across a call, so the value is read afresh each time, as the
/// opaque call guarantees (a goroutine may resume on another thread); it
/// saves the call, which Rust makes through the GOT.
#[inline(always)]
pub(crate) fn tls_slot0() -> *mut u8 {
    #[cfg(target_arch = "x86_64")]
    {
        let v: *mut u8;
        // SAFETY: reads this thread's slot 0 through the initial-exec TLS
        // model exactly as goro_tls_get does (the GOT holds the slot's
        // offset from the thread pointer); writes only `v`.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr [rip + {slots}@GOTTPOFF]",
                "mov {v}, qword ptr fs:[{v}]",
                slots = sym goro_tls_slots,
                v = out(reg) v,
                options(nostack, readonly, preserves_flags)
            );
        }
        v
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads this thread's slot 0; no preconditions.
    unsafe {
        goro_tls_get(0)
    }
}

/// Hints the CPU to load `p`'s cache line into L1. Never faults, whatever
/// the address (null included).
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetcht0 is a hint: it never faults and changes no state
    // the program can observe.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: prfm is a hint: it never faults and changes no state the
    // program can observe; it reads one register and writes none.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, preserves_flags, readonly))
    };
}

#[cfg(target_arch = "x86_64")]
mod layout {
    pub const FRAME_SIZE: usize = 64;
    pub const FRAME_MXCSR: usize = 0;
    pub const FRAME_X87CW: usize = 4;
    pub const FRAME_R15: usize = 8;
    pub const FRAME_R14: usize = 16;
    pub const FRAME_R13: usize = 24;
    pub const FRAME_R12: usize = 32;
    pub const FRAME_RBX: usize = 40;
    pub const FRAME_RBP: usize = 48;
    pub const FRAME_RET: usize = 56;
    /// Power-on/glibc defaults: all exceptions masked, round to nearest.
    pub const DEFAULT_MXCSR: u32 = 0x1F80;
    /// x87: all exceptions masked, 64-bit precision, round to nearest.
    pub const DEFAULT_X87CW: u16 = 0x037F;

    const _: () = assert!(FRAME_RET + 8 == FRAME_SIZE);
    const _: () = assert!(FRAME_SIZE % 16 == 0);
    // The same offsets, read by build.rs off goro_ctx_switch's pushes.
    include!(concat!(env!("OUT_DIR"), "/frame_asm.rs"));
    const _: () =
        assert!(FRAME_SIZE == ASM_SIZE && FRAME_RET == ASM_RET && FRAME_MXCSR == ASM_MXCSR);
    const _: () = assert!(FRAME_RBP == ASM_RBP && FRAME_RBX == ASM_RBX && FRAME_R12 == ASM_R12);
    const _: () = assert!(FRAME_R13 == ASM_R13 && FRAME_R14 == ASM_R14 && FRAME_R15 == ASM_R15);
}

#[cfg(target_arch = "aarch64")]
mod layout {
    pub const FRAME_SIZE: usize = 160;
    pub const FRAME_D8: usize = 0;
    pub const FRAME_X19: usize = 64;
    pub const FRAME_X20: usize = 72;
    pub const FRAME_X21: usize = 80;
    pub const FRAME_X22: usize = 88;
    pub const FRAME_X23: usize = 96;
    pub const FRAME_X29: usize = 144;
    pub const FRAME_X30: usize = 152;

    const _: () = assert!(FRAME_X30 + 8 == FRAME_SIZE);
    const _: () = assert!(FRAME_SIZE % 16 == 0);
    // The same offsets, read by build.rs off goro_ctx_switch's stores.
    include!(concat!(env!("OUT_DIR"), "/frame_asm.rs"));
    const _: () = assert!(FRAME_SIZE == ASM_SIZE && FRAME_D8 == ASM_D8 && FRAME_X19 == ASM_X19);
    const _: () = assert!(FRAME_X20 == ASM_X20 && FRAME_X21 == ASM_X21 && FRAME_X22 == ASM_X22);
    const _: () = assert!(FRAME_X23 == ASM_X23 && FRAME_X29 == ASM_X29 && FRAME_X30 == ASM_X30);
}

pub(crate) use layout::FRAME_SIZE;

/// Bytes left unused above the initial frame at the very top of a stack
/// (keeps the trampoline's sp 16-byte aligned and gives debuggers a zeroed
/// "caller" area).
pub(crate) const TOP_PAD: usize = 16;

/// Everything a fresh stack's first switch needs.
pub(crate) struct Entry {
    pub func: EntryFn,
    pub arg: *mut libc::c_void,
    pub g: *mut u8,
    pub start: StartHook,
    pub exit: ExitHook,
}

/// Writes the initial switch frame at the top of a fresh stack and returns
/// the stack pointer to pass to [`goro_ctx_switch`].
///
/// # Safety
/// `top` must be the 16-byte aligned upper end of writable memory with at
/// least `TOP_PAD + FRAME_SIZE` bytes below it that nobody else uses.
pub(crate) unsafe fn prepare_stack(top: usize, e: &Entry) -> usize {
    debug_assert!(top % 16 == 0);
    let sp = top - TOP_PAD - FRAME_SIZE;
    let put = |off: usize, v: usize| {
        // SAFETY: sp..top lies inside the caller's writable stack (contract),
        // and every offset used is below FRAME_SIZE + TOP_PAD.
        unsafe { ((sp + off) as *mut usize).write(v) }
    };
    // The pad above the frame: zero, so a debugger sees a null "caller".
    put(FRAME_SIZE, 0);
    put(FRAME_SIZE + 8, 0);
    #[cfg(target_arch = "x86_64")]
    {
        use layout::*;
        put(
            FRAME_MXCSR,
            DEFAULT_MXCSR as usize | ((DEFAULT_X87CW as usize) << (8 * FRAME_X87CW)),
        );
        put(FRAME_R15, e.exit as usize);
        put(FRAME_R14, e.start as usize);
        put(FRAME_R13, e.arg as usize);
        put(FRAME_R12, e.func as usize);
        put(FRAME_RBX, e.g as usize);
        put(FRAME_RBP, 0);
        put(FRAME_RET, goro_ctx_trampoline as *const () as usize);
    }
    #[cfg(target_arch = "aarch64")]
    {
        use layout::*;
        for i in 0..18 {
            put(FRAME_D8 + 8 * i, 0);
        }
        put(FRAME_X19, e.func as usize);
        put(FRAME_X20, e.arg as usize);
        put(FRAME_X21, e.g as usize);
        put(FRAME_X22, e.start as usize);
        put(FRAME_X23, e.exit as usize);
        put(FRAME_X29, 0);
        put(FRAME_X30, goro_ctx_trampoline as *const () as usize);
    }
    sp
}

/// Starts a fresh goroutine on the stack the caller runs on, from its top,
/// as a switch to a frame built by [`prepare_stack`] on that stack would:
/// the caller's frames are abandoned, nothing of them is saved.
///
/// # Safety
/// `top` is the 16-byte aligned upper end of the stack the calling thread
/// runs on, with at least `TOP_PAD + FRAME_SIZE` bytes below it; nothing on
/// that stack is used again (the caller is an exited goroutine, and the
/// stack now belongs to `e.g`).
pub(crate) unsafe fn restart(top: usize, e: &Entry) -> ! {
    debug_assert!(top % 16 == 0);
    debug_assert!(current_sp() < top);
    // SAFETY: forwarded contract; the callee never returns.
    unsafe { goro_ctx_restart(top, e.func, e.arg, e.g, e.start, e.exit) }
}

/// Reads the current stack pointer (for overflow checks and diagnostics).
#[inline(always)]
pub(crate) fn current_sp() -> usize {
    let sp: usize;
    // SAFETY: reads a register into a local; no memory is touched.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    sp
}

/// Spin-wait hint.
#[inline(always)]
pub(crate) fn cpu_relax() {
    core::hint::spin_loop();
}

/// Raw context-switch measurement, outside the scheduler (for benchmarks):
/// switches between the calling thread's context and a bare context on a
/// private stack, `n` round trips (2n switches).
pub(crate) fn raw_switch_roundtrips(n: u64) {
    struct Pair {
        main_sp: usize,
        co_sp: usize,
    }
    unsafe extern "C" fn start(_t: usize, _g: *mut u8) {}
    unsafe extern "C" fn body(arg: *mut libc::c_void) {
        let p = arg as *mut Pair;
        loop {
            // SAFETY: p outlives the loop (raw_switch_roundtrips keeps it on
            // its stack until the last switch back, and never resumes us).
            unsafe { goro_ctx_switch(&mut (*p).co_sp, (*p).main_sp, 0) };
        }
    }
    unsafe extern "C" fn exit(_g: *mut u8) -> ! {
        // SAFETY: abort has no preconditions.
        unsafe { libc::abort() }
    }
    const SIZE: usize = 64 << 10;
    // SAFETY: a private anonymous mapping used only as the bare context's stack.
    let stack = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(stack, libc::MAP_FAILED);
    let mut pair = Pair {
        main_sp: 0,
        co_sp: 0,
    };
    let p: *mut Pair = &mut pair;
    // SAFETY: the mapping is ours, 16-byte aligned at its top; from here on
    // `pair` is only accessed through p.
    unsafe {
        (*p).co_sp = prepare_stack(
            stack as usize + SIZE,
            &Entry {
                func: body,
                arg: p.cast(),
                g: core::ptr::null_mut(),
                start,
                exit,
            },
        );
    }
    for _ in 0..n {
        // SAFETY: p's fields are valid stack pointers of live contexts.
        unsafe { goro_ctx_switch(&mut (*p).main_sp, (*p).co_sp, 0) };
    }
    // SAFETY: the bare context is parked for good; its stack can go.
    unsafe { libc::munmap(stack, SIZE) };
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    //! The x86_64 switch alone: callee-saved registers (rbx, rbp, r12-r15)
    //! and the MXCSR / x87 control words survive in both directions, and
    //! transfer words travel. The check is written in assembly so that no
    //! compiler spill can hide a lost register (the aarch64 twin of this
    //! test is tests/c/aarch64, run under qemu).
    use super::*;

    core::arch::global_asm!(
        ".p2align 4",
        "goro_test_check_switch:",
        // rdi = save, rsi = load, rdx = transfer, rcx = back ptr, r8 = salt
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "sub rsp, 24",
        "mov [rsp], rcx",
        "mov [rsp + 8], r8",
        "mov rbx, 0x1111",
        "xor rbx, r8",
        "mov rbp, 0x2222",
        "xor rbp, r8",
        "mov r12, 0x3333",
        "xor r12, r8",
        "mov r13, 0x4444",
        "xor r13, r8",
        "mov r14, 0x5555",
        "xor r14, r8",
        "mov r15, 0x6666",
        "xor r15, r8",
        "call goro_ctx_switch",
        "mov rcx, [rsp]",
        "mov [rcx], rax",
        "mov r8, [rsp + 8]",
        "xor eax, eax",
        "mov r9, 0x1111",
        "xor r9, r8",
        "cmp rbx, r9",
        "setne r10b",
        "movzx r10, r10b",
        "or rax, r10",
        "mov r9, 0x2222",
        "xor r9, r8",
        "cmp rbp, r9",
        "setne r10b",
        "movzx r10, r10b",
        "shl r10, 1",
        "or rax, r10",
        "mov r9, 0x3333",
        "xor r9, r8",
        "cmp r12, r9",
        "setne r10b",
        "movzx r10, r10b",
        "shl r10, 2",
        "or rax, r10",
        "mov r9, 0x4444",
        "xor r9, r8",
        "cmp r13, r9",
        "setne r10b",
        "movzx r10, r10b",
        "shl r10, 3",
        "or rax, r10",
        "mov r9, 0x5555",
        "xor r9, r8",
        "cmp r14, r9",
        "setne r10b",
        "movzx r10, r10b",
        "shl r10, 4",
        "or rax, r10",
        "mov r9, 0x6666",
        "xor r9, r8",
        "cmp r15, r9",
        "setne r10b",
        "movzx r10, r10b",
        "shl r10, 5",
        "or rax, r10",
        "add rsp, 24",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    );

    extern "C" {
        fn goro_test_check_switch(
            save: *mut usize,
            load: usize,
            transfer: usize,
            back: *mut usize,
            salt: u64,
        ) -> u64;
    }

    struct Pair {
        main_sp: usize,
        co_sp: usize,
        lost: u64,
    }

    fn mxcsr() -> u32 {
        let mut v: u32 = 0;
        // SAFETY: stores MXCSR into a local.
        unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &mut v, options(nostack)) };
        v
    }
    fn set_mxcsr(v: u32) {
        // SAFETY: loads a valid MXCSR value (only the rounding bits change).
        unsafe { core::arch::asm!("ldmxcsr [{}]", in(reg) &v, options(nostack)) };
    }

    unsafe extern "C" fn start(_t: usize, _g: *mut u8) {}
    unsafe extern "C" fn exit(_g: *mut u8) -> ! {
        // SAFETY: never reached in this test.
        unsafe { libc::abort() }
    }
    unsafe extern "C" fn body(arg: *mut libc::c_void) {
        let p = arg as *mut Pair;
        // This side runs with round-toward-zero; main keeps its own mode.
        set_mxcsr((mxcsr() & !0x6000) | 0x6000);
        let mut x = 0usize;
        loop {
            // SAFETY: p outlives the loop; both sides are live contexts.
            unsafe {
                let bad = goro_test_check_switch(
                    &mut (*p).co_sp,
                    (*p).main_sp,
                    x + 1,
                    &mut x,
                    0x5a5a_5a5a_0000_0000,
                );
                if mxcsr() & 0x6000 != 0x6000 {
                    (*p).lost |= 1 << 40;
                }
                (*p).lost |= bad << 8;
            }
        }
    }

    #[test]
    fn callee_saved_state_survives_switches() {
        const SIZE: usize = 64 << 10;
        let mut stack = vec![0u8; SIZE + 16];
        let top = (stack.as_mut_ptr() as usize + SIZE) & !15;
        let mut pair = Pair {
            main_sp: 0,
            co_sp: 0,
            lost: 0,
        };
        let p: *mut Pair = &mut pair;
        // SAFETY: the buffer is ours and outlives every switch below.
        unsafe {
            (*p).co_sp = prepare_stack(
                top,
                &Entry {
                    func: body,
                    arg: p.cast(),
                    g: core::ptr::null_mut(),
                    start,
                    exit,
                },
            );
        }
        let before = mxcsr();
        let mut back = 0usize;
        for i in 0..1000usize {
            // SAFETY: both stack pointers belong to live, switched-out contexts.
            let bad =
                unsafe { goro_test_check_switch(&mut (*p).main_sp, (*p).co_sp, i, &mut back, 0) };
            assert_eq!(
                bad, 0,
                "main lost callee-saved registers (mask {bad:#x}) at round {i}"
            );
            assert_eq!(back, i + 1, "transfer word");
            assert_eq!(mxcsr(), before, "MXCSR leaked from the other context");
            // SAFETY: p points at `pair`, alive; the coroutine is switched out.
            let lost = unsafe { (*p).lost };
            assert_eq!(lost, 0, "coroutine lost state (mask {lost:#x})");
        }
    }

    #[test]
    fn raw_switch_runs() {
        raw_switch_roundtrips(10_000);
    }
}
