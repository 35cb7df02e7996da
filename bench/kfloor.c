/*
 * bench/kfloor.c: the kernel's share of W2 spawn+park, alone. No goroutines:
 * THREADS threads (default 2, as GOMAXPROCS=2) commit one fresh page for
 * each of N goroutines (default 1M) in one of three ways:
 *
 *   goro   (default) as goro's stack pools do: carve stack slots from 32 MiB
 *          MAP_NORESERVE slabs and, in batches of 32, install each slot's
 *          guard page (MADV_GUARD_INSTALL) and commit its top page
 *          (MADV_POPULATE_WRITE), both through process_madvise(2);
 *   touch  the same slots and batched guards, the top pages committed by a
 *          first-touch page fault each;
 *   bare   no stacks and no guards: N fresh pages in one contiguous mapping
 *          per thread, committed by first touch in address order. The least
 *          any runtime that gives each goroutine a page of its own pays on
 *          this machine.
 *
 * What it prints (seconds) is the least time a W2 spawn+park of N
 * goroutines can take here with one committed page per goroutine, in the
 * kernel alone (BENCHMARKS.md).
 *
 *   bench/out/kfloor [N [THREADS [goro|touch|bare]]]
 *
 * Also printed: one first-touch page fault, single-threaded, for scale.
 * Run each configuration in a process of its own (a process that already
 * holds a million committed pages commits more slowly).
 * goro and touch need Linux >= 6.13 (guards) and process_madvise on
 * ourselves (6.13's PIDFD_SELF); they say SKIP otherwise.
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

enum mode { GORO, TOUCH, BARE };
static enum mode mode = GORO;
static const char *const mode_names[] = {"goro", "touch", "bare"};

static void *map_or_die(long bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("kfloor: mmap");
        exit(1);
    }
    /* As goro's slabs: a huge page would commit 512 pages at once. */
    madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
}

static void *provision(void *arg) {
    long n = (long)arg, per_slab = slab_bytes / slot, used = per_slab;
    if (mode == BARE) {
        char *p = map_or_die(n * PAGE);
        for (long i = 0; i < n; i++) p[i * PAGE] = 1;
        return NULL;
    }
    char *slab = NULL;
    struct iovec guard[BATCH], top[BATCH];
    for (long i = 0; i < n; i += BATCH) {
        int k = 0;
        for (; k < BATCH && i + k < n; k++) {
            if (used == per_slab) {
                slab = map_or_die(slab_bytes);
                used = 0;
            }
            char *lo = slab + used++ * slot;
            guard[k] = (struct iovec){lo, guard_bytes};
            top[k] = (struct iovec){lo + slot - PAGE, PAGE};
        }
        int e = pmadvise(guard, k, MADV_GUARD_INSTALL_);
        if (!e && mode == GORO) e = pmadvise(top, k, MADV_POPULATE_WRITE);
        if (!e && mode == TOUCH)
            for (int j = 0; j < k; j++) *(volatile char *)top[j].iov_base = 1;
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
    int m = argc > 3 ? -1 : GORO;
    for (int i = 0; m < 0 && i < 3; i++)
        if (strcmp(argv[3], mode_names[i]) == 0) m = i;
    if (n <= 0 || threads <= 0 || threads > 64 || m < 0) {
        fprintf(stderr, "usage: kfloor [N [THREADS [goro|touch|bare]]]\n");
        return 2;
    }
    mode = (enum mode)m;
    /* One fault, for scale: touch 10k fresh pages in a row. */
    long nf = 10000;
    char *p = map_or_die(nf * PAGE);
    double t = bench_now();
    for (long i = 0; i < nf; i++) p[i * PAGE] = 1;
    double fault = (bench_now() - t) / nf;
    munmap(p, nf * PAGE);

    pthread_t tid[64];
    t = bench_now();
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, provision, (void *)(n / threads + (i < n % threads)));
    for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    printf("RESULT system=kernel workload=W2floor param=%s_threads%d n=%ld metric=commit_s value=%.6g\n",
           mode_names[mode], threads, n, bench_now() - t);
    printf("RESULT system=kernel workload=W2floor param=single n=%ld metric=fault_us value=%.6g\n", nf,
           fault * 1e6);
    return 0;
}
