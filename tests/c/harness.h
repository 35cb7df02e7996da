/*
 * A tiny test harness for goro's C test suite (ctest).
 *
 *   CHECK(cond)            fail the test (exit 1) with file:line and the condition
 *   CHECK_EQ_LL(a, b)      as CHECK, printing both values
 *   goro_wait_goroutines(n, s)  wait until go_num_goroutine() == n, failing after s seconds
 *   GORO_TEST_MAIN(cases)  main(): runs every case of a `struct goro_case[]` (NULL-terminated)
 *
 * A case is either normal (fn runs, must return) or a death case: the test
 * binary re-executes itself with the case name (no fork of a process whose
 * goro workers are running), and the child must die of SIGABRT with
 * `expect` in its stderr.
 */
#ifndef GORO_TEST_HARNESS_H
#define GORO_TEST_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <goro.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            fflush(stderr);                                                          \
            _exit(1);                                                                \
        }                                                                            \
    } while (0)

#define CHECK_EQ_LL(a, b)                                                                   \
    do {                                                                                    \
        long long _a = (long long)(a), _b = (long long)(b);                                 \
        if (_a != _b) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,     \
                    __LINE__, #a, #b, _a, _b);                                              \
            fflush(stderr);                                                                 \
            _exit(1);                                                                       \
        }                                                                                   \
    } while (0)

struct goro_case {
    const char *name;
    void (*fn)(void);
    /* NULL for a normal case; for a death case, text that stderr must contain. */
    const char *expect;
};

static inline double goro_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Waits (go_sleep, 1 ms at a time: from a goroutine or a thread) until
 * exactly `n` goroutines have not returned, failing after `max_s` seconds.
 * A goroutine is counted until it has returned, which may be after the
 * last thing a test saw it do (a done, a counter): tests that check exact
 * counts wait for them first. */
static inline void goro_wait_goroutines(long long n, double max_s) {
    double t = goro_now();
    while (go_num_goroutine() != n) {
        CHECK(goro_now() - t < max_s);
        go_sleep(1000 * 1000);
    }
}

/* Runs `self case` and checks that it dies of SIGABRT with `expect` in stderr. */
static int goro_run_death(const char *self, const struct goro_case *c) {
    int fds[2];
    if (pipe(fds) != 0) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, c->name, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    static char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fds[0], buf + len, sizeof buf - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(buf, c->expect) != NULL;
    if (!ok) {
        fprintf(stderr, "death case %s: want SIGABRT and stderr containing \"%s\"; got %s %d, stderr:\n%s\n",
                c->name, c->expect, WIFSIGNALED(st) ? "signal" : "exit",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), buf);
    } else {
        /* Show the message once, for the log. */
        fprintf(stderr, "  %s: %s", c->name, buf);
    }
    return ok;
}

static inline int goro_test_main(int argc, char **argv, const struct goro_case *cases) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        for (const struct goro_case *c = cases; c->name; c++) {
            if (strcmp(c->name, argv[1]) == 0) {
                c->fn();
                return 0;
            }
        }
        fprintf(stderr, "no case %s\n", argv[1]);
        return 2;
    }
    int failed = 0;
    for (const struct goro_case *c = cases; c->name; c++) {
        double t = goro_now();
        int ok = 1;
        if (c->expect) {
            ok = goro_run_death("/proc/self/exe", c);
            if (!ok) failed++;
        } else {
            c->fn();
        }
        printf("%s %s (%.3f s)\n", ok ? "ok" : "FAIL", c->name, goro_now() - t);
    }
    return failed ? 1 : 0;
}

#define GORO_TEST_MAIN(cases) \
    int main(int argc, char **argv) { return goro_test_main(argc, argv, cases); }

#endif
