// goro.hpp in a program built with -fno-exceptions: everything compiles and
// works; errors that would throw print a goro fatal error and abort.
#include <goro.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>

#ifdef _GNU_SOURCE
#undef _GNU_SOURCE // g++ predefines it; harness.h defines it again
#endif
#include "harness.h"

#if GORO_HPP_EXCEPTIONS
#error "this test must be built with -fno-exceptions"
#endif

static void no_exceptions(void) {
    go::mutex mu;
    go::rwmutex rw;
    go::once once;
    go::waitgroup wg;
    long n = 0, inits = 0;
    std::atomic<long> reads{0};
    for (int i = 0; i < 100; i++) {
        wg.go([&, p = std::make_unique<int>(i)] {
            once.call([&] { inits++; });
            {
                std::lock_guard lk(mu);
                n += *p;
            }
            std::shared_lock r(rw);
            reads++; // readers share the lock: count atomically
        });
    }
    wg.wait();
    CHECK_EQ_LL(n, 99 * 100 / 2);
    CHECK_EQ_LL(inits, 1);
    CHECK_EQ_LL(reads.load(), 100);

    std::atomic<int> ran{0};
    go::spawn([&ran](int k) { ran += k; }, 5);
    CHECK_EQ_LL(go::try_spawn([&ran] { ran++; }), 0);
    while (ran.load() != 6) go::sleep(std::chrono::milliseconds(1));
}

// Without exceptions a failed spawn is a fatal error.
static void spawn_failure_aborts(void) {
    go::spawn_ex(go::attr{1, nullptr}, [] {});
    _exit(3);
}

static const struct goro_case cases[] = {
    {"no_exceptions", no_exceptions, NULL},
    {"spawn_failure_aborts", spawn_failure_aborts,
     "goro: fatal error: go_spawn_ex failed: Invalid argument (goroutine 0, thread "},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
