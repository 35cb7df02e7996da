/*
 * pthread_bench.c: the side-by-side workloads (W1..W8, see BENCHMARKS.md)
 * with one OS thread per "goroutine" (default attributes, 8 MiB stacks),
 * glibc's pthread_mutex / pthread_rwlock / pthread_once, and a
 * mutex+condvar WaitGroup where Go uses one.
 *
 * Thread counts are the caller's: 1M threads cannot exist on a stock kernel
 * (two mappings per thread against vm.max_map_count = 65530, 16 KiB of
 * kernel stack each), so compare.sh runs W1/W2 with at most 10,000 threads
 * and says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void die(const char *what, int err) {
    fprintf(stderr, "pthread_bench: %s: %s\n", what, strerror(err));
    exit(1);
}

static pthread_t spawn(void *(*fn)(void *), void *arg) {
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    if (e != 0) die("pthread_create", e);
    return t;
}

static void join(pthread_t t) {
    int e = pthread_join(t, NULL);
    if (e != 0) die("pthread_join", e);
}

static pthread_t *alloc_threads(long n) {
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    if (!ts) die("calloc", ENOMEM);
    return ts;
}

/* A WaitGroup for threads: mutex + condvar + counter. */
struct wg {
    pthread_mutex_t m;
    pthread_cond_t c;
    long n;
};
#define WG_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static void wg_add(struct wg *w, long d) {
    pthread_mutex_lock(&w->m);
    w->n += d;
    if (w->n == 0) pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}
static void wg_wait(struct wg *w) {
    pthread_mutex_lock(&w->m);
    while (w->n != 0) pthread_cond_wait(&w->c, &w->m);
    pthread_mutex_unlock(&w->m);
}

/* ---- W1: create + join N threads, ROUNDS times (default: batches up to
   10,000 threads in all) ---- */

static void *w1_body(void *arg) { return arg; }

static void run_w1(long n, long rounds) {
    pthread_t *ts = alloc_threads(n);
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < n; i++) ts[i] = spawn(w1_body, NULL);
        for (long i = 0; i < n; i++) join(ts[i]);
    }
    double el = bench_now() - t0;
    free(ts);
    bench_result("W1", "spawn_from_main", n, "ns_per_goroutine", el * 1e9 / (double)(n * rounds));
    bench_result("W1", "spawn_from_main", n, "peak_rss_mib", (double)bench_status_kb("VmHWM") / 1024.0);
}

/* ---- W2: N threads parked at a gate ---- */

static struct wg w2_ready = WG_INIT, w2_gate = WG_INIT;

static void *w2_body(void *arg) {
    wg_add(&w2_ready, -1);
    wg_wait(&w2_gate);
    return arg;
}

static void run_w2(long n) {
    pthread_t *ts = alloc_threads(n);
    long rss0 = bench_status_kb("VmRSS"), pte0 = bench_status_kb("VmPTE");
    long ks0 = bench_meminfo_kb("KernelStack");
    wg_add(&w2_ready, n);
    wg_add(&w2_gate, 1);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) ts[i] = spawn(w2_body, NULL);
    wg_wait(&w2_ready);
    double t1 = bench_now();
    long rss1 = bench_status_kb("VmRSS"), pte1 = bench_status_kb("VmPTE");
    long ks1 = bench_meminfo_kb("KernelStack");
    double t2 = bench_now();
    wg_add(&w2_gate, -1);
    for (long i = 0; i < n; i++) join(ts[i]);
    double t3 = bench_now();
    free(ts);
    bench_result("W2", "parked", n, "rss_bytes_per_goroutine", (double)(rss1 - rss0) * 1024.0 / (double)n);
    bench_result("W2", "parked", n, "pte_bytes_per_goroutine", (double)(pte1 - pte0) * 1024.0 / (double)n);
    bench_result("W2", "parked", n, "kstack_bytes_per_goroutine", (double)(ks1 - ks0) * 1024.0 / (double)n);
    bench_result("W2", "parked", n, "spawn_park_s", t1 - t0);
    bench_result("W2", "parked", n, "release_join_s", t3 - t2);
}

