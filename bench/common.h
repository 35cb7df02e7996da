/*
 * common.h: helpers shared by the C and C++ benchmark programs in bench/.
 *
 * Every program prints one line per measurement:
 *
 *   RESULT system=<sys> workload=<W> param=<p> n=<n> metric=<m> value=<v>
 *
 * All fields but `value` form the key that bench/harness.py groups by.
 * Lower is better for every metric.
 */
#ifndef GORO_BENCH_COMMON_H
#define GORO_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A "Field:   N kB" line's value from a /proc file, or -1. */
static inline long bench_proc_kb(const char *path, const char *field) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* A field of /proc/self/status in kB (VmRSS, VmHWM, VmPTE), or -1. */
static inline long bench_status_kb(const char *field) {
    return bench_proc_kb("/proc/self/status", field);
}

/* A field of /proc/meminfo in kB (KernelStack, PageTables), or -1. */
static inline long bench_meminfo_kb(const char *field) {
    return bench_proc_kb("/proc/meminfo", field);
}

static const char *bench_system = "unknown";

static inline void bench_result(const char *workload, const char *param, long n, const char *metric,
                                double value) {
    printf("RESULT system=%s workload=%s param=%s n=%ld metric=%s value=%.6g\n", bench_system, workload,
           param, n, metric, value);
    fflush(stdout);
}

static inline long bench_arg(int argc, char **argv, int i, long dflt) {
    if (argc > i) {
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (*end == '\0' && v > 0) return v;
        fprintf(stderr, "bad argument: %s\n", argv[i]);
        exit(2);
    }
    return dflt;
}

/* Defaults shared by every system (compare.sh passes explicit sizes). */
#define BENCH_W1_N 1000000L
/* W1 with small N repeats in batches up to 1M goroutines in all. */
#define BENCH_W1_ROUNDS(n) ((n) >= 1000000L ? 1L : 1000000L / (n))
#define BENCH_W2_N 1000000L
#define BENCH_W3_N 2000000L       /* yields per goroutine */
#define BENCH_W4_OPS 10000000L    /* increments shared by all goroutines */
#define BENCH_W5_N 50000000L
#define BENCH_W6_OPS 10000000L
#define BENCH_W7_ROUNDS 20000L
#define BENCH_W8_N 200000000L

#define BENCH_USAGE                                                                  \
    "usage: %s WORKLOAD [args]\n"                                                    \
    "  W1 N [ROUNDS]           spawn+join N, ROUNDS times (spawned from a goroutine)\n" \
    "  W1main N [ROUNDS]       the same, spawned from the main thread (goro only)\n" \
    "  W2 N                    N parked at a gate: memory, spawn+park, release+join\n" \
    "  W3 N                    two goroutines yielding N times each on one worker\n"  \
    "  W4 G OPS                mutex: G goroutines share OPS increments\n"            \
    "  W5 N                    uncontended lock+unlock, N times\n"                    \
    "  W6 G OPS                rwmutex: G goroutines, OPS operations, 1%% writes\n"   \
    "  W7 ROUNDS               rounds of 64 spawns + WaitGroup wait\n"                \
    "  W8 N                    once fast path, N calls\n"

#endif
