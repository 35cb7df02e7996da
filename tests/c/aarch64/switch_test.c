/* The aarch64 context switch, tested alone under qemu-aarch64 (this machine
 * is x86_64): switch back and forth between main and a coroutine on its own
 * stack, pass transfer words, and check that callee-saved general and FP
 * registers (x19-x28, d8-d15) survive, and that the trampoline calls the
 * start hook, the function, then the exit hook. The frame is built exactly
 * as src/arch/mod.rs prepare_stack does (layout: src/arch/aarch64.S). Then
 * the exit hook starts a second function in place on the same stack with
 * goro_ctx_restart (as the runtime does when the next goroutine is fresh),
 * which must get its hooks and argument, an aligned sp at the stack's top,
 * and switch back and forth as well. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern uintptr_t goro_ctx_switch(uintptr_t *save_sp, uintptr_t load_sp, uintptr_t transfer);
extern void goro_ctx_trampoline(void);
extern void goro_ctx_restart(uintptr_t top, void (*fn)(void *), void *arg, void *g,
                             void (*start)(uintptr_t, void *), void (*exit)(void *));

static uintptr_t main_sp, co_sp;
static int started, exited;
static uintptr_t got_transfer;

#define FAIL(...) do { printf("FAIL: " __VA_ARGS__); printf("\n"); exit(1); } while (0)

static void start_hook(uintptr_t transfer, void *g) {
    if (g != (void *)0x1234) FAIL("start hook got g=%p", g);
    got_transfer = transfer;
    started = 1;
}

static uintptr_t stack_top;
static int restarted;

static void start_hook2(uintptr_t transfer, void *g) {
    if (g != (void *)0x5678) FAIL("restarted start hook got g=%p", g);
    if (transfer != 0) FAIL("restarted start hook got transfer %lu", (unsigned long)transfer);
    restarted = 1;
}

static void exit_hook2(void *g) {
    if (g != (void *)0x5678) FAIL("restarted exit hook got g=%p", g);
    goro_ctx_switch(&co_sp, main_sp, 100);
    FAIL("exited context resumed");
}

static void body2(void *arg);

static void exit_hook(void *g) {
    if (g != (void *)0x1234) FAIL("exit hook got g=%p", g);
    exited = 1;
    memset((void *)(stack_top - 16), 0xff, 16); /* the pad, above every frame */
    goro_ctx_restart(stack_top, body2, (void *)0xbeef, (void *)0x5678, start_hook2, exit_hook2);
    FAIL("goro_ctx_restart returned");
}

/* check_switch(save, load, transfer, back, salt): loads known values
 * (xor salt) into every callee-saved register (x19-x28, d8-d15), switches, stores the transfer
 * word received back in *back, and returns a bit mask of the registers
 * whose value did not survive (0 = all kept). Written in assembly so that
 * no compiler spill can hide a lost register. */
extern uint64_t check_switch(uintptr_t *save_sp, uintptr_t load_sp, uintptr_t transfer, uintptr_t *back,
                             uint64_t salt);
__asm__(
    ".text\n"
    ".p2align 4\n"
    "check_switch:\n"
    "stp x29, x30, [sp, #-176]!\n"
    "mov x29, sp\n"
    "stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n stp x23, x24, [sp, #48]\n"
    "stp x25, x26, [sp, #64]\n stp x27, x28, [sp, #80]\n"
    "stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n stp d12, d13, [sp, #128]\n stp d14, d15, [sp, #144]\n"
    "stp x3, x4, [sp, #160]\n"
    "movz x19, #0x1901\n eor x19, x19, x4\n"
    "movz x20, #0x2002\n eor x20, x20, x4\n"
    "movz x21, #0x2103\n eor x21, x21, x4\n"
    "movz x22, #0x2204\n eor x22, x22, x4\n"
    "movz x23, #0x2305\n eor x23, x23, x4\n"
    "movz x24, #0x2406\n eor x24, x24, x4\n"
    "movz x25, #0x2507\n eor x25, x25, x4\n"
    "movz x26, #0x2608\n eor x26, x26, x4\n"
    "movz x27, #0x2709\n eor x27, x27, x4\n"
    "movz x28, #0x280a\n eor x28, x28, x4\n"
    "fmov d8, x19\n"
    "fmov d9, x20\n"
    "fmov d10, x21\n"
    "fmov d11, x22\n"
    "fmov d12, x23\n"
    "fmov d13, x24\n"
    "fmov d14, x25\n"
    "fmov d15, x26\n"
    "bl goro_ctx_switch\n"
    "ldp x3, x4, [sp, #160]\n str x0, [x3]\n"
    "mov x0, #0\n"
    "movz x9, #0x1901\n eor x9, x9, x4\n cmp x19, x9\n cset x10, ne\n orr x0, x0, x10, lsl #0\n"
    "movz x9, #0x2002\n eor x9, x9, x4\n cmp x20, x9\n cset x10, ne\n orr x0, x0, x10, lsl #1\n"
    "movz x9, #0x2103\n eor x9, x9, x4\n cmp x21, x9\n cset x10, ne\n orr x0, x0, x10, lsl #2\n"
    "movz x9, #0x2204\n eor x9, x9, x4\n cmp x22, x9\n cset x10, ne\n orr x0, x0, x10, lsl #3\n"
    "movz x9, #0x2305\n eor x9, x9, x4\n cmp x23, x9\n cset x10, ne\n orr x0, x0, x10, lsl #4\n"
    "movz x9, #0x2406\n eor x9, x9, x4\n cmp x24, x9\n cset x10, ne\n orr x0, x0, x10, lsl #5\n"
    "movz x9, #0x2507\n eor x9, x9, x4\n cmp x25, x9\n cset x10, ne\n orr x0, x0, x10, lsl #6\n"
    "movz x9, #0x2608\n eor x9, x9, x4\n cmp x26, x9\n cset x10, ne\n orr x0, x0, x10, lsl #7\n"
    "movz x9, #0x2709\n eor x9, x9, x4\n cmp x27, x9\n cset x10, ne\n orr x0, x0, x10, lsl #8\n"
    "movz x9, #0x280a\n eor x9, x9, x4\n cmp x28, x9\n cset x10, ne\n orr x0, x0, x10, lsl #9\n"
    "fmov x10, d8\n movz x9, #0x1901\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #10\n"
    "fmov x10, d9\n movz x9, #0x2002\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #11\n"
    "fmov x10, d10\n movz x9, #0x2103\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #12\n"
    "fmov x10, d11\n movz x9, #0x2204\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #13\n"
    "fmov x10, d12\n movz x9, #0x2305\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #14\n"
    "fmov x10, d13\n movz x9, #0x2406\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #15\n"
    "fmov x10, d14\n movz x9, #0x2507\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #16\n"
    "fmov x10, d15\n movz x9, #0x2608\n eor x9, x9, x4\n cmp x10, x9\n cset x10, ne\n orr x0, x0, x10, lsl #17\n"
    "ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n"
    "ldp x25, x26, [sp, #64]\n ldp x27, x28, [sp, #80]\n"
    "ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n ldp d12, d13, [sp, #128]\n ldp d14, d15, [sp, #144]\n"
    "ldp x29, x30, [sp], #176\n"
    "ret\n"
);

