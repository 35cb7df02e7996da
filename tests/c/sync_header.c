/* goro.h's sync part compiles warning-free (-Wall -Wextra -Werror, and
 * -pedantic C99 here) with the {0} initializers and the inlined
 * go_once_do; the fast path works. Included twice on purpose. */
#include <goro.h>
#include <goro.h>

static go_mutex_t mu = GO_MUTEX_INIT;
static go_rwmutex_t rw = GO_RWMUTEX_INIT;
static go_waitgroup_t wg = GO_WAITGROUP_INIT;
static go_once_t once = GO_ONCE_INIT;
static int calls;

static void fn(void *arg) {
    (void)arg;
    calls++;
}

int main(void) {
    go_mutex_t local_mu = GO_MUTEX_INIT;
    go_rwmutex_t local_rw = GO_RWMUTEX_INIT;
    go_waitgroup_t local_wg = GO_WAITGROUP_INIT;
    go_once_t local_once = GO_ONCE_INIT;
    go_mutex_lock(&mu);
    go_mutex_unlock(&mu);
    go_mutex_lock(&local_mu);
    go_mutex_unlock(&local_mu);
    go_rwmutex_rlock(&rw);
    go_rwmutex_runlock(&rw);
    go_rwmutex_lock(&local_rw);
    go_rwmutex_unlock(&local_rw);
    go_waitgroup_add(&wg, 1);
    go_waitgroup_done(&wg);
    go_waitgroup_wait(&wg);
    go_waitgroup_wait(&local_wg);
    go_once_do(&once, fn, 0);
    go_once_do(&once, fn, 0);
    go_once_do(&local_once, fn, 0);
    go_once_do(&local_once, fn, 0);
    return calls == 2 ? 0 : 1;
}
