/* Stack overflow is reported (goroutine id, name, stack size, how to raise
 * it) and aborts; it never silently corrupts another goroutine. */
#include "harness.h"
#include <alloca.h>
#include <goro.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static __attribute__((noinline)) long recurse(long n) {
    volatile char pad[256];
    pad[0] = (char)n;
    if (n == 0) return pad[0];
    return recurse(n - 1) + pad[0];
}

static void overflow(void *arg) {
    (void)arg;
    recurse(1L << 30);
}

static void hold(void *arg) {
    (void)arg;
    go_sleep(60LL * 1000 * 1000 * 1000);
}

static void run_overflow(const go_attr_t *a) {
    /* Neighbours that must not be corrupted silently. */
    for (int i = 0; i < 8; i++) go_spawn(hold, NULL);
    CHECK(go_spawn_ex(overflow, NULL, a) == 0);
    go_sleep(30LL * 1000 * 1000 * 1000);
    fprintf(stderr, "overflow was not detected\n");
    exit(1);
}

static void default_stack(void) { run_overflow(NULL); }

static void named_small_stack(void) {
    go_attr_t a = {64 * 1024, "deep-thought"};
    run_overflow(&a);
}

/* One frame larger than the 16 KiB guard. This file is compiled with
 * -fstack-clash-protection (as distributions build their packages): the
 * frame is probed page by page from the top, so the first touch below the
 * stack hits the guard. Without probes, a frame that jumps over the guard
 * and is written from its low end can reach a neighbouring stack before
 * any fault: README ("Stack overflow") recommends the flag, as for
 * pthreads, whose guard is a single page. */
static void big_frame(void *arg) {
    (void)arg;
    volatile char *p = alloca(200 * 1024);
    for (size_t i = 0; i < 200 * 1024; i += 4096) p[i] = 1;
}

static void frame_past_guard(void) {
    for (int i = 0; i < 8; i++) go_spawn(hold, NULL);
    go_attr_t a = {128 * 1024, "big-frame"};
    CHECK(go_spawn_ex(big_frame, NULL, &a) == 0);
    go_sleep(30LL * 1000 * 1000 * 1000);
    exit(1);
}

/* The overflowing goroutine is spawned by one that returns right after:
 * with one worker it starts in place, on the stack of the one that exited
 * (the runtime's restart path). The report must name it and its stack. */
static void spawn_overflow_and_return(void *arg) {
    (void)arg;
    CHECK(go_spawn(overflow, NULL) == 0);
}

static void started_in_place(void) {
    go_maxprocs(1);
    for (int i = 0; i < 8; i++) go_spawn(hold, NULL);
    CHECK(go_spawn(spawn_overflow_and_return, NULL) == 0);
    go_sleep(30LL * 1000 * 1000 * 1000);
    fprintf(stderr, "overflow was not detected\n");
    exit(1);
}

static void mprotect_guard(void) {
    setenv("GORO_STACK_GUARD", "mprotect", 1);
    run_overflow(NULL);
}

/* Touches the default 128 KiB stack top-down and 8 KiB below it: that
 * faults in the guard at once. Without a guard the touch lands silently in
 * the unmapped-but-reserved gap, and nothing fails until much later. */
static void just_below(void *arg) {
    (void)arg;
    volatile char *p = alloca(128 * 1024 + 8 * 1024);
    for (long off = 128 * 1024 + 8 * 1024 - 4096; off >= 0; off -= 4096) p[off] = 1;
    fprintf(stderr, "no guard below the stack\n");
    exit(1);
}

/* goro installs the guards of fresh stacks in batched process_madvise(2)
 * calls; where the kernel (or a seccomp policy, as here) refuses them, it
 * falls back to one madvise per guard. The guards must be there either
 * way. The filter is installed on every thread (TSYNC) before goro starts
 * its workers. */
static void no_process_madvise(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_madvise, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) == 0);
    CHECK(syscall(SYS_process_madvise, -1, NULL, 0, 0, 0) == -1 && errno == ENOSYS);
    for (int i = 0; i < 8; i++) go_spawn(hold, NULL);
    CHECK(go_spawn(just_below, NULL) == 0);
    go_sleep(30LL * 1000 * 1000 * 1000);
    exit(1);
}

/* Without guard pages: overflow a little (into the gap below the stack),
 * then switch: the check at the switch catches it. */
static void small_overflow_then_yield(void *arg) {
    (void)arg;
    volatile char *p = alloca(128 * 1024 + 8 * 1024);
    p[0] = 1;
    p[64 * 1024] = 1; /* touch pages from the top down, as gcc's probes would */
    p[8 * 1024] = 1;
    p[0] = 2;
    go_yield();
    go_sleep(1000);
}

static void canary_mode(void) {
    setenv("GORO_STACK_GUARD", "none", 1);
    for (int i = 0; i < 8; i++) go_spawn(hold, NULL);
    CHECK(go_spawn(small_overflow_then_yield, NULL) == 0);
    go_sleep(30LL * 1000 * 1000 * 1000);
    exit(1);
}

/* A fault that is not a stack overflow still crashes as a plain SIGSEGV. */
static void null_deref(void *arg) {
    (void)arg;
    volatile int *p = NULL;
    *p = 1;
}

static void not_ours(void) {
    CHECK(go_spawn(null_deref, NULL) == 0);
    go_sleep(30LL * 1000 * 1000 * 1000);
}

static void not_ours_is_segv(void) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        execl("/proc/self/exe", "core_overflow", "not_ours", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[4096] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    (void)n;
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(strstr(buf, "stack overflow") == NULL);
}

static const struct goro_case cases[] = {
    {"default_stack", default_stack,
     "(stack 128 KiB; raise GORO_STACK_SIZE or go_spawn_ex stack_size)"},
    {"named_small_stack", named_small_stack,
     "[deep-thought] (stack 64 KiB; raise GORO_STACK_SIZE or go_spawn_ex stack_size)"},
    {"frame_past_guard", frame_past_guard, "[big-frame] (stack 128 KiB;"},
    {"started_in_place", started_in_place,
     "(stack 128 KiB; raise GORO_STACK_SIZE or go_spawn_ex stack_size)"},
    {"mprotect_guard", mprotect_guard, "stack overflow in goroutine"},
    {"no_process_madvise", no_process_madvise,
     "(stack 128 KiB; raise GORO_STACK_SIZE or go_spawn_ex stack_size)\n"},
    {"canary_mode", canary_mode, "stack overflow in goroutine"},
    {"not_ours", not_ours, NULL},
    {"not_ours_is_segv", not_ours_is_segv, NULL},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    /* "not_ours" only runs when asked for by not_ours_is_segv. */
    if (argc == 1) {
        static struct goro_case run[16];
        int k = 0;
        for (const struct goro_case *c = cases; c->name; c++)
            if (strcmp(c->name, "not_ours") != 0) run[k++] = *c;
        return goro_test_main(argc, argv, run);
    }
    return goro_test_main(argc, argv, cases);
}