/* ---- W3: two threads on one CPU, sched_yield ---- */

static long w3_n;
static void *w3_body(void *arg) {
    for (long i = 0; i < w3_n; i++) sched_yield();
    return arg;
}

static void run_w3(long n) {
    w3_n = n;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setaffinity_np(&a, sizeof one, &one);
    pthread_t t[2];
    double t0 = bench_now();
    for (int i = 0; i < 2; i++) {
        int e = pthread_create(&t[i], &a, w3_body, NULL);
        if (e != 0) die("pthread_create", e);
    }
    join(t[0]);
    join(t[1]);
    double el = bench_now() - t0;
    pthread_attr_destroy(&a);
    bench_result("W3", "gomaxprocs1", n, "ns_per_yield", el * 1e9 / (double)(2 * n));
}

/* ---- W4: pthread_mutex contended by G threads sharing OPS increments ---- */

static pthread_mutex_t w4_mu = PTHREAD_MUTEX_INITIALIZER;
static long w4_counter;

static void *w4_body(void *arg) {
    long k = (long)(intptr_t)arg;
    for (long i = 0; i < k; i++) {
        pthread_mutex_lock(&w4_mu);
        w4_counter++;
        pthread_mutex_unlock(&w4_mu);
    }
    return NULL;
}

static long share(long ops, long g, long i) { return ops / g + (i < ops % g ? 1 : 0); }

static void run_w4(long g, long ops) {
    pthread_t *ts = alloc_threads(g);
    double t0 = bench_now();
    for (long i = 0; i < g; i++) ts[i] = spawn(w4_body, (void *)(intptr_t)share(ops, g, i));
    for (long i = 0; i < g; i++) join(ts[i]);
    double el = bench_now() - t0;
    free(ts);
    if (w4_counter != ops) {
        fprintf(stderr, "W4: counter %ld, expected %ld\n", w4_counter, ops);
        exit(1);
    }
    char param[64];
    snprintf(param, sizeof param, "g%ld", g);
    bench_result("W4", param, ops, "ns_per_op", el * 1e9 / (double)ops);
}

/* ---- W5: uncontended lock + unlock ---- */

/* glibc (2.34+) takes a non-atomic shortcut in pthread_mutex_lock while the
   process has a single thread. Programs that need a mutex have threads (and
   goro's and Go's processes have their workers), so one idle thread is
   started first to measure the real, atomic path. */
static pthread_mutex_t w5_idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w5_idle_cv = PTHREAD_COND_INITIALIZER;
static bool w5_idle_stop;
static void *w5_idle(void *arg) {
    pthread_mutex_lock(&w5_idle_mu);
    while (!w5_idle_stop) pthread_cond_wait(&w5_idle_cv, &w5_idle_mu);
    pthread_mutex_unlock(&w5_idle_mu);
    return arg;
}

static void run_w5(long n) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t idle = spawn(w5_idle, NULL);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        pthread_mutex_unlock(&mu);
    }
    double el = bench_now() - t0;
    pthread_mutex_lock(&w5_idle_mu);
    w5_idle_stop = true;
    pthread_cond_signal(&w5_idle_cv);
    pthread_mutex_unlock(&w5_idle_mu);
    join(idle);
    bench_result("W5", "uncontended", n, "ns_per_lock_unlock", el * 1e9 / (double)n);
}

/* ---- W6: pthread_rwlock (glibc default: prefers readers), G threads, 1% writes ---- */

static pthread_rwlock_t w6_rw = PTHREAD_RWLOCK_INITIALIZER;
static long w6_shared;
static _Atomic long w6_sink;

