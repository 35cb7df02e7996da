/*
 * goro_bench.c: the side-by-side workloads (W1..W8, see BENCHMARKS.md) for
 * goro, written against include/goro.h as a C user would write them.
 *
 * Like Go's main, the timed code runs in a goroutine (the "driver"); the
 * main thread only waits for it. W1 also has a variant that spawns from the
 * main thread (a plain OS thread).
 *
 * Built with -DGORO_NO_SYNC when libgoro.so does not export the sync
 * package yet: then only W1 (joined by polling go_num_goroutine) and W3 run,
 * and the other workloads say SKIP.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goro.h"
#include "common.h"

static void die(const char *what, int err) {
    fprintf(stderr, "goro_bench: %s: %s\n", what, strerror(err));
    exit(1);
}

static void spawn_or_die(go_fn fn, void *arg) {
    int e = go_spawn(fn, arg);
    if (e != 0) die("go_spawn", e);
}

/* ---- running the driver in a goroutine, waiting on the main thread ---- */

#ifndef GORO_NO_SYNC
struct driver {
    go_fn fn;
    void *arg;
    go_waitgroup_t done;
};

static void driver_tramp(void *p) {
    struct driver *d = p;
    d->fn(d->arg);
    go_waitgroup_done(&d->done);
}

static void run_in_goroutine(go_fn fn, void *arg) {
    struct driver d = {.fn = fn, .arg = arg}; /* .done: zero value, ready */
    go_waitgroup_add(&d.done, 1);
    spawn_or_die(driver_tramp, &d);
    go_waitgroup_wait(&d.done);
}
#else
/* No WaitGroup yet: the main thread polls until every goroutine returned. */
static void wait_all_goroutines(void) {
    while (go_num_goroutine() != 0) go_sleep(20000);
}

static void run_in_goroutine(go_fn fn, void *arg) {
    spawn_or_die(fn, arg);
    wait_all_goroutines();
}
#endif

static void nop(void *arg) { (void)arg; }

/* Start the runtime and its workers before anything is timed. */
static void warm_up(void) {
    for (int i = 0; i < 4; i++) run_in_goroutine(nop, NULL);
}

/* ---- W1: spawn + join N goroutines ---- */

#ifndef GORO_NO_SYNC
static go_waitgroup_t w1_wg;
static void w1_body(void *arg) {
    (void)arg;
    go_waitgroup_done(&w1_wg);
}
#else
static void w1_body(void *arg) { (void)arg; }
#endif

struct w1 {
    long n, rounds;
    double elapsed;
};

static void w1_rounds(struct w1 *w) {
    double t0 = bench_now();
    for (long r = 0; r < w->rounds; r++) {
#ifndef GORO_NO_SYNC
        go_waitgroup_add(&w1_wg, (int)w->n);
        for (long i = 0; i < w->n; i++) spawn_or_die(w1_body, NULL);
        go_waitgroup_wait(&w1_wg);
#else
        for (long i = 0; i < w->n; i++) spawn_or_die(w1_body, NULL);
        /* The driver itself counts as one goroutine when it runs as one. */
        while (go_num_goroutine() > (go_id() ? 1 : 0)) {
            if (go_id())
                go_yield();
            else
                go_sleep(20000);
        }
#endif
    }
    w->elapsed = bench_now() - t0;
}

static void w1_driver(void *arg) { w1_rounds(arg); }

static void run_w1(long n, long rounds, const char *from) {
    struct w1 w = {n, rounds, 0};
    if (strcmp(from, "goroutine") == 0)
        run_in_goroutine(w1_driver, &w);
    else
        w1_rounds(&w);
    char param[64];
    snprintf(param, sizeof param, "spawn_from_%s", from);
    bench_result("W1", param, n, "ns_per_goroutine", w.elapsed * 1e9 / (double)(n * w.rounds));
    bench_result("W1", param, n, "peak_rss_mib", (double)bench_status_kb("VmHWM") / 1024.0);
}

