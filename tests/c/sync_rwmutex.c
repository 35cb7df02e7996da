/*
 * go_rwmutex_t from C: Go's RWMutex tests (try-lock matrix, parallel
 * readers that rendezvous inside the read lock, HammerRWMutex), writer
 * preference (a waiting writer stops new readers), parking instead of
 * blocking, goroutines and threads on one lock, and the fatal misuse.
 */
#include "sync_common.h"

static go_rwmutex_t rw0; /* zero value */

/* Go's TestRWMutex, first half. */
static void try_matrix(void) {
    go_rwmutex_t m = GO_RWMUTEX_INIT;
    go_rwmutex_lock(&m);
    CHECK(!go_rwmutex_trylock(&m));
    CHECK(!go_rwmutex_tryrlock(&m));
    go_rwmutex_unlock(&m);
    CHECK(go_rwmutex_trylock(&m));
    go_rwmutex_unlock(&m);
    CHECK(go_rwmutex_tryrlock(&m));
    CHECK(go_rwmutex_tryrlock(&m));
    CHECK(!go_rwmutex_trylock(&m));
    go_rwmutex_runlock(&m);
    go_rwmutex_runlock(&m);
    /* Free again (its bytes need not be zero: with GOMAXPROCS > 1 a write
     * unlock switches readers to per-worker slots). */
    CHECK(go_rwmutex_trylock(&m));
    go_rwmutex_unlock(&m);
    go_rwmutex_rlock(&rw0);
    go_rwmutex_runlock(&rw0);
    go_rwmutex_lock(&rw0);
    go_rwmutex_unlock(&rw0);
}

/* The read paths are plain calls (they need the worker); called through
 * their exported symbols directly (as dlsym and other languages do) and
 * through the header, in any mix, they agree. */
extern void go_rwmutex_rlock_exported(go_rwmutex_t *) __asm__("go_rwmutex_rlock");
extern void go_rwmutex_runlock_exported(go_rwmutex_t *) __asm__("go_rwmutex_runlock");

static void inline_and_exported_agree(void) {
    go_rwmutex_t m = GO_RWMUTEX_INIT;
    go_rwmutex_rlock_exported(&m);
    go_rwmutex_rlock(&m);
    CHECK(!go_rwmutex_trylock(&m));
    go_rwmutex_runlock(&m);
    go_rwmutex_runlock_exported(&m);
    CHECK(go_rwmutex_trylock(&m));
    go_rwmutex_unlock(&m);
    CHECK(go_rwmutex_trylock(&m));
    go_rwmutex_unlock(&m);
}

/* ---- Go's TestParallelReaders: every reader takes the read lock and
 * waits inside it until all readers are in. Would deadlock if readers
 * excluded each other. ---- */

static go_rwmutex_t par_rw;
static go_waitgroup_t par_in, par_release;

static void par_reader(void *arg) {
    (void)arg;
    go_rwmutex_rlock(&par_rw);
    go_waitgroup_done(&par_in);
    go_waitgroup_wait(&par_release);
    go_rwmutex_runlock(&par_rw);
}

static void parallel_readers_n(int gs, int ts) {
    static struct group g;
    go_waitgroup_add(&par_in, gs + ts);
    go_waitgroup_add(&par_release, 1);
    group_start(&g, gs, ts, par_reader, NULL);
    go_waitgroup_wait(&par_in); /* all inside the read lock at once */
    CHECK(!go_rwmutex_trylock(&par_rw));
    go_waitgroup_done(&par_release);
    group_wait(&g);
    CHECK(go_rwmutex_trylock(&par_rw));
    go_rwmutex_unlock(&par_rw);
}

static void parallel_readers(void) {
    parallel_readers_n(1, 0);
    parallel_readers_n(3, 0);
    parallel_readers_n(4, 0);
    parallel_readers_n(8, 4);
    parallel_readers_n(0, 4);
}

/* ---- Go's HammerRWMutex: writers see no one else, readers see no
 * writer. activity: +10000 per writer, +1 per reader. ---- */

static go_rwmutex_t ham_rw;
static atomic_long activity;
static volatile long ham_writes; /* plain: written under the write lock, read under the read lock */
enum { HAM_ITERS = 40000 };

static void ham_reader(void *arg) {
    (void)arg;
    for (int i = 0; i < HAM_ITERS; i++) {
        if (i % 5 == 0 && go_rwmutex_tryrlock(&ham_rw)) {
            CHECK(atomic_fetch_add(&activity, 1) + 1 < 10000);
            atomic_fetch_sub(&activity, 1);
            go_rwmutex_runlock(&ham_rw);
            continue;
        }
        go_rwmutex_rlock(&ham_rw);
        long n = atomic_fetch_add(&activity, 1) + 1;
        CHECK(n < 10000);
        long w0 = ham_writes;
        for (int j = 0; j < 20; j++) {
        }
        CHECK(ham_writes == w0); /* no writer while we read */
        atomic_fetch_sub(&activity, 1);
        go_rwmutex_runlock(&ham_rw);
        if (i % 500 == 0) go_yield();
    }
}