static void *w6_body(void *arg) {
    long k = (long)(intptr_t)arg, seen = 0;
    for (long i = 0; i < k; i++) {
        if (i % 100 == 0) {
            pthread_rwlock_wrlock(&w6_rw);
            w6_shared++;
            pthread_rwlock_unlock(&w6_rw);
        } else {
            pthread_rwlock_rdlock(&w6_rw);
            seen += w6_shared;
            pthread_rwlock_unlock(&w6_rw);
        }
    }
    atomic_fetch_add_explicit(&w6_sink, seen, memory_order_relaxed);
    return NULL;
}

static void run_w6(long g, long ops) {
    pthread_t *ts = alloc_threads(g);
    long writes = 0;
    double t0 = bench_now();
    for (long i = 0; i < g; i++) {
        long k = share(ops, g, i);
        writes += (k + 99) / 100;
        ts[i] = spawn(w6_body, (void *)(intptr_t)k);
    }
    for (long i = 0; i < g; i++) join(ts[i]);
    double el = bench_now() - t0;
    free(ts);
    if (w6_shared != writes) {
        fprintf(stderr, "W6: %ld writes seen, expected %ld\n", w6_shared, writes);
        exit(1);
    }
    char param[64];
    snprintf(param, sizeof param, "g%ld_1pct_writes", g);
    bench_result("W6", param, ops, "ns_per_op", el * 1e9 / (double)ops);
}

/* ---- W7: rounds of 64 threads created + joined ---- */

static void *w7_body(void *arg) { return arg; }

static void run_w7(long rounds) {
    pthread_t ts[64];
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 64; i++) ts[i] = spawn(w7_body, NULL);
        for (int i = 0; i < 64; i++) join(ts[i]);
    }
    double el = bench_now() - t0;
    bench_result("W7", "fanout64", rounds, "us_per_round", el * 1e6 / (double)rounds);
}

/* ---- W8: pthread_once fast path ---- */

static pthread_once_t w8_once = PTHREAD_ONCE_INIT;
static long w8_calls;
static void w8_init(void) { w8_calls++; }

static void run_w8(long n) {
    pthread_once(&w8_once, w8_init);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) pthread_once(&w8_once, w8_init);
    double el = bench_now() - t0;
    if (w8_calls != 1) {
        fprintf(stderr, "W8: init ran %ld times\n", w8_calls);
        exit(1);
    }
    bench_result("W8", "fast_path", n, "ns_per_call", el * 1e9 / (double)n);
}

int main(int argc, char **argv) {
    bench_system = "pthread";
    if (argc < 2) {
        fprintf(stderr, BENCH_USAGE, argv[0]);
        return 2;
    }
    const char *w = argv[1];
    if (strcmp(w, "W1") == 0) {
        long n = bench_arg(argc, argv, 2, 10000);
        run_w1(n, bench_arg(argc, argv, 3, n >= 10000 ? 1 : 10000 / n));
    } else if (strcmp(w, "W2") == 0)
        run_w2(bench_arg(argc, argv, 2, 10000));
    else if (strcmp(w, "W3") == 0)
        run_w3(bench_arg(argc, argv, 2, BENCH_W3_N));
    else if (strcmp(w, "W4") == 0)
        run_w4(bench_arg(argc, argv, 2, 64), bench_arg(argc, argv, 3, BENCH_W4_OPS));
    else if (strcmp(w, "W5") == 0)
        run_w5(bench_arg(argc, argv, 2, BENCH_W5_N));
    else if (strcmp(w, "W6") == 0)
        run_w6(bench_arg(argc, argv, 2, 64), bench_arg(argc, argv, 3, BENCH_W6_OPS));
    else if (strcmp(w, "W7") == 0)
        run_w7(bench_arg(argc, argv, 2, BENCH_W7_ROUNDS));
    else if (strcmp(w, "W8") == 0)
        run_w8(bench_arg(argc, argv, 2, BENCH_W8_N));
    else {
        fprintf(stderr, BENCH_USAGE, argv[0]);
        return 2;
    }
    return 0;
}
