/*
 * Go by Example's "WaitGroups", in C:
 *
 *     func worker(id int) {
 *         fmt.Printf("Worker %d starting\n", id)
 *         time.Sleep(time.Second)
 *         fmt.Printf("Worker %d done\n", id)
 *     }
 *     func main() {
 *         var wg sync.WaitGroup
 *         for i := 1; i <= 5; i++ {
 *             wg.Go(func() { worker(i) })
 *         }
 *         wg.Wait()
 *     }
 */
#include <goro.h>
#include <stdint.h>
#include <stdio.h>

static void worker(void *arg) {
    int id = (int)(intptr_t)arg;
    printf("Worker %d starting\n", id);
    go_sleep(1000 * 1000 * 1000); /* 1 s */
    printf("Worker %d done\n", id);
}

int main(void) {
    go_waitgroup_t wg = GO_WAITGROUP_INIT;
    for (int i = 1; i <= 5; i++) {
        int err = go_waitgroup_go(&wg, worker, (void *)(intptr_t)i);
        if (err) {
            fprintf(stderr, "spawn failed: %d\n", err);
            return 1;
        }
    }
    go_waitgroup_wait(&wg);
    printf("all workers done; goroutines left: %lld\n", (long long)go_num_goroutine());
    return 0;
}
