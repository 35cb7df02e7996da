/*
 * bench/kfloor.c: the kernel's share of W2 spawn+park, alone. No goroutines:
 * THREADS threads (default 2, as GOMAXPROCS=2) carve N stack slots (default
 * 1M) from 32 MiB MAP_NORESERVE slabs and, in batches of 32 as goro's stack
 * pools do, install each slot's guard page (MADV_GUARD_INSTALL) and commit
 * its top page (MADV_POPULATE_WRITE), both through process_madvise(2). What
 * it prints is the least time goro's W2 spawn+park of N goroutines can take
 * on this machine with one committed page per goroutine (BENCHMARKS.md),
 * in the kernel alone.
 *
 *   bench/out/kfloor [N [THREADS]]
 *
 * Also printed: one first-touch page fault, single-threaded, for scale.
 * Run it with THREADS=1 too, in another process (a process that already
 * holds a million committed pages commits more slowly).
 * Needs Linux >= 6.13 (guards) and process_madvise on ourselves (6.13's
 * PIDFD_SELF); says SKIP otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define MADV_GUARD_INSTALL_ 102
#define PIDFD_SELF_PROCESS_ (-10000)

enum { PAGE = 4096, BATCH = 32 };
/* As goro by default: a 128 KiB stack above a 16 KiB guard (config.rs). */
static const long guard_bytes = 16 * 1024;
static const long slot = 128 * 1024 + guard_bytes;
static const long slab_bytes = 32L << 20;

static int pmadvise(struct iovec *v, int n, int advice) {
    return syscall(SYS_process_madvise, PIDFD_SELF_PROCESS_, v, n, advice, 0) < 0 ? errno : 0;
}

static void *provision(void *arg) {
    long n = (long)arg, per_slab = slab_bytes / slot, used = per_slab;
    char *slab = NULL;
    struct iovec guard[BATCH], top[BATCH];
    for (long i = 0; i < n; i += BATCH) {
        int k = 0;
        for (; k < BATCH && i + k < n; k++) {
            if (used == per_slab) {
                slab = mmap(NULL, slab_bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                if (slab == MAP_FAILED) {
                    perror("kfloor: mmap");
                    exit(1);
                }
                used = 0;
            }
            char *lo = slab + used++ * slot;
            guard[k] = (struct iovec){lo, guard_bytes};
            top[k] = (struct iovec){lo + slot - PAGE, PAGE};
        }
        int e = pmadvise(guard, k, MADV_GUARD_INSTALL_);
        if (!e) e = pmadvise(top, k, MADV_POPULATE_WRITE);
        if (e) {
            printf("SKIP kfloor: process_madvise: %s (needs Linux >= 6.13)\n", strerror(e));
            exit(0);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (n <= 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "usage: kfloor [N [THREADS]]\n");
        return 2;
    }
    /* One fault, for scale: touch 10k fresh pages in a row. */
    long nf = 10000;
    char *p = mmap(NULL, nf * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double t = bench_now();
    for (long i = 0; i < nf; i++) p[i * PAGE] = 1;
    double fault = (bench_now() - t) / nf;
    munmap(p, nf * PAGE);

    pthread_t tid[64];
    t = bench_now();
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, provision, (void *)(n / threads + (i < n % threads)));
    for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    printf("RESULT system=kernel workload=W2floor param=threads%d n=%ld metric=guard_commit_s value=%.6g\n",
           threads, n, bench_now() - t);
    printf("RESULT system=kernel workload=W2floor param=threads1 n=%ld metric=fault_us value=%.6g\n", nf,
           fault * 1e6);
    return 0;
}