static void ham_writer(void *arg) {
    (void)arg;
    for (int i = 0; i < HAM_ITERS / 4; i++) {
        if (i % 5 == 0 && go_rwmutex_trylock(&ham_rw)) {
            CHECK(atomic_fetch_add(&activity, 10000) + 10000 == 10000);
            ham_writes++;
            atomic_fetch_sub(&activity, 10000);
            go_rwmutex_unlock(&ham_rw);
            continue;
        }
        go_rwmutex_lock(&ham_rw);
        long n = atomic_fetch_add(&activity, 10000) + 10000;
        CHECK_EQ_LL(n, 10000);
        ham_writes++;
        for (int j = 0; j < 20; j++) {
        }
        atomic_fetch_sub(&activity, 10000);
        go_rwmutex_unlock(&ham_rw);
    }
}

static void hammer_case(int gwriters, int twriters, int greaders, int treaders) {
    static struct group g;
    ham_writes = 0;
    group_start(&g, gwriters, twriters, ham_writer, NULL);
    group_start(&g, greaders, treaders, ham_reader, NULL);
    group_wait(&g);
    CHECK_EQ_LL(ham_writes, (long)(gwriters + twriters) * (HAM_ITERS / 4));
    CHECK_EQ_LL(atomic_load(&activity), 0);
}

static void hammer(void) {
    hammer_case(1, 0, 1, 0);
    hammer_case(1, 0, 3, 0);
    hammer_case(1, 1, 5, 2);
    hammer_case(4, 0, 10, 0);
    hammer_case(3, 2, 6, 3);
    hammer_case(0, 2, 0, 3);
}

/* ---- writer preference: with a reader inside and a writer waiting,
 * tryrlock fails and a new reader waits until the writer is done
 * (no writer starvation). ---- */

static go_rwmutex_t pref_rw;
static atomic_long writer_waiting, writer_done, late_reader_in;

static void pref_writer(void *arg) {
    (void)arg;
    atomic_store(&writer_waiting, 1);
    go_rwmutex_lock(&pref_rw);
    CHECK(atomic_load(&late_reader_in) == 0);
    atomic_store(&writer_done, 1);
    go_rwmutex_unlock(&pref_rw);
}

static void pref_late_reader(void *arg) {
    (void)arg;
    go_rwmutex_rlock(&pref_rw);
    CHECK(atomic_load(&writer_done) == 1);
    atomic_store(&late_reader_in, 1);
    go_rwmutex_runlock(&pref_rw);
}

static void writer_preference_case(int writer_thread, int reader_thread) {
    static struct group g;
    atomic_store(&writer_waiting, 0);
    atomic_store(&writer_done, 0);
    atomic_store(&late_reader_in, 0);
    go_rwmutex_rlock(&pref_rw); /* the reader inside */
    if (writer_thread) {
        group_thread(&g, pref_writer, NULL);
    } else {
        group_go(&g, pref_writer, NULL);
    }
    await_at_least(&writer_waiting, 1);
    /* Once the writer has announced itself, new readers are refused. */
    double t = goro_now();
    while (go_rwmutex_tryrlock(&pref_rw)) {
        go_rwmutex_runlock(&pref_rw);
        CHECK(goro_now() - t < 60);
        usleep(100);
    }
    if (reader_thread) {
        group_thread(&g, pref_late_reader, NULL);
    } else {
        group_go(&g, pref_late_reader, NULL);
    }
    usleep(2000); /* give the late reader a chance to (wrongly) get in */
    CHECK(atomic_load(&late_reader_in) == 0 && atomic_load(&writer_done) == 0);
    go_rwmutex_runlock(&pref_rw);
    group_wait(&g);
    CHECK(atomic_load(&writer_done) == 1 && atomic_load(&late_reader_in) == 1);
}

static void writer_preference(void) {
    writer_preference_case(0, 0);
    writer_preference_case(0, 1);
    writer_preference_case(1, 0);
    writer_preference_case(1, 1);
}

/* Readers streaming in continuously cannot starve a writer. */
static go_rwmutex_t stream_rw;
static atomic_long stream_stop, stream_writes;

static void stream_reader(void *arg) {
    (void)arg;
    while (!atomic_load(&stream_stop)) {
        go_rwmutex_rlock(&stream_rw);
        nap_us(50);
        go_rwmutex_runlock(&stream_rw);
    }
}

static void stream_writer(void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        go_rwmutex_lock(&stream_rw);
        atomic_fetch_add(&stream_writes, 1);
        go_rwmutex_unlock(&stream_rw);
    }
}

static void no_writer_starvation(void) {
    static struct group readers, writers;
    atomic_store(&stream_stop, 0);
    group_start(&readers, 6, 2, stream_reader, NULL);
    group_start(&writers, 1, 1, stream_writer, NULL);
    group_wait(&writers);
    atomic_store(&stream_stop, 1);
    group_wait(&readers);
    CHECK_EQ_LL(atomic_load(&stream_writes), 40);
}

