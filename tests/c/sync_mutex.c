/*
 * go_mutex_t from C: the ABI, Go's mutex tests (hammer with a non-atomic
 * holder count, fairness/starvation mode), parking instead of blocking,
 * goroutines and plain threads contending on one mutex, and the fatal
 * misuse. Runs under GOMAXPROCS=1 and 2 (ctest).
 */
#include "sync_common.h"
#include <stdalign.h>

/* The ABI: sizes and alignments are part of it, {0} initializes. */
_Static_assert(sizeof(go_mutex_t) == 8, "go_mutex_t is 8 bytes");
_Static_assert(sizeof(go_rwmutex_t) == 24, "go_rwmutex_t is 24 bytes");
_Static_assert(sizeof(go_waitgroup_t) == 16, "go_waitgroup_t is 16 bytes");
_Static_assert(sizeof(go_once_t) == 8, "go_once_t is 8 bytes");
_Static_assert(alignof(go_mutex_t) == 4, "go_mutex_t alignment");
_Static_assert(alignof(go_rwmutex_t) == 4, "go_rwmutex_t alignment");
_Static_assert(alignof(go_waitgroup_t) == 8, "go_waitgroup_t alignment");
_Static_assert(alignof(go_once_t) == 8, "go_once_t alignment");

static go_mutex_t static_mu; /* zero value, never initialized */
static go_mutex_t init_mu = GO_MUTEX_INIT;
static go_rwmutex_t init_rw = GO_RWMUTEX_INIT;
static go_waitgroup_t init_wg = GO_WAITGROUP_INIT;
static go_once_t init_once = GO_ONCE_INIT;

static void abi(void) {
    CHECK_EQ_LL(sizeof(go_mutex_t), 8);
    CHECK_EQ_LL(sizeof(go_rwmutex_t), 24);
    CHECK_EQ_LL(sizeof(go_waitgroup_t), 16);
    CHECK_EQ_LL(sizeof(go_once_t), 8);
    static const unsigned char zero[24];
    CHECK(memcmp(&init_mu, zero, sizeof init_mu) == 0);
    CHECK(memcmp(&init_rw, zero, sizeof init_rw) == 0);
    CHECK(memcmp(&init_wg, zero, sizeof init_wg) == 0);
    CHECK(memcmp(&init_once, zero, sizeof init_once) == 0);
    /* The zero value is an unlocked mutex, statically and on the heap. */
    go_mutex_lock(&static_mu);
    CHECK(!go_mutex_trylock(&static_mu));
    go_mutex_unlock(&static_mu);
    go_mutex_t *heap = calloc(1, sizeof *heap);
    CHECK(heap != NULL);
    CHECK(go_mutex_trylock(heap));
    CHECK(!go_mutex_trylock(heap));
    go_mutex_unlock(heap);
    go_mutex_lock(heap);
    go_mutex_unlock(heap);
    /* Unlocked again: all-zero again. */
    CHECK(memcmp(heap, zero, sizeof *heap) == 0);
    free(heap);
    go_mutex_t local = GO_MUTEX_INIT;
    go_mutex_lock(&local);
    go_mutex_unlock(&local);
}

/* The header inlines the uncontended lock and unlock; the exported
 * functions (for dlsym and other languages) and the slow paths agree. */
extern void go_mutex_lock_exported(go_mutex_t *) __asm__("go_mutex_lock");
extern void go_mutex_unlock_exported(go_mutex_t *) __asm__("go_mutex_unlock");

static void inline_and_exported_agree(void) {
    go_mutex_t m = GO_MUTEX_INIT;
    go_mutex_lock_exported(&m);
    CHECK(!go_mutex_trylock(&m));
    go_mutex_unlock(&m);
    go_mutex_lock(&m);
    go_mutex_unlock_exported(&m);
    go_mutex_lock_slow(&m);
    CHECK(!go_mutex_trylock(&m));
    go_mutex_unlock_slow(&m);
    CHECK(go_mutex_trylock(&m));
    go_mutex_unlock(&m);
    static const unsigned char zero[sizeof m];
    CHECK(memcmp(&m, zero, sizeof m) == 0);
}

/* ---- hammer: Go's HammerMutex, from goroutines and threads at once ---- */

static go_mutex_t hammer_mu;
static volatile int holders; /* non-atomic on purpose: only the lock protects it */
static long hammer_count;    /* plain, protected by hammer_mu */
static atomic_long hammer_trylocks;
enum { HAMMER_ITERS = 100000 };

static void hammer(void *arg) {
    (void)arg;
    for (int i = 0; i < HAMMER_ITERS; i++) {
        if (i % 3 == 0) {
            if (go_mutex_trylock(&hammer_mu)) {
                CHECK(++holders == 1);
                hammer_count++;
                atomic_fetch_add(&hammer_trylocks, 1);
                holders--;
                go_mutex_unlock(&hammer_mu);
            }
            continue;
        }
        go_mutex_lock(&hammer_mu);
        CHECK(++holders == 1);
        hammer_count++;
        holders--;
        go_mutex_unlock(&hammer_mu);
        if (i % 1000 == 0) go_yield();
    }
}

