/* Deadlock detection: "all goroutines are asleep - deadlock!" with the dump
 * for true deadlocks, and never for a correct program (a plain thread that
 * unlocks after a long nanosleep, a goroutine in go_sleep). */
#include "harness.h"
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>

static void main_waits_forever(void) {
    static go_waitgroup_t wg;
    go_waitgroup_add(&wg, 1);
    go_waitgroup_wait(&wg); /* nobody will call done */
}

static go_mutex_t m1, m2;
static go_waitgroup_t inv_wg;

static void lock_a_then_b(void *arg) {
    (void)arg;
    go_mutex_lock(&m1);
    go_sleep(20 * 1000 * 1000);
    go_mutex_lock(&m2);
    go_waitgroup_done(&inv_wg);
}

static void lock_b_then_a(void *arg) {
    (void)arg;
    go_mutex_lock(&m2);
    go_sleep(20 * 1000 * 1000);
    go_mutex_lock(&m1);
    go_waitgroup_done(&inv_wg);
}

static void lock_order_inversion(void) {
    go_waitgroup_add(&inv_wg, 2);
    go_attr_t a = {0, "lock-a-then-b"}, b = {0, "lock-b-then-a"};
    CHECK(go_spawn_ex(lock_a_then_b, NULL, &a) == 0);
    CHECK(go_spawn_ex(lock_b_then_a, NULL, &b) == 0);
    go_waitgroup_wait(&inv_wg);
}

/* Goroutines all parked, main thread blocked in goro too, but no plain
 * thread was ever involved: the runtime alone is deadlocked. */
static void goroutines_only(void *arg) {
    (void)arg;
    static go_mutex_t m;
    go_mutex_lock(&m);
    go_mutex_lock(&m); /* self-deadlock */
}

static void self_deadlock_while_main_waits(void) {
    static go_waitgroup_t wg;
    go_waitgroup_add(&wg, 1);
    go_attr_t a = {0, "relocker"};
    CHECK(go_spawn_ex(goroutines_only, NULL, &a) == 0);
    go_waitgroup_wait(&wg);
}

/* --- false-positive traps: these must complete --- */

static go_mutex_t held;
static atomic_int got_it;

static void *slow_unlocker(void *arg) {
    (void)arg;
    struct timespec ts = {0, 600 * 1000 * 1000}; /* longer than the first check */
    nanosleep(&ts, NULL);
    go_mutex_unlock(&held);
    return NULL;
}

static void waiter(void *arg) {
    (void)arg;
    go_mutex_lock(&held);
    atomic_store(&got_it, 1);
    go_mutex_unlock(&held);
}

static void thread_unlocks_after_nanosleep(void) {
    static go_waitgroup_t wg;
    go_mutex_lock(&held);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, slow_unlocker, NULL) == 0);
    CHECK(go_waitgroup_go(&wg, waiter, NULL) == 0);
    go_waitgroup_wait(&wg); /* main blocked in goro, goroutine parked, t in nanosleep */
    CHECK(atomic_load(&got_it) == 1);
    pthread_join(t, NULL);
}

static void sleeper(void *arg) {
    (void)arg;
    go_sleep(700 * 1000 * 1000);
}

static void goroutine_in_go_sleep(void) {
    static go_waitgroup_t wg;
    CHECK(go_waitgroup_go(&wg, sleeper, NULL) == 0);
    go_waitgroup_wait(&wg); /* main blocked in goro, the goroutine sleeps (a timer) */
}

static const struct goro_case cases[] = {
    {"thread_unlocks_after_nanosleep", thread_unlocks_after_nanosleep, NULL},
    {"goroutine_in_go_sleep", goroutine_in_go_sleep, NULL},
    {"main_waits_forever", main_waits_forever, "goro: fatal error: all goroutines are asleep - deadlock!"},
    {"lock_order_inversion", lock_order_inversion, "[lock-b-then-a]: waiting (mutex 0x"},
    {"self_deadlock_while_main_waits", self_deadlock_while_main_waits, "[relocker]: waiting (mutex"},
    {NULL, NULL, NULL},
};
GORO_TEST_MAIN(cases)
