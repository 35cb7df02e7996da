/*
 * goro context switch, x86_64 System V (Linux).
 *
 * uintptr_t goro_ctx_switch(uintptr_t *save_sp,   rdi: where to store our sp
 *                           uintptr_t  load_sp,   rsi: sp of the context to resume
 *                           uintptr_t  transfer); rdx: handed to the other side
 *
 * Pushes exactly the callee-saved state of the SysV ABI, stores rsp in
 * *save_sp, loads load_sp, pops the other context's state and returns into
 * it. The other side sees `transfer` as the return value of its own
 * goro_ctx_switch call (rax), or, for a fresh stack, in rax/rdi when the
 * entry trampoline starts. Caller-saved registers need no saving: the
 * compiler already assumes a call clobbers them.
 *
 * Saved frame (64 bytes), as left at the saved sp. Offsets are mirrored in
 * src/arch/mod.rs (FRAME_* constants) and asserted there at compile time.
 *
 *   higher addresses
 *   +--------------------------+
 *   | return address           |  sp + 56   where the switch returns to
 *   | rbp                      |  sp + 48
 *   | rbx                      |  sp + 40
 *   | r12                      |  sp + 32
 *   | r13                      |  sp + 24
 *   | r14                      |  sp + 16
 *   | r15                      |  sp + 8
 *   | pad (16)  | x87 CW (16)|  sp + 4    pad is zero
 *   | MXCSR (32)               |  sp + 0    <- saved sp (16-byte aligned)
 *   +--------------------------+
 *   lower addresses
 *
 * MXCSR's control bits (rounding, FTZ/DAZ, exception masks) and the x87
 * control word are callee-saved in the SysV ABI, so each context keeps its
 * own. (Their status flags travel along; that is harmless.)
 *
 * A fresh goroutine stack is prepared by Rust (arch::prepare_stack) with the
 * same frame, whose return address is goro_ctx_trampoline and whose
 * callee-saved slots carry:
 *   rbx = G*   r12 = user fn   r13 = user arg   r14 = start hook   r15 = exit hook
 * The frame is placed so that rsp is 16-byte aligned when the trampoline
 * begins, as the ABI wants before each `call`.
 */

        .text

        .globl  goro_ctx_switch
        .hidden goro_ctx_switch
        .type   goro_ctx_switch, @function
        .p2align 4
goro_ctx_switch:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        pushq   $0                      /* zeroes the pad bytes too */
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)

        movq    %rsp, (%rdi)
        movq    %rsp, %r8
        movq    %rsi, %rsp
        /* From here on rsp points at the other context's frame, which has
         * the very same layout, so the CFI above still describes it. */

        /* Reload MXCSR and the x87 control word only when the other
         * context's differ from ours: ldmxcsr and fldcw are the slowest
         * instructions of a switch, and the values almost never change. */
        /* Compared piecewise, each load matching the size of the store
         * that just wrote the same bytes (stmxcsr: 4, fnstcw: 2), so that
         * the CPU forwards them from the store buffer instead of stalling. */
        movl    (%rsp), %eax
        cmpl    (%r8), %eax
        jne     2f
        movzwl  4(%rsp), %eax
        cmpw    %ax, 4(%r8)
        je      1f
2:
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
1:
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        movq    %rdx, %rax
        movq    %rdx, %rdi
        ret
        .cfi_endproc
        .size   goro_ctx_switch, .-goro_ctx_switch

/*
 * First code a goroutine runs, entered by goro_ctx_switch's `ret` with
 * rax = rdi = transfer and the registers listed above.
 *
 *   start(transfer, G*)   finish the switch that started us (runtime hook)
 *   fn(arg)               the user's function
 *   exit(G*)              never returns: the runtime switches away for good
 *
 * The return-address column is undefined here, which tells gdb and every
 * unwinder (libgcc's, used by C++ exceptions) that this is the outermost
 * frame: `bt` stops cleanly, and a C++ exception escaping fn finds no
 * handler and ends in std::terminate instead of unwinding into the
 * scheduler.
 */
        .globl  goro_ctx_trampoline
        .hidden goro_ctx_trampoline
        .type   goro_ctx_trampoline, @function
        .p2align 4
