/*
 * Helpers shared by the sync tests (sync_*.c): run a function in several
 * goroutines and plain threads at once and wait for all of them; wait
 * for a condition with a hang guard (not a timing assertion: the bound
 * only turns a deadlock into a failure with a line number).
 */
#ifndef GORO_SYNC_COMMON_H
#define GORO_SYNC_COMMON_H

#include "harness.h"
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef void (*task_fn)(void *arg);

struct task_start {
    task_fn fn;
    void *arg;
};

static void *task_thread_main(void *p) {
    struct task_start s = *(struct task_start *)p;
    free(p);
    s.fn(s.arg);
    return NULL;
}

/* A group of goroutines and threads. */
struct group {
    go_waitgroup_t wg;
    pthread_t th[64];
    int nth;
};

static inline void group_go(struct group *g, task_fn fn, void *arg) {
    CHECK(go_waitgroup_go(&g->wg, fn, arg) == 0);
}

static inline void group_thread(struct group *g, task_fn fn, void *arg) {
    CHECK(g->nth < 64);
    struct task_start *s = malloc(sizeof *s);
    CHECK(s != NULL);
    s->fn = fn;
    s->arg = arg;
    CHECK(pthread_create(&g->th[g->nth++], NULL, task_thread_main, s) == 0);
}

/* Starts `gs` goroutines and `ts` threads running fn(arg). */
static inline void group_start(struct group *g, int gs, int ts, task_fn fn, void *arg) {
    for (int i = 0; i < gs; i++) group_go(g, fn, arg);
    for (int i = 0; i < ts; i++) group_thread(g, fn, arg);
}

static inline void group_wait(struct group *g) {
    go_waitgroup_wait(&g->wg);
    for (int i = 0; i < g->nth; i++) CHECK(pthread_join(g->th[i], NULL) == 0);
    g->nth = 0;
}

/* Sleeps `us` microseconds: go_sleep in a goroutine (it parks), usleep
 * on a plain thread (outside goro). */
static inline void nap_us(long us) {
    if (go_id() != 0) {
        go_sleep(us * 1000);
    } else {
        usleep((useconds_t)us);
    }
}

/* Spins (sleeping, from a thread or a goroutine) until *flag >= n. */
static inline void await_at_least(atomic_long *flag, long n) {
    double t = goro_now();
    while (atomic_load(flag) < n) {
        CHECK(goro_now() - t < 60);
        nap_us(100);
    }
}

/* The body of a death case whose fatal error comes from another goroutine
 * or thread: give it time to die, and return (a failure) if it did not. */
static inline void await_death(void) {
    for (int i = 0; i < 200; i++) usleep(100 * 1000);
}

#endif
