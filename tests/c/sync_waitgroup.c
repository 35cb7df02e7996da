/*
 * go_waitgroup_t from C: Go's WaitGroup tests (two-phase barrier, Go,
 * reuse), waiting from many goroutines and threads at once, a WaitGroup
 * on the stack freed right after wait, go_waitgroup_go's errors and exact
 * go_num_goroutine, parking, and the fatal misuse.
 */
#include "sync_common.h"

/* ---- Go's testWaitGroup: n goroutines (and threads) do wg1.done then
 * wg2.wait; nobody may pass wg2 before main's n dones. ---- */

static go_waitgroup_t wg1, wg2;
static atomic_long exited;

static void two_phase_worker(void *arg) {
    (void)arg;
    go_waitgroup_done(&wg1);
    go_waitgroup_wait(&wg2);
    atomic_fetch_add(&exited, 1);
}

static void two_phase_n(int gs, int ts) {
    static struct group g;
    int n = gs + ts;
    atomic_store(&exited, 0);
    go_waitgroup_add(&wg1, n);
    go_waitgroup_add(&wg2, n);
    group_start(&g, gs, ts, two_phase_worker, NULL);
    go_waitgroup_wait(&wg1);
    for (int i = 0; i < n; i++) {
        CHECK(atomic_load(&exited) == 0); /* released too soon? */
        go_waitgroup_done(&wg2);
    }
    group_wait(&g);
    CHECK_EQ_LL(atomic_load(&exited), n);
}

static void two_phase(void) {
    /* The same WaitGroups, reused round after round. */
    for (int round = 0; round < 20; round++) {
        two_phase_n(16, 0);
        two_phase_n(8, 4);
        two_phase_n(0, 3);
    }
}

/* ---- many waiters, goroutines and threads, one WaitGroup ---- */

static go_waitgroup_t gate;
static atomic_long waiters_in, waiters_out;

static void gate_waiter(void *arg) {
    (void)arg;
    atomic_fetch_add(&waiters_in, 1);
    go_waitgroup_wait(&gate);
    atomic_fetch_add(&waiters_out, 1);
}

static void gate_opener(void *arg) {
    (void)arg;
    go_waitgroup_done(&gate);
}

static void many_waiters(void) {
    for (int round = 0; round < 50; round++) {
        static struct group g, openers;
        atomic_store(&waiters_in, 0);
        atomic_store(&waiters_out, 0);
        go_waitgroup_add(&gate, 5);
        group_start(&g, 30, 4, gate_waiter, NULL);
        await_at_least(&waiters_in, 34);
        CHECK(atomic_load(&waiters_out) == 0);
        group_start(&openers, 3, 2, gate_opener, NULL);
        group_wait(&g);
        group_wait(&openers);
        CHECK_EQ_LL(atomic_load(&waiters_out), 34);
    }
}

/* ---- Go's TestWaitGroupGo + go_num_goroutine exact after wait ---- */

static atomic_long go_ran;

static void go_body(void *arg) {
    (void)arg;
    atomic_fetch_add(&go_ran, 1);
}

static void spawner(void *arg) {
    go_waitgroup_t *wg = arg;
    for (int i = 0; i < 50; i++) CHECK(go_waitgroup_go(wg, go_body, NULL) == 0);
}

static void waitgroup_go(void) {
    for (int round = 0; round < 50; round++) {
        go_waitgroup_t wg = GO_WAITGROUP_INIT;
        atomic_store(&go_ran, 0);
        for (int i = 0; i < 100; i++) CHECK(go_waitgroup_go(&wg, go_body, NULL) == 0);
        CHECK(go_waitgroup_go(&wg, spawner, &wg) == 0); /* nested: adds while counted */
        go_waitgroup_wait(&wg);
        CHECK_EQ_LL(atomic_load(&go_ran), 150);
        CHECK_EQ_LL(go_num_goroutine(), 0);
    }
    /* Errors leave the counter as it was. */
    go_waitgroup_t wg = GO_WAITGROUP_INIT;
    CHECK_EQ_LL(go_waitgroup_go(&wg, NULL, NULL), EINVAL);
    static const unsigned char zero[sizeof wg];
    CHECK(memcmp(&wg, zero, sizeof wg) == 0);
    go_waitgroup_wait(&wg); /* returns at once */
}

/* ---- a WaitGroup on the stack of a function that waits and returns:
 * done must not touch it after waking the waiter. The frame is reused
 * (and poisoned) at once. ---- */

struct stack_job {
    go_waitgroup_t *wg;
};

static void stack_done(void *arg) {
    go_waitgroup_t *wg = arg;
    go_waitgroup_done(wg);
}

static __attribute__((noinline)) void wait_on_stack(int n, int threads) {
    go_waitgroup_t wg = GO_WAITGROUP_INIT;
    go_waitgroup_add(&wg, n);
    pthread_t t[4];
    for (int i = 0; i < threads; i++) {
        struct task_start *s = malloc(sizeof *s);
        CHECK(s != NULL);
        s->fn = stack_done;
        s->arg = &wg;
        CHECK(pthread_create(&t[i], NULL, task_thread_main, s) == 0);
    }
    for (int i = threads; i < n; i++) CHECK(go_spawn(stack_done, &wg) == 0);
    go_waitgroup_wait(&wg);
    memset(&wg, 0x5A, sizeof wg); /* the frame dies here */
    for (int i = 0; i < threads; i++) CHECK(pthread_join(t[i], NULL) == 0);
}

