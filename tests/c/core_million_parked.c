/* 1,000,000 goroutines parked at once (GORO_TEST_PARKED overrides the
 * count), with default settings on a stock kernel (vm.max_map_count =
 * 65530): all alive and waiting at a gate (a WaitGroup), exact counts, the
 * kernel mapping count stays below the limit; then all released and
 * joined. Also run with GORO_STACK_GUARD=mprotect (the fallback for
 * kernels without MADV_GUARD_INSTALL), beyond its guard budget. */
#include "harness.h"
#include <goro.h>
#include <stdatomic.h>

static go_waitgroup_t gate, parked, finished;
static atomic_long passed;

static void waiter(void *arg) {
    (void)arg;
    go_waitgroup_done(&parked);
    go_waitgroup_wait(&gate);
    atomic_fetch_add(&passed, 1);
    go_waitgroup_done(&finished);
}

static long count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* The number after `field` on its line of `path` (a /proc file in kB), or -1. */
static long proc_kb(const char *path, const char *field) {
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0) v = atol(line + strlen(field));
    if (f) fclose(f);
    return v;
}

static void million_parked(void) {
    const char *env = getenv("GORO_TEST_PARKED");
    long n = env ? atol(env) : 1000000;
    /* ~4.5 KB a parked goroutine with its page tables (6 KiB asked): a
     * machine without that much memory free skips, rather than fails or
     * swaps, what it cannot run. */
    long avail_kb = proc_kb("/proc/meminfo", "MemAvailable:");
    if (avail_kb >= 0 && avail_kb < n * 6) {
        printf("skipped: %ld goroutines need ~%ld MiB, MemAvailable is %ld MiB\n", n,
               n * 6 / 1024, avail_kb / 1024);
        exit(77);
    }
    long rss0 = proc_kb("/proc/self/status", "VmRSS:");
    go_waitgroup_add(&gate, 1);
    go_waitgroup_add(&parked, (int)n);
    go_waitgroup_add(&finished, (int)n);
    double t = goro_now();
    for (long i = 0; i < n; i++) CHECK(go_spawn(waiter, NULL) == 0);
    go_waitgroup_wait(&parked);
    double t_park = goro_now() - t;
    /* Every one is parked (or about to) at the gate: all alive. */
    CHECK_EQ_LL(go_num_goroutine(), n);
    CHECK_EQ_LL(atomic_load(&passed), 0);
    long maps = count_lines("/proc/self/maps");
    long rss = proc_kb("/proc/self/status", "VmRSS:");
    printf("%ld goroutines parked in %.2f s; %ld kernel mappings; %.0f bytes RSS each\n", n, t_park,
           maps, (rss - rss0) * 1024.0 / n);
    /* Below vm.max_map_count (65530 on a stock kernel) whatever the guard
     * mode, with room to spare for the program: goro's mprotect guards
     * stop 16384 mappings short of the limit. */
    FILE *mf = fopen("/proc/sys/vm/max_map_count", "r");
    long max_maps = 65530;
    if (mf) {
        if (fscanf(mf, "%ld", &max_maps) != 1) max_maps = 65530;
        fclose(mf);
    }
    CHECK(maps > 0 && maps < max_maps - 8192);
    t = goro_now();
    go_waitgroup_done(&gate);
    go_waitgroup_wait(&finished);
    printf("released and joined in %.2f s\n", goro_now() - t);
    CHECK_EQ_LL(atomic_load(&passed), n);
    goro_wait_goroutines(0, 60);
}

static const struct goro_case cases[] = {
    {"million_parked", million_parked, NULL},
    {NULL, NULL, NULL},
};
GORO_TEST_MAIN(cases)
