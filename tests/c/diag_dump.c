/* go_dump, GORO_TRACEBACK=1 (SIGQUIT dump and exit 2) and GORO_LEAKCHECK=1
 * (exit-time report of goroutines still alive, named ones by name). */
#include "harness.h"
#include <fcntl.h>
#include <goro.h>
#include <stdatomic.h>

static go_mutex_t mu;
static go_waitgroup_t parked;

void dump_test_waiter(void *arg) {
    (void)arg;
    go_waitgroup_done(&parked);
    go_mutex_lock(&mu); /* held by main: waits */
    go_mutex_unlock(&mu);
}

void dump_test_sleeper(void *arg) {
    (void)arg;
    go_waitgroup_done(&parked);
    go_sleep(5LL * 1000 * 1000 * 1000);
}

static char *read_all(int fd) {
    static char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = 0;
    return buf;
}

/* go_dump's output once it contains `a` and `b` (NULL: nothing), polled
 * for up to 10 s: a goroutine that has called done is shown running or
 * runnable until it has parked, however long the machine takes. */
static char *dump_until(int fd, const char *a, const char *b) {
    char *out = NULL;
    for (int i = 0; i < 10000; i++) {
        CHECK(ftruncate(fd, 0) == 0);
        lseek(fd, 0, SEEK_SET);
        go_dump(fd);
        out = read_all(fd);
        if ((!a || strstr(out, a)) && (!b || strstr(out, b))) break;
        go_sleep(1000 * 1000);
    }
    return out;
}

static int temp_fd(void) {
    char path[] = "/tmp/goro-dump-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    return fd;
}

static void dump_lines(void) {
    go_mutex_lock(&mu);
    go_waitgroup_add(&parked, 2);
    go_attr_t a = {0, "mutex-waiter"};
    CHECK(go_spawn_ex(dump_test_waiter, NULL, &a) == 0);
    CHECK(go_spawn(dump_test_sleeper, NULL) == 0);
    go_waitgroup_wait(&parked);
    int fd = temp_fd();
    char *out = dump_until(fd, ": waiting (mutex", ": waiting (sleep");
    printf("%s", out);
    CHECK(strstr(out, "goro: 2 goroutines:") != NULL);
    CHECK(strstr(out, "[mutex-waiter]: waiting (mutex 0x") != NULL);
    CHECK(strstr(out, ": waiting (sleep, ") != NULL);
    CHECK(strstr(out, "entry dump_test_waiter") != NULL); /* linked with -rdynamic */
    CHECK(strstr(out, "entry dump_test_sleeper") != NULL);
    close(fd);
    go_mutex_unlock(&mu);
}

/* Runs this binary's `case_name` with `env` set; returns its status and
 * stderr. */
static int run_child(const char *case_name, const char *env, char **err) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        putenv((char *)env);
        execl("/proc/self/exe", "diag_dump", case_name, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    static char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    *err = buf;
    return st;
}

static void child_sigquit(void) {
    go_mutex_lock(&mu);
    go_waitgroup_add(&parked, 1);
    go_attr_t a = {0, "quit-victim"};
    CHECK(go_spawn_ex(dump_test_waiter, NULL, &a) == 0);
    go_waitgroup_wait(&parked);
    int fd = temp_fd();
    dump_until(fd, "[quit-victim]: waiting (mutex", NULL);
    close(fd);
    kill(getpid(), SIGQUIT);
    go_sleep(10LL * 1000 * 1000 * 1000);
    _exit(1);
}

static void traceback_on_sigquit(void) {
    char *err;
    int st = run_child("child_sigquit", "GORO_TRACEBACK=1", &err);
    printf("%s", err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(err, "SIGQUIT: quit") != NULL);
    CHECK(strstr(err, "[quit-victim]: waiting (mutex") != NULL);
}

static void child_leaks(void) {
    go_mutex_lock(&mu);
    go_waitgroup_add(&parked, 1);
    go_attr_t a = {0, "leaky-worker"};
    CHECK(go_spawn_ex(dump_test_waiter, NULL, &a) == 0);
    go_waitgroup_wait(&parked);
    exit(0);
}

static void quick(void *arg) {
    (void)arg;
    go_yield();
}

/* The README's leak-check pattern: after waiting on go_waitgroup_go
 * goroutines, none is left. */
static void child_no_leak(void) {
    static go_waitgroup_t wg;
    for (int i = 0; i < 100; i++) CHECK(go_waitgroup_go(&wg, quick, NULL) == 0);
    go_waitgroup_wait(&wg);
    CHECK(go_num_goroutine() == 0);
    exit(0);
}

static void leakcheck_at_exit(void) {
    char *err;
    int st = run_child("child_leaks", "GORO_LEAKCHECK=1", &err);
    printf("%s", err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(err, "goro: leak check: 1 goroutine(s) still alive at exit") != NULL);
    CHECK(strstr(err, "[leaky-worker]") != NULL);
    st = run_child("child_no_leak", "GORO_LEAKCHECK=1", &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(err, "leak check") == NULL);
    /* Off by default. */
    st = run_child("child_leaks", "GORO_UNRELATED=1", &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(err, "leak check") == NULL);
}

static const struct goro_case cases[] = {
    {"dump_lines", dump_lines, NULL},
    {"traceback_on_sigquit", traceback_on_sigquit, NULL},
    {"leakcheck_at_exit", leakcheck_at_exit, NULL},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child_sigquit") == 0) child_sigquit();
    if (argc > 1 && strcmp(argv[1], "child_leaks") == 0) child_leaks();
    if (argc > 1 && strcmp(argv[1], "child_no_leak") == 0) child_no_leak();
    return goro_test_main(argc, argv, cases);
}
