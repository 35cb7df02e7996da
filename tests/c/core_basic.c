/* The goroutine API from C: spawn/join from goroutines and plain threads
 * with exact counts, ids, errno returns, stack sizes, sleep, GOMAXPROCS. */
#include "harness.h"
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

static atomic_long counter;

static void wait_until(atomic_long *c, long n) {
    double t = goro_now();
    while (atomic_load(c) < n) {
        CHECK(goro_now() - t < 60);
        usleep(200);
    }
}

static void leaf(void *arg) {
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void parent(void *arg) {
    long kids = (long)(intptr_t)arg;
    for (long i = 0; i < kids; i++) CHECK(go_spawn(leaf, NULL) == 0);
    atomic_fetch_add(&counter, 1);
}

static void *thread_spawner(void *arg) {
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) CHECK(go_spawn(parent, (void *)(intptr_t)2) == 0);
    return NULL;
}

static void spawn_from_threads_and_goroutines(void) {
    atomic_store(&counter, 0);
    enum { THREADS = 4, PER = 20000 };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, thread_spawner, (void *)(intptr_t)PER);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    wait_until(&counter, THREADS * PER * 3L);
    goro_wait_goroutines(0, 60);
    CHECK_EQ_LL(atomic_load(&counter), THREADS * PER * 3L);
}

static void million_spawner(void *arg) {
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) CHECK(go_spawn(leaf, NULL) == 0);
}

/* 1,000,000 goroutines spawned and joined, exact count. */
static void one_million(void) {
    atomic_store(&counter, 0);
    CHECK(go_spawn(million_spawner, (void *)(intptr_t)500000) == 0);
    for (long i = 0; i < 500000; i++) CHECK(go_spawn(leaf, NULL) == 0);
    wait_until(&counter, 1000000);
    goro_wait_goroutines(0, 60);
    CHECK_EQ_LL(atomic_load(&counter), 1000000);
}

