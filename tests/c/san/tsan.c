/* Built with -fsanitize=thread. `race`: two goroutines increment a global
 * without a lock: TSan must report a data race. The other cases hand data
 * between goroutines through goro's synchronization: TSan must report
 * nothing (each happens-before edge is announced to TSan). */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long shared;          /* plain, non-atomic: only the edges protect it */
static go_waitgroup_t wg;

static void bump_unlocked(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        shared++;
        if (i % 64 == 0) go_yield();
    }
}

static void race(void) {
    /* Started together, so they overlap, whatever the schedule. */
    go_waitgroup_go(&wg, bump_unlocked, NULL);
    go_waitgroup_go(&wg, bump_unlocked, NULL);
    go_waitgroup_wait(&wg);
}

static int spawned_value;
static void read_spawned(void *arg) {
    (void)arg;
    if (spawned_value != 42) abort();
    shared = 1; /* read back by main after wait: the done -> wait edge */
}

static void spawn(void) {
    spawned_value = 42; /* spawn happens before the goroutine starts */
    go_waitgroup_go(&wg, read_spawned, NULL);
    go_waitgroup_wait(&wg);
    if (shared != 1) abort();
}

static go_mutex_t mu;
static void bump_locked(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        go_mutex_lock(&mu);
        shared++;
        go_mutex_unlock(&mu);
        if (i % 64 == 0) go_yield();
    }
}

static void mutex(void) {
    for (int i = 0; i < 4; i++) go_waitgroup_go(&wg, bump_locked, NULL);
    bump_locked(NULL); /* and the main thread */
    go_waitgroup_wait(&wg);
    if (shared != 5000) abort();
}

static go_rwmutex_t rw;
static long table[16];
static void rw_writer(void *arg) {
    (void)arg;
    for (int i = 0; i < 200; i++) {
        go_rwmutex_lock(&rw);
        table[i % 16]++;
        go_rwmutex_unlock(&rw);
        go_yield();
    }
}
static void rw_reader(void *arg) {
    (void)arg;
    long sum = 0;
    for (int i = 0; i < 500; i++) {
        go_rwmutex_rlock(&rw);
        for (int k = 0; k < 16; k++) sum += table[k];
        go_rwmutex_runlock(&rw);
        if (i % 16 == 0) go_yield();
    }
    if (sum < 0) abort();
}

static void rwmutex(void) {
    for (int i = 0; i < 2; i++) go_waitgroup_go(&wg, rw_writer, NULL);
    for (int i = 0; i < 4; i++) go_waitgroup_go(&wg, rw_reader, NULL);
    go_waitgroup_wait(&wg);
}

static long results[8];
static void produce(void *arg) {
    long i = (long)arg;
    results[i] = i * i; /* read by main after wait */
}

static void waitgroup(void) {
    for (long i = 0; i < 8; i++) go_waitgroup_go(&wg, produce, (void *)i);
    go_waitgroup_wait(&wg);
    for (long i = 0; i < 8; i++)
        if (results[i] != i * i) abort();
}

static go_once_t once;
static long config;
static void init_config(void *arg) {
    (void)arg;
    config = 7;
}
static void use_config(void *arg) {
    (void)arg;
    go_once_do(&once, init_config, NULL);
    if (config != 7) abort(); /* every caller sees the init's writes */
}

static void once_case(void) {
    for (int i = 0; i < 8; i++) go_waitgroup_go(&wg, use_config, NULL);
    use_config(NULL);
    go_waitgroup_wait(&wg);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *c = argv[1];
    if (!strcmp(c, "race")) race();
    else if (!strcmp(c, "spawn")) spawn();
    else if (!strcmp(c, "mutex")) mutex();
    else if (!strcmp(c, "rwmutex")) rwmutex();
    else if (!strcmp(c, "waitgroup")) waitgroup();
    else if (!strcmp(c, "once")) once_case();
    else return 2;
    printf("%s: done\n", c);
    return 0;
}