goro_ctx_trampoline:
        .cfi_startproc
        .cfi_undefined %rip
        xorl    %ebp, %ebp
        movq    %rbx, %rsi
        call    *%r14
        movq    %r13, %rdi
        call    *%r12
        movq    %rbx, %rdi
        call    *%r15
        ud2
        .cfi_endproc
        .size   goro_ctx_trampoline, .-goro_ctx_trampoline

/*
 * void goro_ctx_restart(uintptr_t top,        rdi: upper end of the stack
 *                       void (*fn)(void *),   rsi
 *                       void *arg,            rdx
 *                       G *g,                 rcx
 *                       start_hook start,     r8
 *                       exit_hook exit);      r9    -- never returns
 *
 * Starts a fresh goroutine on the stack of the goroutine calling it, which
 * has exited and handed that stack over: nothing of the caller is saved (it
 * never runs again) and no frame is written where its frames still are.
 * The trampoline is entered exactly as goro_ctx_switch's `ret` enters it
 * from a frame built by arch::prepare_stack: rsp = top - 16 (16-byte
 * aligned), the 16 bytes above zeroed, transfer 0 in rax and rdi, the
 * registers listed at the top of this file, MXCSR and the x87 control word
 * at their defaults (reloaded only if the exited goroutine changed them).
 * By a direct jump rather than a `ret` whose target the return-stack
 * predictor could not know.
 */
        .globl  goro_ctx_restart
        .hidden goro_ctx_restart
        .type   goro_ctx_restart, @function
        .p2align 4
goro_ctx_restart:
        .cfi_startproc
        .cfi_undefined %rip
        leaq    -16(%rdi), %rsp
        movq    $0, (%rsp)
        movq    $0, 8(%rsp)
        movq    %rsi, %r12
        movq    %rdx, %r13
        movq    %rcx, %rbx
        movq    %r8, %r14
        movq    %r9, %r15
        /* Below rsp: the ABI's red zone, ours to use in a leaf. */
        stmxcsr -8(%rsp)
        cmpl    $0x1F80, -8(%rsp)       /* DEFAULT_MXCSR in src/arch/mod.rs */
        jne     2f
        fnstcw  -4(%rsp)
        cmpw    $0x037F, -4(%rsp)       /* DEFAULT_X87CW */
        jne     2f
1:
        xorl    %eax, %eax
        xorl    %edi, %edi
        jmp     goro_ctx_trampoline
2:
        movl    $0x1F80, -8(%rsp)
        movw    $0x037F, -4(%rsp)
        ldmxcsr -8(%rsp)
        fldcw   -4(%rsp)
        jmp     1b
        .cfi_endproc
        .size   goro_ctx_restart, .-goro_ctx_restart


/*
 * Thread-local slots of the runtime, initial-exec TLS model: one %fs-relative
 * load, no __tls_get_addr call (the model Rust would pick for a cdylib).
 * Being opaque calls, these accessors also guarantee that no compiler keeps
 * a thread-local address across a context switch: a goroutine may resume
 * on another thread.
 *
 *   void *goro_tls_get(int slot);   slot 0: worker state, 1: plain-thread state
 *   void  goro_tls_set(int slot, void *value);
 */
        .section .tbss,"awT",@nobits
        .p2align 3
        .globl  goro_tls_slots
        .hidden goro_tls_slots
        .type   goro_tls_slots, @object
        .size   goro_tls_slots, 16
goro_tls_slots:
        .zero   16

        .text
        .globl  goro_tls_get
        .hidden goro_tls_get
        .type   goro_tls_get, @function
        .p2align 4
goro_tls_get:
        .cfi_startproc
        movq    goro_tls_slots@gottpoff(%rip), %rax
        movslq  %edi, %rdi
        addq    %fs:0, %rax
        movq    (%rax,%rdi,8), %rax
        ret
        .cfi_endproc
        .size   goro_tls_get, .-goro_tls_get

        .globl  goro_tls_set
        .hidden goro_tls_set
        .type   goro_tls_set, @function
        .p2align 4
goro_tls_set:
        .cfi_startproc
        movq    goro_tls_slots@gottpoff(%rip), %rax
        movslq  %edi, %rdi
        addq    %fs:0, %rax
        movq    %rsi, (%rax,%rdi,8)
        ret
        .cfi_endproc
        .size   goro_tls_set, .-goro_tls_set

        .section .note.GNU-stack,"",@progbits