static void hammer_mixed(void) {
    static struct group g;
    enum { GS = 8, TS = 3 };
    hammer_count = 0;
    atomic_store(&hammer_trylocks, 0);
    group_start(&g, GS, TS, hammer, NULL);
    group_wait(&g);
    long locks = (long)(GS + TS) * (HAMMER_ITERS - (HAMMER_ITERS + 2) / 3);
    CHECK_EQ_LL(hammer_count, locks + atomic_load(&hammer_trylocks));
    CHECK(go_mutex_trylock(&hammer_mu));
    go_mutex_unlock(&hammer_mu);
}

static void hammer_goroutines_only(void) {
    static struct group g;
    hammer_count = 0;
    atomic_store(&hammer_trylocks, 0);
    group_start(&g, 16, 0, hammer, NULL);
    group_wait(&g);
    CHECK_EQ_LL(hammer_count, 16L * (HAMMER_ITERS - (HAMMER_ITERS + 2) / 3) + atomic_load(&hammer_trylocks));
}

/* ---- blocking parks the goroutine: with one worker, A holds the lock
 * and sleeps, B blocks on it, C still runs to completion before A
 * unlocks. If B's lock blocked the worker, nothing would run again. ---- */

static go_mutex_t abc_mu;
static atomic_long b_started, b_got, c_done, a_checked;

static void abc_b(void *arg) {
    (void)arg;
    atomic_store(&b_started, 1);
    go_mutex_lock(&abc_mu);
    CHECK(atomic_load(&a_checked) == 1); /* only after A unlocked */
    atomic_store(&b_got, 1);
    go_mutex_unlock(&abc_mu);
}

static void abc_c(void *arg) {
    (void)arg;
    atomic_store(&c_done, 1);
}

static go_waitgroup_t abc_wg;

static void abc_a(void *arg) {
    (void)arg;
    go_mutex_lock(&abc_mu);
    CHECK(go_waitgroup_go(&abc_wg, abc_b, NULL) == 0);
    /* B runs and blocks while we sleep; then C is spawned and must run
     * although B waits on the lock. */
    await_at_least(&b_started, 1);
    go_sleep(1000 * 1000);
    CHECK(go_waitgroup_go(&abc_wg, abc_c, NULL) == 0);
    await_at_least(&c_done, 1);
    CHECK(atomic_load(&b_got) == 0);
    atomic_store(&a_checked, 1);
    go_mutex_unlock(&abc_mu);
}

static void parks_not_blocks(void) {
    int old = go_maxprocs(1);
    CHECK(go_waitgroup_go(&abc_wg, abc_a, NULL) == 0);
    go_waitgroup_wait(&abc_wg);
    CHECK(atomic_load(&b_got) == 1 && atomic_load(&c_done) == 1);
    go_maxprocs(old);
}

/* A plain thread blocked on a mutex held by a goroutine blocks only
 * itself: goroutines (one worker) keep running meanwhile. */
static go_mutex_t tb_mu;
static atomic_long tb_locked, tb_thread_waiting, tb_thread_got, tb_ran;

static void tb_holder(void *arg) {
    (void)arg;
    go_mutex_lock(&tb_mu);
    atomic_store(&tb_locked, 1);
    await_at_least(&tb_thread_waiting, 1);
    await_at_least(&tb_ran, 100); /* other goroutines run meanwhile */
    CHECK(atomic_load(&tb_thread_got) == 0);
    go_mutex_unlock(&tb_mu);
}

static void tb_other(void *arg) {
    (void)arg;
    atomic_fetch_add(&tb_ran, 1);
}

static void *tb_thread(void *arg) {
    (void)arg;
    await_at_least(&tb_locked, 1);
    atomic_store(&tb_thread_waiting, 1);
    go_mutex_lock(&tb_mu);
    atomic_store(&tb_thread_got, 1);
    go_mutex_unlock(&tb_mu);
    return NULL;
}

static void thread_blocks_only_itself(void) {
    int old = go_maxprocs(1);
    static go_waitgroup_t wg;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, tb_thread, NULL) == 0);
    CHECK(go_waitgroup_go(&wg, tb_holder, NULL) == 0);
    await_at_least(&tb_thread_waiting, 1);
    for (int i = 0; i < 100; i++) CHECK(go_waitgroup_go(&wg, tb_other, NULL) == 0);
    go_waitgroup_wait(&wg);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(atomic_load(&tb_thread_got) == 1);
    go_maxprocs(old);
}

/* ---- fairness: Go's TestMutexFairness. One side re-locks in a loop,
 * sleeping while it holds the lock; the other must still get it 10 times
 * (starvation mode hands it over after 1 ms). Without starvation mode the
 * looper re-takes the lock before the woken waiter runs, forever. Looper
 * and waiter are goroutines or threads in every combination. ---- */

static go_mutex_t fair_mu;
static atomic_long fair_stop;

