/* When address space runs out (ulimit -v, set here with setrlimit(RLIMIT_AS)
 * exactly as the shell's ulimit does), go_spawn returns EAGAIN or ENOMEM:
 * no crash, the goroutines already started run to completion, and spawning
 * works again once they are gone. */
#include "harness.h"
#include <goro.h>
#include <stdatomic.h>
#include <sys/resource.h>

static atomic_long finished;
static atomic_int release;

static void parked(void *arg) {
    (void)arg;
    while (!atomic_load(&release)) go_sleep(20 * 1000 * 1000);
    atomic_fetch_add(&finished, 1);
}

static long vm_size_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) v = atol(line + 7);
    if (f) fclose(f);
    return v;
}

static void out_of_address_space(void) {
    /* Start the runtime, then allow 768 MiB more address space. */
    CHECK(go_spawn(parked, NULL) == 0);
    go_sleep(50 * 1000 * 1000);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)(vm_size_kb() + 768 * 1024) * 1024;
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    long spawned = 1;
    int err = 0;
    for (long i = 0; i < 10000000; i++) {
        err = go_spawn(parked, NULL);
        if (err) break;
        spawned++;
    }
    printf("spawned %ld goroutines before go_spawn returned %d (%s)\n", spawned, err, strerror(err));
    CHECK(err == EAGAIN || err == ENOMEM);
    CHECK(spawned > 1000);
    /* The same error again, still no crash. */
    int err2 = go_spawn(parked, NULL);
    CHECK(err2 == EAGAIN || err2 == ENOMEM || err2 == 0);
    if (err2 == 0) spawned++;
    atomic_store(&release, 1);
    double t = goro_now();
    while (atomic_load(&finished) < spawned) {
        CHECK(goro_now() - t < 120);
        usleep(1000);
    }
    /* Memory is back: spawning works again. */
    atomic_store(&release, 1);
    CHECK(go_spawn(parked, NULL) == 0);
    while (atomic_load(&finished) < spawned + 1) usleep(1000);
}

static const struct goro_case cases[] = {
    {"out_of_address_space", out_of_address_space, NULL},
    {NULL, NULL, NULL},
};
GORO_TEST_MAIN(cases)
