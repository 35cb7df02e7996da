/* A C program using goro as an installed library would: 100 goroutines
 * increment a counter under a mutex, a WaitGroup waits for them. */
#include <goro.h>
#include <stdio.h>

static go_mutex_t mu = GO_MUTEX_INIT;
static go_waitgroup_t wg = GO_WAITGROUP_INIT;
static long counter;

static void inc(void *arg) {
    (void)arg;
    go_yield();
    go_mutex_lock(&mu);
    counter++;
    go_mutex_unlock(&mu);
}

int main(void) {
    for (int i = 0; i < 100; i++) {
        if (go_waitgroup_go(&wg, inc, NULL) != 0) return 1;
    }
    go_waitgroup_wait(&wg);
    printf("goro C app: counter=%ld goroutines=%lld\n", counter, (long long)go_num_goroutine());
    return counter == 100 ? 0 : 1;
}