static __attribute__((noinline)) void scribble_stack(void) {
    volatile unsigned char junk[256];
    memset((void *)junk, 0xC3, sizeof junk);
}

static void stack_waiter(void *arg) {
    (void)arg;
    for (int i = 0; i < 300; i++) {
        wait_on_stack(1 + i % 4, 0);
        scribble_stack();
    }
}

static void waitgroup_on_stack(void) {
    for (int i = 0; i < 300; i++) {
        wait_on_stack(1 + i % 4, i % 2);
        scribble_stack();
    }
    static struct group g;
    group_start(&g, 4, 0, stack_waiter, NULL);
    group_wait(&g);
}

/* ---- zero counter: wait returns at once; add then done from a thread
 * while a goroutine waits (parks, the worker keeps running others). ---- */

static go_waitgroup_t park_wg;
static atomic_long park_waiting, park_other, park_released;

static void park_waiter(void *arg) {
    (void)arg;
    atomic_store(&park_waiting, 1);
    go_waitgroup_wait(&park_wg);
    atomic_store(&park_released, 1);
}

static void park_other_fn(void *arg) {
    (void)arg;
    atomic_fetch_add(&park_other, 1);
}

static void parks_not_blocks(void) {
    int old = go_maxprocs(1);
    static struct group g;
    go_waitgroup_wait(&park_wg); /* zero: at once */
    go_waitgroup_add(&park_wg, 1);
    group_go(&g, park_waiter, NULL);
    await_at_least(&park_waiting, 1);
    usleep(1000);
    for (int i = 0; i < 10; i++) group_go(&g, park_other_fn, NULL);
    await_at_least(&park_other, 10); /* ran while the waiter waits */
    CHECK(atomic_load(&park_released) == 0);
    go_waitgroup_done(&park_wg);
    group_wait(&g);
    CHECK(atomic_load(&park_released) == 1);
    go_maxprocs(old);
}

/* ---- fatal misuse ---- */

static go_waitgroup_t misuse_wg;

static void death_negative_add(void) {
    go_waitgroup_add(&misuse_wg, -1);
}

static void death_negative_done(void) {
    go_waitgroup_add(&misuse_wg, 2);
    go_waitgroup_done(&misuse_wg);
    go_waitgroup_done(&misuse_wg);
    go_waitgroup_done(&misuse_wg);
}

static void misuse_done(void *arg) {
    (void)arg;
    go_waitgroup_done(&misuse_wg);
}

static void death_negative_done_goroutine(void) {
    CHECK(go_spawn(misuse_done, NULL) == 0);
    await_death();
}

/* Reuse before the previous wait returned (Go's TestWaitGroupMisuse2,
 * made deterministic with one worker): R releases W and, before W has
 * run again, adds to the WaitGroup. W wakes, finds it in use: fatal. */
static atomic_long w_waiting;

static void reuse_w(void *arg) {
    (void)arg;
    atomic_store(&w_waiting, 1);
    go_waitgroup_wait(&misuse_wg); /* parks at once: nothing else runs in between */
}

static void reuse_r(void *arg) {
    (void)arg;
    go_waitgroup_add(&misuse_wg, 1);
    CHECK(go_spawn(reuse_w, NULL) == 0);
    while (!atomic_load(&w_waiting)) go_yield(); /* W runs, and parks */
    go_waitgroup_done(&misuse_wg);               /* W is runnable, not running */
    go_waitgroup_add(&misuse_wg, 1);             /* reuse */
}

static void death_reused_before_wait_returned(void) {
    /* One worker from the start (this death case runs in a fresh process
     * that has not started the runtime yet): a second one could steal W. */
    setenv("GOMAXPROCS", "1", 1);
    CHECK(go_maxprocs(0) == 1);
    CHECK(go_spawn(reuse_r, NULL) == 0);
    await_death();
}

static const struct goro_case cases[] = {
    {"two_phase", two_phase, NULL},
    {"many_waiters", many_waiters, NULL},
    {"waitgroup_go", waitgroup_go, NULL},
    {"waitgroup_on_stack", waitgroup_on_stack, NULL},
    {"parks_not_blocks", parks_not_blocks, NULL},
    {"death_negative_add", death_negative_add,
     "goro: fatal error: sync: negative WaitGroup counter (goroutine 0, thread "},
    {"death_negative_done", death_negative_done, "goro: fatal error: sync: negative WaitGroup counter"},
    {"death_negative_done_goroutine", death_negative_done_goroutine,
     "goro: fatal error: sync: negative WaitGroup counter (goroutine "},
    {"death_reused_before_wait_returned", death_reused_before_wait_returned,
     "goro: fatal error: sync: WaitGroup is reused before previous Wait has returned (goroutine "},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
