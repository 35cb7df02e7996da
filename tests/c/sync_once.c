/*
 * go_once_t from C: Go's TestOnce (exactly one call, every caller returns
 * after it completed and sees its writes) from goroutines and threads
 * racing, the inlined fast path, a goroutine waiting on a running Once
 * parks, and the fatal recursive call.
 */
#include "sync_common.h"

struct one {
    go_once_t once;
    atomic_long calls;
    long payload; /* plain: written by fn, read by every caller after do */
    char buf[64];
};

static void incr(void *arg) {
    struct one *o = arg;
    CHECK(atomic_fetch_add(&o->calls, 1) == 0);
    /* Take a while, so that others pile up behind us (parked or blocked). */
    nap_us(200);
    o->payload = 42;
    strcpy(o->buf, "initialized");
}

static void once_caller(void *arg) {
    struct one *o = arg;
    go_once_do(&o->once, incr, o);
    CHECK_EQ_LL(atomic_load(&o->calls), 1);
    CHECK_EQ_LL(o->payload, 42);
    CHECK(strcmp(o->buf, "initialized") == 0);
}

/* Go's TestOnce, from goroutines and threads racing on fresh Onces. */
static void once_race(void) {
    for (int round = 0; round < 200; round++) {
        static struct group g;
        struct one *o = calloc(1, sizeof *o);
        CHECK(o != NULL);
        group_start(&g, 10, round % 3, once_caller, o);
        group_wait(&g);
        once_caller(o);
        CHECK_EQ_LL(atomic_load(&o->calls), 1);
        free(o);
    }
}

/* Zero value, GO_ONCE_INIT, the inlined fast path and the exported
 * functions agree. */
static go_once_t static_once; /* zero value */
static int static_calls;
static void count_static(void *arg) {
    (void)arg;
    static_calls++;
}

/* The exported symbol, bypassing the header's inline version. */
extern void go_once_do_exported(go_once_t *, go_fn, void *) __asm__("go_once_do");

static void fast_path(void) {
    go_once_do(&static_once, count_static, NULL);
    go_once_do(&static_once, count_static, NULL);
    go_once_do_slow(&static_once, count_static, NULL);
    go_once_do_exported(&static_once, count_static, NULL);
    CHECK_EQ_LL(static_calls, 1);
    go_once_t o = GO_ONCE_INIT;
    go_once_do_exported(&o, count_static, NULL);
    go_once_do(&o, count_static, NULL);
    CHECK_EQ_LL(static_calls, 2);
    go_once_t o2 = GO_ONCE_INIT;
    go_once_do_slow(&o2, count_static, NULL);
    go_once_do(&o2, count_static, NULL);
    CHECK_EQ_LL(static_calls, 3);
    /* A done Once is the word 1 (what the inlined fast path tests). */
    uint64_t word;
    memcpy(&word, &o2, sizeof word);
    CHECK_EQ_LL(word, 1);
    for (int i = 0; i < 1000000; i++) go_once_do(&static_once, count_static, NULL);
    CHECK_EQ_LL(static_calls, 3);
}

/* Nested: fn may use *another* Once. */
static go_once_t outer, inner;
static int inner_calls;
static void inner_fn(void *arg) {
    (void)arg;
    inner_calls++;
}
static void outer_fn(void *arg) {
    (void)arg;
    go_once_do(&inner, inner_fn, NULL);
}
static void nested_other_once(void) {
    go_once_do(&outer, outer_fn, NULL);
    go_once_do(&inner, inner_fn, NULL);
    CHECK_EQ_LL(inner_calls, 1);
}

/* With one worker, goroutines waiting on a running Once park: the
 * running fn (which sleeps) still sees other goroutines run. */
static go_once_t park_once;
static atomic_long park_others, park_waiters_in;
static void park_other(void *arg) {
    (void)arg;
    atomic_fetch_add(&park_others, 1);
}
static void slow_init(void *arg) {
    (void)arg;
    await_at_least(&park_waiters_in, 5); /* they block behind us ... */
    go_sleep(1000 * 1000);
    for (int i = 0; i < 10; i++) CHECK(go_spawn(park_other, NULL) == 0);
    await_at_least(&park_others, 10); /* ... and the worker runs others */
}
static void park_caller(void *arg) {
    (void)arg;
    atomic_fetch_add(&park_waiters_in, 1);
    go_once_do(&park_once, slow_init, NULL);
}
static void parks_not_blocks(void) {
    int old = go_maxprocs(1);
    static struct group g;
    group_start(&g, 6, 0, park_caller, NULL);
    group_wait(&g);
    go_maxprocs(old);
}

/* ---- fatal misuse ---- */

static go_once_t rec_once;
static void recurse(void *arg) {
    (void)arg;
    go_once_do(&rec_once, recurse, NULL);
}
static void recurse_indirect_inner(void *arg);
static void recurse_indirect(void *arg) {
    (void)arg;
    static go_once_t other;
    go_once_do(&other, recurse_indirect_inner, NULL);
}
static void recurse_indirect_inner(void *arg) {
    (void)arg;
    go_once_do(&rec_once, recurse_indirect, NULL);
}

static void death_recursive_thread(void) {
    go_once_do(&rec_once, recurse, NULL);
}

static void recursive_in_goroutine(void *arg) {
    (void)arg;
    go_once_do(&rec_once, recurse, NULL);
}

static void death_recursive_goroutine(void) {
    CHECK(go_spawn(recursive_in_goroutine, NULL) == 0);
    await_death();
}

static void death_recursive_indirect(void) {
    go_once_do(&rec_once, recurse_indirect, NULL);
}

static void death_null_fn(void) {
    static go_once_t o;
    go_once_do(&o, NULL, NULL);
}

static const struct goro_case cases[] = {
    {"once_race", once_race, NULL},
    {"fast_path", fast_path, NULL},
    {"nested_other_once", nested_other_once, NULL},
    {"parks_not_blocks", parks_not_blocks, NULL},
    {"death_recursive_thread", death_recursive_thread,
     "goro: fatal error: sync: Once.Do called recursively (goroutine 0, thread "},
    {"death_recursive_goroutine", death_recursive_goroutine,
     "goro: fatal error: sync: Once.Do called recursively (goroutine "},
    {"death_recursive_indirect", death_recursive_indirect, "goro: fatal error: sync: Once.Do called recursively"},
    {"death_null_fn", death_null_fn, "goro: fatal error: sync: go_once_do called with a NULL function"},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