/* ---- W2: N goroutines parked at a gate ---- */

#ifndef GORO_NO_SYNC
static go_waitgroup_t w2_ready, w2_gate, w2_done;

static void w2_body(void *arg) {
    (void)arg;
    go_waitgroup_done(&w2_ready);
    go_waitgroup_wait(&w2_gate);
    go_waitgroup_done(&w2_done);
}

static void w2_driver(void *arg) {
    long n = *(long *)arg;
    long rss0 = bench_status_kb("VmRSS"), pte0 = bench_status_kb("VmPTE");
    long ks0 = bench_meminfo_kb("KernelStack");
    go_waitgroup_add(&w2_ready, (int)n);
    go_waitgroup_add(&w2_gate, 1);
    go_waitgroup_add(&w2_done, (int)n);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) spawn_or_die(w2_body, NULL);
    go_waitgroup_wait(&w2_ready);
    double t1 = bench_now();
    long rss1 = bench_status_kb("VmRSS"), pte1 = bench_status_kb("VmPTE");
    long ks1 = bench_meminfo_kb("KernelStack");
    double t2 = bench_now();
    go_waitgroup_done(&w2_gate);
    go_waitgroup_wait(&w2_done);
    double t3 = bench_now();
    bench_result("W2", "parked", n, "rss_bytes_per_goroutine", (double)(rss1 - rss0) * 1024.0 / (double)n);
    bench_result("W2", "parked", n, "pte_bytes_per_goroutine", (double)(pte1 - pte0) * 1024.0 / (double)n);
    bench_result("W2", "parked", n, "kstack_bytes_per_goroutine", (double)(ks1 - ks0) * 1024.0 / (double)n);
    bench_result("W2", "parked", n, "spawn_park_s", t1 - t0);
    bench_result("W2", "parked", n, "release_join_s", t3 - t2);
}
#endif

/* ---- W3: two goroutines yielding on one worker ---- */

static long w3_n;
#ifndef GORO_NO_SYNC
static go_waitgroup_t w3_wg;
#endif

static void w3_body(void *arg) {
    (void)arg;
    for (long i = 0; i < w3_n; i++) go_yield();
#ifndef GORO_NO_SYNC
    go_waitgroup_done(&w3_wg);
#endif
}

static double w3_elapsed;
static void w3_driver(void *arg) {
    (void)arg;
    double t0 = bench_now();
#ifndef GORO_NO_SYNC
    go_waitgroup_add(&w3_wg, 2);
    spawn_or_die(w3_body, NULL);
    spawn_or_die(w3_body, NULL);
    go_waitgroup_wait(&w3_wg);
#else
    spawn_or_die(w3_body, NULL);
    spawn_or_die(w3_body, NULL);
    while (go_num_goroutine() > 1) go_yield();
#endif
    w3_elapsed = bench_now() - t0;
}

static void run_w3(long n) {
    w3_n = n;
    go_maxprocs(1);
    run_in_goroutine(w3_driver, NULL);
    bench_result("W3", "gomaxprocs1", n, "ns_per_yield", w3_elapsed * 1e9 / (double)(2 * n));
}

#ifndef GORO_NO_SYNC
/* ---- W4: mutex contended by G goroutines sharing OPS increments ---- */

static go_mutex_t w4_mu;
static long w4_counter; /* guarded by w4_mu */
static go_waitgroup_t w4_wg;

static void w4_body(void *arg) {
    long k = (long)(intptr_t)arg;
    for (long i = 0; i < k; i++) {
        go_mutex_lock(&w4_mu);
        w4_counter++;
        go_mutex_unlock(&w4_mu);
    }
    go_waitgroup_done(&w4_wg);
}

struct wg_ops {
    long g, ops;
    double elapsed;
};

