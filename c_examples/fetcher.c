/*
 * The parallel "fetcher" shape: a slice of jobs, one goroutine per job, a
 * WaitGroup to wait for all, a Mutex around the shared result.
 *
 *     urls := []string{...}
 *     var wg sync.WaitGroup
 *     var mu sync.Mutex
 *     total := 0
 *     for _, u := range urls {
 *         wg.Add(1)
 *         go func(u string) {
 *             defer wg.Done()
 *             n := fetch(u)          // here: a simulated fetch that sleeps
 *             mu.Lock(); total += n; mu.Unlock()
 *         }(u)
 *     }
 *     wg.Wait()
 */
#include <goro.h>
#include <stdio.h>
#include <string.h>

struct job {
    const char *url;
    int latency_ms; /* the simulated network latency */
    size_t bytes;   /* result */
};

static go_waitgroup_t wg;  /* zero value: ready to use */
static go_mutex_t mu;
static size_t total;

static void fetch(void *arg) {
    struct job *j = arg;
    go_sleep((int64_t)j->latency_ms * 1000 * 1000); /* parks this goroutine only */
    j->bytes = strlen(j->url) * 100;                /* the "page" */
    go_mutex_lock(&mu);
    total += j->bytes;
    go_mutex_unlock(&mu);
    go_waitgroup_done(&wg);
}

int main(void) {
    struct job jobs[] = {
        {"https://go.dev/", 120, 0},        {"https://go.dev/pkg/", 80, 0},
        {"https://go.dev/pkg/fmt/", 100, 0}, {"https://go.dev/pkg/os/", 60, 0},
        {"https://go.dev/cmd/", 90, 0},
    };
    size_t n = sizeof jobs / sizeof jobs[0];
    for (size_t i = 0; i < n; i++) {
        go_waitgroup_add(&wg, 1);
        if (go_spawn(fetch, &jobs[i]) != 0) {
            go_waitgroup_done(&wg);
            fprintf(stderr, "could not start fetch of %s\n", jobs[i].url);
        }
    }
    go_waitgroup_wait(&wg);
    for (size_t i = 0; i < n; i++) printf("fetched %-26s %5zu bytes\n", jobs[i].url, jobs[i].bytes);
    printf("total %zu bytes in %zu parallel fetches\n", total, n);
    return 0;
}
