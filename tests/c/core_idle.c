/* Idle must be idle: while goroutines sleep and main sleeps 2 s, the
 * process uses < 2% of a core (idle workers park on a futex, the one that
 * owns the next timer sleeps until it). A CPU-usage check, not a timing
 * target: it fails only if something spins. */
#include "harness.h"
#include <goro.h>
#include <stdatomic.h>
#include <sys/resource.h>

static atomic_int woke;

static void long_sleeper(void *arg) {
    (void)arg;
    go_sleep(30LL * 1000 * 1000 * 1000);
    atomic_fetch_add(&woke, 1);
}

static void ticker(void *arg) {
    (void)arg;
    /* A slow periodic timer: 4 wake-ups per second. */
    for (int i = 0; i < 12; i++) go_sleep(250 * 1000 * 1000);
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static void idle_is_idle(void) {
    for (int i = 0; i < 1000; i++) CHECK(go_spawn(long_sleeper, NULL) == 0);
    CHECK(go_spawn(ticker, NULL) == 0);
    go_sleep(200 * 1000 * 1000); /* let the spawns settle */
    double c0 = cpu_seconds(), t0 = goro_now();
    go_sleep(2LL * 1000 * 1000 * 1000);
    double cpu = cpu_seconds() - c0, wall = goro_now() - t0;
    printf("idle: %.2f ms CPU over %.2f s wall = %.3f%% of a core\n", cpu * 1e3, wall, 100 * cpu / wall);
    CHECK(cpu / wall < 0.02);
    CHECK_EQ_LL(atomic_load(&woke), 0);
}

static const struct goro_case cases[] = {
    {"idle_is_idle", idle_is_idle, NULL},
    {NULL, NULL, NULL},
};
GORO_TEST_MAIN(cases)
