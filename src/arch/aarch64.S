/*
 * goro context switch, AArch64 (AAPCS64, Linux).
 *
 * uintptr_t goro_ctx_switch(uintptr_t *save_sp,   x0: where to store our sp
 *                           uintptr_t  load_sp,   x1: sp of the context to resume
 *                           uintptr_t  transfer); x2: handed to the other side
 *
 * Saves exactly the callee-saved state of AAPCS64 (x19-x28, the frame
 * pointer x29, the link register x30, and the low 64 bits of v8-v15, i.e.
 * d8-d15), stores sp in *save_sp, loads load_sp, restores the other
 * context's registers and returns to its x30. The other side sees
 * `transfer` in x0: as the return value of its own goro_ctx_switch call, or,
 * for a fresh stack, as the first argument register when the trampoline
 * starts.
 *
 * Saved frame (160 bytes), as left at the saved sp (16-byte aligned, as sp
 * must always be on AArch64). Offsets are mirrored in src/arch/mod.rs
 * (FRAME_* constants) and asserted there at compile time.
 *
 *   higher addresses
 *   +-----------+-----------+
 *   | x29 (fp)  | x30 (lr)  |  sp + 144   lr = where the switch returns to
 *   | x27       | x28       |  sp + 128
 *   | x25       | x26       |  sp + 112
 *   | x23       | x24       |  sp + 96
 *   | x21       | x22       |  sp + 80
 *   | x19       | x20       |  sp + 64
 *   | d14       | d15       |  sp + 48
 *   | d12       | d13       |  sp + 32
 *   | d10       | d11       |  sp + 16
 *   | d8        | d9        |  sp + 0     <- saved sp
 *   +-----------+-----------+
 *   lower addresses
 *
 * A fresh goroutine stack is prepared by Rust (arch::prepare_stack) with the
 * same frame, lr = goro_ctx_trampoline, fp = 0, and
 *   x19 = user fn   x20 = user arg   x21 = G*   x22 = start hook   x23 = exit hook
 */

        .text

        .globl  goro_ctx_switch
        .hidden goro_ctx_switch
        .type   goro_ctx_switch, %function
        .p2align 4