static void w4_driver(void *arg) {
    struct wg_ops *w = arg;
    double t0 = bench_now();
    go_waitgroup_add(&w4_wg, (int)w->g);
    for (long i = 0; i < w->g; i++) {
        long k = w->ops / w->g + (i < w->ops % w->g ? 1 : 0);
        spawn_or_die(w4_body, (void *)(intptr_t)k);
    }
    go_waitgroup_wait(&w4_wg);
    w->elapsed = bench_now() - t0;
}

static void run_w4(long g, long ops) {
    struct wg_ops w = {g, ops, 0};
    run_in_goroutine(w4_driver, &w);
    if (w4_counter != ops) {
        fprintf(stderr, "W4: counter %ld, expected %ld\n", w4_counter, ops);
        exit(1);
    }
    char param[64];
    snprintf(param, sizeof param, "g%ld", g);
    bench_result("W4", param, ops, "ns_per_op", w.elapsed * 1e9 / (double)ops);
}

/* ---- W5: uncontended lock + unlock ---- */

static go_mutex_t w5_mu;
static void w5_driver(void *arg) {
    struct wg_ops *w = arg;
    double t0 = bench_now();
    for (long i = 0; i < w->ops; i++) {
        go_mutex_lock(&w5_mu);
        go_mutex_unlock(&w5_mu);
    }
    w->elapsed = bench_now() - t0;
}

static void run_w5(long n) {
    struct wg_ops w = {1, n, 0};
    run_in_goroutine(w5_driver, &w);
    bench_result("W5", "uncontended", n, "ns_per_lock_unlock", w.elapsed * 1e9 / (double)n);
}

/* ---- W6: RWMutex, G goroutines, 1% writes ---- */

static go_rwmutex_t w6_rw;
static long w6_shared; /* guarded by w6_rw */
static _Atomic long w6_sink;
static go_waitgroup_t w6_wg;

static void w6_body(void *arg) {
    long k = (long)(intptr_t)arg, seen = 0;
    for (long i = 0; i < k; i++) {
        if (i % 100 == 0) {
            go_rwmutex_lock(&w6_rw);
            w6_shared++;
            go_rwmutex_unlock(&w6_rw);
        } else {
            go_rwmutex_rlock(&w6_rw);
            seen += w6_shared;
            go_rwmutex_runlock(&w6_rw);
        }
    }
    atomic_fetch_add_explicit(&w6_sink, seen, memory_order_relaxed);
    go_waitgroup_done(&w6_wg);
}

static void w6_driver(void *arg) {
    struct wg_ops *w = arg;
    double t0 = bench_now();
    go_waitgroup_add(&w6_wg, (int)w->g);
    for (long i = 0; i < w->g; i++) {
        long k = w->ops / w->g + (i < w->ops % w->g ? 1 : 0);
        spawn_or_die(w6_body, (void *)(intptr_t)k);
    }
    go_waitgroup_wait(&w6_wg);
    w->elapsed = bench_now() - t0;
}

static void run_w6(long g, long ops) {
    struct wg_ops w = {g, ops, 0};
    run_in_goroutine(w6_driver, &w);
    long writes = 0;
    for (long i = 0; i < g; i++) {
        long k = ops / g + (i < ops % g ? 1 : 0);
        writes += (k + 99) / 100;
    }
    if (w6_shared != writes) {
        fprintf(stderr, "W6: %ld writes seen, expected %ld\n", w6_shared, writes);
        exit(1);
    }
    char param[64];
    snprintf(param, sizeof param, "g%ld_1pct_writes", g);
    bench_result("W6", param, ops, "ns_per_op", w.elapsed * 1e9 / (double)ops);
}

/* ---- W7: rounds of 64 spawns + WaitGroup wait ---- */

static go_waitgroup_t w7_wg;
static void w7_body(void *arg) {
    (void)arg;
    go_waitgroup_done(&w7_wg);
}

static void w7_driver(void *arg) {
    struct wg_ops *w = arg;
    double t0 = bench_now();
    for (long r = 0; r < w->ops; r++) {
        go_waitgroup_add(&w7_wg, 64);
        for (int i = 0; i < 64; i++) spawn_or_die(w7_body, NULL);
        go_waitgroup_wait(&w7_wg);
    }
    w->elapsed = bench_now() - t0;
}

