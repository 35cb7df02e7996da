/* Built with -fsanitize=address, and with -fsanitize=leak alone.
 * `clean`: thousands of goroutines with deep frames, setjmp/longjmp,
 * yields, sleeps and stack reuse run without a report (run with
 * detect_stack_use_after_return=1). `overflow`: a real heap overflow
 * inside a goroutine is reported. LeakSanitizer at exit: `exit_running`
 * exits while the workers run goroutines and `exit_parked` while
 * goroutines are parked for good, each holding the only pointer to a
 * buffer: neither is a leak (as with threads blocked at exit); `leak`: a
 * buffer a goroutine really lost is reported. */
#include <goro.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static go_waitgroup_t wg;

static __attribute__((noinline)) int deep(int n) {
    char buf[256];
    memset(buf, n, sizeof buf);
    if (n == 0) return buf[3];
    int r = deep(n - 1) + buf[7];
    if (n % 4 == 0) go_yield();
    return r;
}

static __attribute__((noinline)) void jumper(jmp_buf *jb, int n) {
    char buf[512];
    memset(buf, n, sizeof buf);
    if (n > 0) jumper(jb, n - 1);
    else if (n == 0) longjmp(*jb, 1); /* (n < 0 returns: keeps GCC from calling this infinite recursion) */
    buf[1]++;
}

static void work(void *arg) {
    long i = (long)arg;
    char *p = malloc(64);
    memset(p, 1, 64);
    jmp_buf jb;
    if (!setjmp(jb)) jumper(&jb, (int)(i % 10));
    deep((int)(i % 24));
    if (i % 3 == 0) go_sleep(1000);
    free(p);
}

static void overflow(void *arg) {
    (void)arg;
    volatile char *p = malloc(16);
    p[16] = 1;
    free((void *)p);
}

static volatile int never;
static go_waitgroup_t parked, forever;

static void spin(void *arg) {
    (void)arg;
    while (!never) {
    }
}

static void holder(void *arg) {
    (void)arg;
    char *volatile p = malloc(1000);
    memset(p, 1, 1000);
    go_waitgroup_done(&parked);
    go_waitgroup_wait(&forever); /* parked until the process exits */
    free(p);
}

void *volatile sink;
static __attribute__((noinline)) void lose(void *arg) {
    (void)arg;
    sink = malloc(777);
    memset(sink, 1, 777);
    sink = NULL;
}

/* Goroutines whose control block is not yet free, from go_dump's header. */
static int live_goroutines(void) {
    FILE *f = tmpfile();
    if (!f) return -1;
    go_dump(fileno(f));
    rewind(f);
    int n = -1;
    if (fscanf(f, "goro: %d goroutines", &n) != 1) n = -1;
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "clean")) {
        for (long i = 0; i < 20000; i++) go_waitgroup_go(&wg, work, (void *)i);
    } else if (!strcmp(argv[1], "overflow")) {
        go_waitgroup_go(&wg, overflow, NULL);
    } else if (!strcmp(argv[1], "exit_running")) {
        /* Work first, so that the workers' queues and caches hold heap
         * buffers, then goroutines that never return. */
        for (long i = 0; i < 2000; i++) go_waitgroup_go(&wg, work, (void *)i);
        go_waitgroup_wait(&wg);
        for (int i = 0; i < 4; i++) go_spawn(spin, NULL);
        go_sleep(50 * 1000 * 1000);
    } else if (!strcmp(argv[1], "exit_parked")) {
        go_waitgroup_add(&forever, 1);
        go_waitgroup_add(&parked, 100);
        for (int i = 0; i < 100; i++) go_spawn(holder, NULL);
        go_waitgroup_wait(&parked);
    } else if (!strcmp(argv[1], "leak")) {
        go_waitgroup_go(&wg, lose, NULL);
        go_waitgroup_wait(&wg);
        /* Let its worker finish with it: a goroutine still on its stack at
         * exit has all of its stack scanned, dead frames included, and the
         * stale pointer there would hide the leak. Its done runs before it
         * leaves the stack: wait (up to 10 s, however busy the machine)
         * until go_dump counts no goroutine. */
        int live = -1;
        for (int i = 0; i < 10000 && (live = live_goroutines()) != 0; i++)
            go_sleep(1000 * 1000);
        if (live != 0) {
            fprintf(stderr, "leak: %d goroutine(s) still live after 10 s\n", live);
            return 1;
        }
    } else {
        return 2;
    }
    go_waitgroup_wait(&wg);
    printf("%s: done\n", argv[1]);
    return 0;
}