static int roundtrip_keeps_registers(uintptr_t t, uintptr_t *back) {
    uint64_t bad = check_switch(&main_sp, co_sp, t, back, 0);
    if (bad) printf("lost registers, mask %#llx (bits 0-9: x19-x28, 10-17: d8-d15)\n", (unsigned long long)bad);
    return bad == 0;
}

static void body(void *arg) {
    if ((uintptr_t)arg != 0xabcd) FAIL("arg %p", arg);
    uintptr_t x = 1;
    for (int i = 0; i < 1000; i++) {
        /* Different register values on this side: each side checks its own. */
        uint64_t bad = check_switch(&co_sp, main_sp, x + 1, &x, 0x5a5a5a5a00000000ULL);
        if (bad) FAIL("coroutine lost registers, mask %#llx", (unsigned long long)bad);
    }
    /* return: the trampoline calls the exit hook */
}

static void body2(void *arg) {
    if ((uintptr_t)arg != 0xbeef) FAIL("restarted arg %p", arg);
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    if (fp >= stack_top || fp < stack_top - 1024) FAIL("restarted frame %#lx, stack top %#lx", (unsigned long)fp, (unsigned long)stack_top);
    const uint64_t *pad = (const uint64_t *)(stack_top - 16);
    if (pad[0] != 0 || pad[1] != 0) FAIL("the 16 bytes above the restarted frame are not zeroed");
    uintptr_t x = 0;
    uint64_t bad = check_switch(&co_sp, main_sp, 99, &x, 0x3c3c3c3c00000000ULL);
    if (bad) FAIL("restarted coroutine lost registers, mask %#llx", (unsigned long long)bad);
    if (x != 5) FAIL("restarted coroutine got transfer %lu", (unsigned long)x);
}

int main(void) {
    size_t size = 64 * 1024;
    uint8_t *stack = aligned_alloc(16, size);
    uintptr_t top = (uintptr_t)stack + size;
    stack_top = top;
    uintptr_t sp = top - 16 - 160;
    uint64_t *f = (uint64_t *)sp;
    memset(f, 0, 176);
    f[8] = (uintptr_t)body;                  /* x19: fn */
    f[9] = 0xabcd;                           /* x20: arg */
    f[10] = 0x1234;                          /* x21: G */
    f[11] = (uintptr_t)start_hook;           /* x22 */
    f[12] = (uintptr_t)exit_hook;            /* x23 */
    f[18] = 0;                               /* x29 */
    f[19] = (uintptr_t)goro_ctx_trampoline;  /* x30 */
    co_sp = sp;

    uintptr_t back = 0;
    if (!roundtrip_keeps_registers(777, &back)) FAIL("callee-saved registers lost (first switch)");
    if (!started || got_transfer != 777) FAIL("start hook: started=%d transfer=%lu", started, (unsigned long)got_transfer);
    if (back != 2) FAIL("first transfer back %lu", (unsigned long)back);
    for (int i = 1; i < 1000; i++) {
        if (!roundtrip_keeps_registers(back, &back)) FAIL("callee-saved registers lost at %d", i);
        if (back != (uintptr_t)i + 2) FAIL("transfer %lu at %d", (unsigned long)back, i);
    }
    /* One more: body's loop ends, fn returns, the exit hook restarts the
     * stack with body2, which switches back with 99. */
    if (!roundtrip_keeps_registers(0, &back)) FAIL("registers lost at exit");
    if (!exited || !restarted || back != 99)
        FAIL("exit hook: exited=%d restarted=%d back=%lu", exited, restarted, (unsigned long)back);
    /* And back into body2, which returns: its exit hook switches back with 100. */
    if (!roundtrip_keeps_registers(5, &back)) FAIL("registers lost after the restart");
    if (back != 100) FAIL("restarted exit: back=%lu", (unsigned long)back);
    printf("PASS: aarch64 switch: 1002 round trips, callee-saved x19-x28 and d8-d15 kept, trampoline ok, restart ok\n");
    return 0;
}