static void run_w7(long rounds) {
    struct wg_ops w = {64, rounds, 0};
    run_in_goroutine(w7_driver, &w);
    bench_result("W7", "fanout64", rounds, "us_per_round", w.elapsed * 1e6 / (double)rounds);
}

/* ---- W8: once fast path ---- */

static go_once_t w8_once;
static long w8_calls;
static void w8_init(void *arg) {
    (void)arg;
    w8_calls++;
}

static void w8_driver(void *arg) {
    struct wg_ops *w = arg;
    go_once_do(&w8_once, w8_init, NULL);
    long n = w->ops; /* a local: the acquire load would make w->ops reload */
    double t0 = bench_now();
    for (long i = 0; i < n; i++) go_once_do(&w8_once, w8_init, NULL);
    w->elapsed = bench_now() - t0;
}

static void run_w8(long n) {
    struct wg_ops w = {1, n, 0};
    run_in_goroutine(w8_driver, &w);
    if (w8_calls != 1) {
        fprintf(stderr, "W8: init ran %ld times\n", w8_calls);
        exit(1);
    }
    bench_result("W8", "fast_path", n, "ns_per_call", w.elapsed * 1e9 / (double)n);
}
#endif /* GORO_NO_SYNC */

static void skip(const char *w) {
    printf("SKIP system=goro workload=%s reason=libgoro_has_no_sync_package_yet\n", w);
}

int main(int argc, char **argv) {
    bench_system = "goro";
    if (argc < 2) {
        fprintf(stderr, BENCH_USAGE, argv[0]);
        return 2;
    }
    const char *w = argv[1];
    /* GOMAXPROCS=2 everywhere (W3 lowers it to 1), as in the Go runs;
     * a GOMAXPROCS in the environment (which goro reads, as Go does) wins,
     * for runs by hand at other sizes. */
    if (!getenv("GOMAXPROCS")) go_maxprocs(2);
    warm_up();
    if (strcmp(w, "W1") == 0 || strcmp(w, "W1main") == 0) {
        long n = bench_arg(argc, argv, 2, BENCH_W1_N);
        run_w1(n, bench_arg(argc, argv, 3, BENCH_W1_ROUNDS(n)), w[2] ? "main" : "goroutine");
    } else if (strcmp(w, "W3") == 0) {
        run_w3(bench_arg(argc, argv, 2, BENCH_W3_N));
#ifndef GORO_NO_SYNC
    } else if (strcmp(w, "W2") == 0) {
        long n = bench_arg(argc, argv, 2, BENCH_W2_N);
        run_in_goroutine(w2_driver, &n);
    } else if (strcmp(w, "W4") == 0) {
        run_w4(bench_arg(argc, argv, 2, 64), bench_arg(argc, argv, 3, BENCH_W4_OPS));
    } else if (strcmp(w, "W5") == 0) {
        run_w5(bench_arg(argc, argv, 2, BENCH_W5_N));
    } else if (strcmp(w, "W6") == 0) {
        run_w6(bench_arg(argc, argv, 2, 64), bench_arg(argc, argv, 3, BENCH_W6_OPS));
    } else if (strcmp(w, "W7") == 0) {
        run_w7(bench_arg(argc, argv, 2, BENCH_W7_ROUNDS));
    } else if (strcmp(w, "W8") == 0) {
        run_w8(bench_arg(argc, argv, 2, BENCH_W8_N));
#else
    } else if (strcmp(w, "W2") == 0 || strcmp(w, "W4") == 0 || strcmp(w, "W5") == 0 ||
               strcmp(w, "W6") == 0 || strcmp(w, "W7") == 0 || strcmp(w, "W8") == 0) {
        skip(w);
#endif
    } else {
        fprintf(stderr, BENCH_USAGE, argv[0]);
        return 2;
    }
    (void)skip;
    return 0;
}