static _Atomic uint64_t ids[1000];
static void record_id(void *arg) {
    long i = (long)(intptr_t)arg;
    uint64_t id = go_id();
    go_yield();
    CHECK(go_id() == id);
    ids[i] = id;
    atomic_fetch_add(&counter, 1);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void ids_unique(void) {
    CHECK(go_id() == 0); /* plain thread */
    atomic_store(&counter, 0);
    for (long i = 0; i < 1000; i++) CHECK(go_spawn(record_id, (void *)(intptr_t)i) == 0);
    wait_until(&counter, 1000);
    uint64_t v[1000];
    for (int i = 0; i < 1000; i++) v[i] = ids[i];
    qsort(v, 1000, sizeof v[0], cmp_u64);
    CHECK(v[0] > 0);
    for (int i = 1; i < 1000; i++) CHECK(v[i] != v[i - 1]);
}

static void errors(void) {
    CHECK_EQ_LL(go_spawn(NULL, NULL), EINVAL);
    CHECK_EQ_LL(go_spawn_ex(NULL, NULL, NULL), EINVAL);
    size_t bad[] = {1, 4096, 16 * 1024 - 1, (size_t)1 << 40, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        go_attr_t a = {bad[i], "bad"};
        CHECK_EQ_LL(go_spawn_ex(leaf, NULL, &a), EINVAL);
    }
    atomic_store(&counter, 0);
    go_attr_t ok = {0, NULL};
    CHECK_EQ_LL(go_spawn_ex(leaf, NULL, &ok), 0);
    CHECK_EQ_LL(go_spawn_ex(leaf, NULL, NULL), 0);
    wait_until(&counter, 2);
}

static void use_512k(void *arg) {
    (void)arg;
    volatile char buf[512 * 1024];
    memset((char *)buf, 7, sizeof buf);
    long s = 0;
    for (size_t i = 0; i < sizeof buf; i += 4096) s += buf[i];
    CHECK(s == 7 * 128);
    atomic_fetch_add(&counter, 1);
}

static void big_stack(void) {
    atomic_store(&counter, 0);
    go_attr_t a = {1 << 20, "big-stack"};
    CHECK_EQ_LL(go_spawn_ex(use_512k, NULL, &a), 0);
    wait_until(&counter, 1);
}

static atomic_int order_pos;
static int order[2];
static void runner(void *arg);
static void sleeper(void *arg) {
    (void)arg;
    /* Spawned here rather than by main, so that main's thread being off
     * the CPU between two spawns cannot reorder them. */
    CHECK(go_spawn(runner, NULL) == 0);
    go_sleep(200 * 1000 * 1000);
    order[atomic_fetch_add(&order_pos, 1)] = 1;
    atomic_fetch_add(&counter, 1);
}
static void runner(void *arg) {
    (void)arg;
    go_yield();
    order[atomic_fetch_add(&order_pos, 1)] = 2;
    atomic_fetch_add(&counter, 1);
}

/* With one worker, a goroutine sleeping 200 ms does not hold the worker:
 * the goroutine it spawned before sleeping finishes first. */
static void sleep_parks(void) {
    int old = go_maxprocs(1);
    atomic_store(&counter, 0);
    atomic_store(&order_pos, 0);
    double t = goro_now();
    CHECK(go_spawn(sleeper, NULL) == 0); /* which spawns runner */
    wait_until(&counter, 2);
    CHECK(order[0] == 2 && order[1] == 1);
    CHECK(goro_now() - t >= 0.2);
    t = goro_now();
    go_sleep(30 * 1000 * 1000); /* plain thread */
    CHECK(goro_now() - t >= 0.03);
    go_sleep(0);
    go_sleep(-1);
    go_maxprocs(old);
}

static void maxprocs(void) {
    const char *env = getenv("GOMAXPROCS");
    int cur = go_maxprocs(0);
    if (env) CHECK_EQ_LL(cur, atoi(env));
    CHECK_EQ_LL(go_maxprocs(3), cur);
    CHECK_EQ_LL(go_maxprocs(-7), 3);
    CHECK_EQ_LL(go_maxprocs(1), 3);
    atomic_store(&counter, 0);
    for (int i = 0; i < 10000; i++) CHECK(go_spawn(leaf, NULL) == 0);
    wait_until(&counter, 10000);
    CHECK_EQ_LL(go_maxprocs(cur), 1);
}

/* Trap 7: main returns while workers still run goroutines (busy, sleeping,
 * parked); exit handlers run meanwhile. The process must exit with main's
 * status, nothing torn down under the goroutines' feet. */
static go_mutex_t never;
static void busy(void *arg) {
    (void)arg;
    for (;;) {
        volatile double x = 1.0;
        for (int i = 0; i < 1000; i++) x *= 1.0000001;
        go_yield();
    }
}
static void sleepy(void *arg) {
    (void)arg;
    for (;;) go_sleep(1000);
}
static void stuck(void *arg) {
    (void)arg;
    go_mutex_lock(&never);
}
static void child_exits_with_goroutines(void) {
    go_mutex_lock(&never);
    for (int i = 0; i < 64; i++) {
        go_spawn(busy, NULL);
        go_spawn(sleepy, NULL);
        go_spawn(stuck, NULL);
    }
    go_sleep(20 * 1000 * 1000);
    exit(7); /* atexit handlers, stdio flush, with goroutines running */
}
static void exit_with_goroutines_running(void) {
    for (int round = 0; round < 5; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", "core_basic", "child_exits_with_goroutines", (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    }
}

static const struct goro_case cases[] = {
    {"spawn_from_threads_and_goroutines", spawn_from_threads_and_goroutines, NULL},
    {"one_million", one_million, NULL},
    {"ids_unique", ids_unique, NULL},
    {"errors", errors, NULL},
    {"big_stack", big_stack, NULL},
    {"sleep_parks", sleep_parks, NULL},
    {"maxprocs", maxprocs, NULL},
    {"exit_with_goroutines_running", exit_with_goroutines_running, NULL},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child_exits_with_goroutines") == 0) child_exits_with_goroutines();
    return goro_test_main(argc, argv, cases);
}