/* ---- parking: with one worker, a writer holds the lock and sleeps, a
 * reader blocks on it, another goroutine still runs. ---- */

static go_rwmutex_t abc_rw;
static atomic_long b_started, c_done, a_checked, b_got;
static go_waitgroup_t abc_wg;

static void abc_b(void *arg) {
    (void)arg;
    atomic_store(&b_started, 1);
    if ((intptr_t)arg) {
        go_rwmutex_rlock(&abc_rw);
        CHECK(atomic_load(&a_checked) == 1);
        atomic_store(&b_got, 1);
        go_rwmutex_runlock(&abc_rw);
    } else {
        go_rwmutex_lock(&abc_rw);
        CHECK(atomic_load(&a_checked) == 1);
        atomic_store(&b_got, 1);
        go_rwmutex_unlock(&abc_rw);
    }
}

static void abc_c(void *arg) {
    (void)arg;
    atomic_store(&c_done, 1);
}

/* arg: 1 = A writes and B reads; 0 = A reads and B writes. */
static void abc_a(void *arg) {
    int a_writes = (int)(intptr_t)arg;
    if (a_writes) {
        go_rwmutex_lock(&abc_rw);
    } else {
        go_rwmutex_rlock(&abc_rw);
    }
    CHECK(go_waitgroup_go(&abc_wg, abc_b, arg) == 0);
    await_at_least(&b_started, 1);
    go_sleep(1000 * 1000);
    CHECK(go_waitgroup_go(&abc_wg, abc_c, NULL) == 0);
    await_at_least(&c_done, 1);
    CHECK(atomic_load(&b_got) == 0);
    atomic_store(&a_checked, 1);
    if (a_writes) {
        go_rwmutex_unlock(&abc_rw);
    } else {
        go_rwmutex_runlock(&abc_rw);
    }
}

static void parks_not_blocks(void) {
    int old = go_maxprocs(1);
    for (intptr_t a_writes = 0; a_writes <= 1; a_writes++) {
        atomic_store(&b_started, 0);
        atomic_store(&c_done, 0);
        atomic_store(&a_checked, 0);
        atomic_store(&b_got, 0);
        CHECK(go_waitgroup_go(&abc_wg, abc_a, (void *)a_writes) == 0);
        go_waitgroup_wait(&abc_wg);
        CHECK(atomic_load(&b_got) == 1);
    }
    go_maxprocs(old);
}

/* ---- fatal misuse ---- */

static go_rwmutex_t misuse_rw;

static void misuse_unlock(void *arg) {
    (void)arg;
    go_rwmutex_unlock(&misuse_rw);
}

static void death_unlock_unlocked(void) {
    go_rwmutex_unlock(&misuse_rw);
}

static void death_unlock_unlocked_goroutine(void) {
    CHECK(go_spawn(misuse_unlock, NULL) == 0);
    await_death();
}

static void death_unlock_rlocked(void) {
    go_rwmutex_rlock(&misuse_rw);
    go_rwmutex_unlock(&misuse_rw);
}

static void death_runlock_unlocked(void) {
    go_rwmutex_runlock(&misuse_rw);
}

static void death_runlock_locked(void) {
    go_rwmutex_lock(&misuse_rw);
    go_rwmutex_runlock(&misuse_rw);
}

static void misuse_runlock(void *arg) {
    (void)arg;
    go_rwmutex_runlock(&misuse_rw);
}

static void death_runlock_unlocked_goroutine(void) {
    CHECK(go_spawn(misuse_runlock, NULL) == 0);
    await_death();
}

static const struct goro_case cases[] = {
    {"try_matrix", try_matrix, NULL},
    {"inline_and_exported_agree", inline_and_exported_agree, NULL},
    {"parallel_readers", parallel_readers, NULL},
    {"hammer", hammer, NULL},
    {"writer_preference", writer_preference, NULL},
    {"no_writer_starvation", no_writer_starvation, NULL},
    {"parks_not_blocks", parks_not_blocks, NULL},
    {"death_unlock_unlocked", death_unlock_unlocked,
     "goro: fatal error: sync: Unlock of unlocked RWMutex (goroutine 0, thread "},
    {"death_unlock_unlocked_goroutine", death_unlock_unlocked_goroutine,
     "goro: fatal error: sync: Unlock of unlocked RWMutex (goroutine "},
    {"death_unlock_rlocked", death_unlock_rlocked, "goro: fatal error: sync: Unlock of unlocked RWMutex"},
    {"death_runlock_unlocked", death_runlock_unlocked,
     "goro: fatal error: sync: RUnlock of unlocked RWMutex (goroutine 0, thread "},
    {"death_runlock_locked", death_runlock_locked, "goro: fatal error: sync: RUnlock of unlocked RWMutex"},
    {"death_runlock_unlocked_goroutine", death_runlock_unlocked_goroutine,
     "goro: fatal error: sync: RUnlock of unlocked RWMutex (goroutine "},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