static void fair_looper(void *arg) {
    (void)arg;
    while (!atomic_load(&fair_stop)) {
        go_mutex_lock(&fair_mu);
        nap_us(100);
        go_mutex_unlock(&fair_mu);
    }
}

static void fair_waiter(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) {
        nap_us(100);
        go_mutex_lock(&fair_mu);
        go_mutex_unlock(&fair_mu);
    }
    atomic_store(&fair_stop, 1);
}

static void fairness_case(int looper_thread, int waiter_thread) {
    static struct group g;
    atomic_store(&fair_stop, 0);
    if (looper_thread) {
        group_thread(&g, fair_looper, NULL);
    } else {
        group_go(&g, fair_looper, NULL);
    }
    if (waiter_thread) {
        group_thread(&g, fair_waiter, NULL);
    } else {
        group_go(&g, fair_waiter, NULL);
    }
    group_wait(&g);
}

static void fairness(void) {
    fairness_case(0, 0);
    fairness_case(0, 1);
    fairness_case(1, 0);
    fairness_case(1, 1);
}

/* Two loopers and many waiters at once: everyone gets through. */
static void fair_many_waiter(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) {
        go_mutex_lock(&fair_mu);
        go_mutex_unlock(&fair_mu);
    }
}

static void fairness_many(void) {
    static struct group loopers, waiters;
    atomic_store(&fair_stop, 0);
    group_go(&loopers, fair_looper, NULL);
    group_thread(&loopers, fair_looper, NULL);
    group_start(&waiters, 20, 3, fair_many_waiter, NULL);
    group_wait(&waiters);
    atomic_store(&fair_stop, 1);
    group_wait(&loopers);
}

/* ---- any goroutine or thread may unlock (not owned) ---- */

static go_mutex_t handoff_mu;
static void unlock_it(void *arg) {
    (void)arg;
    go_mutex_unlock(&handoff_mu);
}

static void not_owned(void) {
    static struct group g;
    go_mutex_lock(&handoff_mu); /* thread locks, goroutine unlocks */
    group_go(&g, unlock_it, NULL);
    group_wait(&g);
    go_mutex_lock(&handoff_mu); /* and the other way round */
    group_thread(&g, unlock_it, NULL);
    group_wait(&g);
    CHECK(go_mutex_trylock(&handoff_mu));
    go_mutex_unlock(&handoff_mu);
}

/* ---- free right after unlock: the last holder frees the mutex while
 * the unlock that let it in may still be returning. ---- */

struct refobj {
    go_mutex_t mu;
    int refs;
};

static void ref_drop(void *arg) {
    struct refobj *o = arg;
    go_mutex_lock(&o->mu);
    int last = --o->refs == 0;
    go_mutex_unlock(&o->mu);
    if (last) {
        memset(o, 0xA5, sizeof *o); /* poison: a late access by unlock would be seen */
        free(o);
    }
}

static void free_after_unlock(void) {
    static struct group g;
    for (int round = 0; round < 2000; round++) {
        struct refobj *o = calloc(1, sizeof *o);
        CHECK(o != NULL);
        o->refs = 4;
        group_go(&g, ref_drop, o);
        group_go(&g, ref_drop, o);
        group_thread(&g, ref_drop, o);
        ref_drop(o);
        group_wait(&g);
    }
}

/* ---- fatal misuse ---- */

static go_mutex_t misuse_mu;

static void misuse_unlock(void *arg) {
    (void)arg;
    go_mutex_unlock(&misuse_mu);
}

static void death_unlock_unlocked_goroutine(void) {
    CHECK(go_spawn(misuse_unlock, NULL) == 0);
    await_death();
}

static void death_unlock_unlocked_thread(void) {
    misuse_unlock(NULL);
}

static void death_unlock_twice(void) {
    go_mutex_lock(&misuse_mu);
    go_mutex_unlock(&misuse_mu);
    go_mutex_unlock(&misuse_mu);
}

static const struct goro_case cases[] = {
    {"abi", abi, NULL},
    {"inline_and_exported_agree", inline_and_exported_agree, NULL},
    {"hammer_mixed", hammer_mixed, NULL},
    {"hammer_goroutines_only", hammer_goroutines_only, NULL},
    {"parks_not_blocks", parks_not_blocks, NULL},
    {"thread_blocks_only_itself", thread_blocks_only_itself, NULL},
    {"fairness", fairness, NULL},
    {"fairness_many", fairness_many, NULL},
    {"not_owned", not_owned, NULL},
    {"free_after_unlock", free_after_unlock, NULL},
    {"death_unlock_unlocked_goroutine", death_unlock_unlocked_goroutine,
     "goro: fatal error: sync: unlock of unlocked mutex (goroutine "},
    {"death_unlock_unlocked_thread", death_unlock_unlocked_thread,
     "goro: fatal error: sync: unlock of unlocked mutex (goroutine 0, thread "},
    {"death_unlock_twice", death_unlock_twice, "goro: fatal error: sync: unlock of unlocked mutex"},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
