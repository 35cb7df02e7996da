/* Built with -fsanitize=address. `clean`: thousands of goroutines with deep
 * frames, setjmp/longjmp, yields, sleeps and stack reuse run without a
 * report (run with detect_stack_use_after_return=1). `overflow`: a real
 * heap overflow inside a goroutine is reported. */
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
    else longjmp(*jb, 1);
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

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "clean")) {
        for (long i = 0; i < 20000; i++) go_waitgroup_go(&wg, work, (void *)i);
    } else if (!strcmp(argv[1], "overflow")) {
        go_waitgroup_go(&wg, overflow, NULL);
    } else {
        return 2;
    }
    go_waitgroup_wait(&wg);
    printf("%s: done\n", argv[1]);
    return 0;
}