goro_ctx_switch:
        .cfi_startproc
        sub     sp, sp, #160
        .cfi_def_cfa_offset 160
        stp     d8,  d9,  [sp, #0]
        stp     d10, d11, [sp, #16]
        stp     d12, d13, [sp, #32]
        stp     d14, d15, [sp, #48]
        stp     x19, x20, [sp, #64]
        stp     x21, x22, [sp, #80]
        stp     x23, x24, [sp, #96]
        stp     x25, x26, [sp, #112]
        stp     x27, x28, [sp, #128]
        stp     x29, x30, [sp, #144]
        .cfi_offset x19, -96
        .cfi_offset x20, -88
        .cfi_offset x21, -80
        .cfi_offset x22, -72
        .cfi_offset x23, -64
        .cfi_offset x24, -56
        .cfi_offset x25, -48
        .cfi_offset x26, -40
        .cfi_offset x27, -32
        .cfi_offset x28, -24
        .cfi_offset x29, -16
        .cfi_offset x30, -8

        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        /* sp now points at the other context's frame, same layout. */

        ldp     d8,  d9,  [sp, #0]
        ldp     d10, d11, [sp, #16]
        ldp     d12, d13, [sp, #32]
        ldp     d14, d15, [sp, #48]
        ldp     x19, x20, [sp, #64]
        ldp     x21, x22, [sp, #80]
        ldp     x23, x24, [sp, #96]
        ldp     x25, x26, [sp, #112]
        ldp     x27, x28, [sp, #128]
        ldp     x29, x30, [sp, #144]
        add     sp, sp, #160
        .cfi_def_cfa_offset 0
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore x29
        .cfi_restore x30
        mov     x0, x2
        ret
        .cfi_endproc
        .size   goro_ctx_switch, .-goro_ctx_switch

/*
 * First code a goroutine runs, entered by goro_ctx_switch's `ret` with
 * x0 = transfer and the registers listed above:
 *
 *   start(transfer, G*)   finish the switch that started us (runtime hook)
 *   fn(arg)               the user's function
 *   exit(G*)              never returns
 *
 * The return-address column (x30) is undefined: gdb's `bt` and every
 * unwinder stop here, so a C++ exception escaping fn ends in
 * std::terminate.
 */
        .globl  goro_ctx_trampoline
        .hidden goro_ctx_trampoline
        .type   goro_ctx_trampoline, %function
        .p2align 4
goro_ctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x29, #0
        mov     x1, x21
        blr     x22
        mov     x0, x20
        blr     x19
        mov     x0, x21
        blr     x23
        brk     #0x1
        .cfi_endproc
        .size   goro_ctx_trampoline, .-goro_ctx_trampoline

/*
 * void goro_ctx_restart(uintptr_t top,        x0: upper end of the stack
 *                       void (*fn)(void *),   x1
 *                       void *arg,            x2
 *                       G *g,                 x3
 *                       start_hook start,     x4
 *                       exit_hook exit);      x5    -- never returns
 *
 * Starts a fresh goroutine on the stack of the goroutine calling it, which
 * has exited and handed that stack over: nothing of the caller is saved (it
 * never runs again) and no frame is written where its frames still are.
 * The trampoline is entered exactly as goro_ctx_switch's `ret` enters it
 * from a frame built by arch::prepare_stack: sp = top - 16, the 16 bytes
 * above zeroed, transfer 0 in x0, x19-x23 as listed at the top of this
 * file (d8-d15 and x24-x28 are callee-saved for a caller the trampoline
 * does not have: their values do not matter).
 */
        .globl  goro_ctx_restart
        .hidden goro_ctx_restart
        .type   goro_ctx_restart, %function
        .p2align 4
goro_ctx_restart:
        .cfi_startproc
        .cfi_undefined x30
        sub     sp, x0, #16
        stp     xzr, xzr, [sp]
        mov     x19, x1
        mov     x20, x2
        mov     x21, x3
        mov     x22, x4
        mov     x23, x5
        mov     x0, #0
        b       goro_ctx_trampoline
        .cfi_endproc
        .size   goro_ctx_restart, .-goro_ctx_restart


/*
 * Thread-local slots of the runtime, initial-exec TLS model (tpidr_el0
 * relative, no __tls_get_addr). Opaque calls: no compiler keeps a
 * thread-local address across a context switch.
 *
 *   void *goro_tls_get(int slot);   slot 0: worker state, 1: plain-thread state
 *   void  goro_tls_set(int slot, void *value);
 */
        .section .tbss,"awT",%nobits
        .p2align 3
        .type   goro_tls_slots, %object
        .size   goro_tls_slots, 16
goro_tls_slots:
        .zero   16

        .text
        .globl  goro_tls_get
        .hidden goro_tls_get
        .type   goro_tls_get, %function
        .p2align 4
goro_tls_get:
        .cfi_startproc
        mrs     x1, tpidr_el0
        adrp    x2, :gottprel:goro_tls_slots
        ldr     x2, [x2, #:gottprel_lo12:goro_tls_slots]
        add     x1, x1, x2
        ldr     x0, [x1, w0, sxtw #3]
        ret
        .cfi_endproc
        .size   goro_tls_get, .-goro_tls_get

        .globl  goro_tls_set
        .hidden goro_tls_set
        .type   goro_tls_set, %function
        .p2align 4
goro_tls_set:
        .cfi_startproc
        mrs     x2, tpidr_el0
        adrp    x3, :gottprel:goro_tls_slots
        ldr     x3, [x3, #:gottprel_lo12:goro_tls_slots]
        add     x2, x2, x3
        str     x1, [x2, w0, sxtw #3]
        ret
        .cfi_endproc
        .size   goro_tls_set, .-goro_tls_set

        .section .note.GNU-stack,"",%progbits
