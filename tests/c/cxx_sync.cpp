// goro.hpp's sync types from C++17: go::mutex, go::rwmutex, go::waitgroup,
// go::once, with the standard library's lock adaptors.
#include <goro.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifdef _GNU_SOURCE
#undef _GNU_SOURCE // g++ predefines it; harness.h defines it again
#endif
#include "harness.h"

// ---- the types themselves ----------------------------------------------------

static_assert(!std::is_copy_constructible_v<go::mutex> && !std::is_move_constructible_v<go::mutex>);
static_assert(!std::is_copy_assignable_v<go::mutex> && !std::is_move_assignable_v<go::mutex>);
static_assert(!std::is_copy_constructible_v<go::rwmutex> && !std::is_move_constructible_v<go::rwmutex>);
static_assert(!std::is_copy_constructible_v<go::waitgroup> &&
              !std::is_move_constructible_v<go::waitgroup>);
static_assert(!std::is_copy_constructible_v<go::once> && !std::is_move_constructible_v<go::once>);
static_assert(std::is_nothrow_default_constructible_v<go::mutex>);
static_assert(std::is_trivially_destructible_v<go::mutex> &&
              std::is_trivially_destructible_v<go::rwmutex> &&
              std::is_trivially_destructible_v<go::waitgroup> &&
              std::is_trivially_destructible_v<go::once>);
// constexpr-constructible: these only compile if the constructors are constexpr.
[[maybe_unused]] constexpr go::mutex constexpr_mutex;
[[maybe_unused]] constexpr go::rwmutex constexpr_rwmutex;
[[maybe_unused]] constexpr go::waitgroup constexpr_waitgroup;
[[maybe_unused]] constexpr go::once constexpr_once;
// Same size as the C objects: a go::mutex can sit where C expects a go_mutex_t.
static_assert(sizeof(go::mutex) == sizeof(go_mutex_t));
static_assert(sizeof(go::rwmutex) == sizeof(go_rwmutex_t));
static_assert(sizeof(go::waitgroup) == sizeof(go_waitgroup_t));
static_assert(sizeof(go::once) == sizeof(go_once_t));

// Globals: constant-initialized, usable before (and from) any constructor.
static go::mutex global_mu;
static go::once global_once;
static int global_init_count;

// ---- Go tour: SafeCounter ------------------------------------------------------
//
//   type SafeCounter struct { mu sync.Mutex; v map[string]int }
//   func (c *SafeCounter) Inc(key string) { c.mu.Lock(); c.v[key]++; c.mu.Unlock() }
//   func (c *SafeCounter) Value(key string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.v[key] }
//   for i := 0; i < 1000; i++ { go c.Inc("somekey") }

struct SafeCounter {
    go::mutex mu;
    std::map<std::string, int> v;

    void inc(const std::string &key) {
        std::lock_guard<go::mutex> lk(mu);
        v[key]++;
    }
    int value(const std::string &key) {
        std::lock_guard lk(mu); // CTAD
        return v[key];
    }
};

static void safe_counter(void) {
    SafeCounter c;
    go::waitgroup wg;
    for (int i = 0; i < 1000; i++) wg.go([&c] { c.inc("somekey"); });
    wg.wait();
    CHECK_EQ_LL(c.value("somekey"), 1000);
    CHECK_EQ_LL(c.v.size(), 1);
}

// The same, contended: every goroutine increments many times and yields
// while holding the lock, so that others queue up on it.
static void safe_counter_contended(void) {
    SafeCounter c;
    go::waitgroup wg;
    const int n = 200, per = 50;
    for (int i = 0; i < n; i++) {
        wg.go([&c, i] {
            std::string key = "k" + std::to_string(i % 4);
            for (int j = 0; j < per; j++) {
                std::unique_lock lk(c.mu);
                int before = c.v[key];
                if (j % 8 == 0) go::yield();
                c.v[key] = before + 1;
            }
        });
    }
    wg.wait();
    for (int k = 0; k < 4; k++) CHECK_EQ_LL(c.value("k" + std::to_string(k)), n / 4 * per);
}

// ---- RWMutex: a cache read by many, written by a few -------------------------
//
// Readers take std::shared_lock and check an invariant that a writer breaks
// only while it holds the write lock (a and b move together).

struct Cache {
    mutable go::rwmutex mu;
    std::map<std::string, std::pair<long, long>> m;

    std::pair<long, long> get(const std::string &k) const {
        std::shared_lock lk(mu);
        auto it = m.find(k);
        return it == m.end() ? std::pair<long, long>{0, 0} : it->second;
    }
    void bump(const std::string &k) {
        std::lock_guard lk(mu);
        auto &p = m[k];
        p.first++;
        go::yield(); // readers must not see the half-updated pair
        p.second++;
    }
};

static void rwmutex_example(void) {
    Cache cache;
    go::waitgroup wg;
    std::atomic<long> reads{0};
    const int writers = 4, writes = 100, readers = 16;
    for (int w = 0; w < writers; w++) {
        wg.go([&cache, w] {
            for (int i = 0; i < writes; i++) cache.bump(w % 2 ? "odd" : "even");
        });
    }
    for (int r = 0; r < readers; r++) {
        wg.go([&] {
            for (int i = 0; i < 200; i++) {
                auto p = cache.get(i % 2 ? "odd" : "even");
                CHECK(p.first == p.second);
                reads.fetch_add(1, std::memory_order_relaxed);
                if (i % 16 == 0) go::yield();
            }
        });
    }
    wg.wait();
    CHECK_EQ_LL(cache.get("odd").first, writers / 2 * writes);
    CHECK_EQ_LL(cache.get("even").second, writers / 2 * writes);
    CHECK_EQ_LL(reads.load(), readers * 200);
}

// Many readers at once; a writer excludes them and they exclude it.
static void rwmutex_shared_exclusive(void) {
    go::rwmutex rw;
    {
        std::shared_lock r1(rw);
        std::shared_lock r2(rw, std::try_to_lock);
        CHECK(r2.owns_lock()); // readers share
        CHECK(!rw.try_lock()); // a writer does not get in
        std::unique_lock w(rw, std::try_to_lock);
        CHECK(!w.owns_lock());
    }
    {
        std::unique_lock w(rw);
        CHECK(!rw.try_lock_shared());
        CHECK(!rw.try_lock());
    }
    // Go's names.
    rw.rlock();
    CHECK(rw.try_rlock());
    rw.runlock();
    rw.runlock();
    CHECK(rw.try_lock());
    rw.unlock();

    // A writer blocked in a goroutine gets in once the readers leave.
    std::atomic<int> stage{0};
    go::waitgroup wg;
    rw.lock_shared();
    wg.go([&] {
        stage = 1;
        std::lock_guard lk(rw);
        stage = 2;
    });
    while (stage.load() != 1) go::yield();
    go::sleep(std::chrono::milliseconds(20));
    CHECK_EQ_LL(stage.load(), 1);
    rw.unlock_shared();
    wg.wait();
    CHECK_EQ_LL(stage.load(), 2);
}

// ---- Lockable: lock_guard, unique_lock, scoped_lock, std::lock ---------------

static void std_lock_adaptors(void) {
    go::mutex a, b;
    {
        std::lock_guard<go::mutex> g(a);
        CHECK(!a.try_lock());
    }
    CHECK(a.try_lock());
    a.unlock();
    {
        std::unique_lock<go::mutex> u(a, std::defer_lock);
        CHECK(!u.owns_lock());
        u.lock();
        CHECK(!a.try_lock());
        u.unlock();
        CHECK(u.try_lock());
    }
    {
        std::unique_lock<go::mutex> held(b);
        std::unique_lock<go::mutex> u(b, std::try_to_lock);
        CHECK(!u.owns_lock());
    }
    {
        std::scoped_lock both(a, b);
        CHECK(!a.try_lock());
        CHECK(!b.try_lock());
    }
    CHECK(a.try_lock() && b.try_lock());
    a.unlock();
    b.unlock();

    // Two goroutines taking the same pair in opposite orders through
    // std::scoped_lock (std::lock's deadlock avoidance) never deadlock.
    go::waitgroup wg;
    long n = 0;
    for (int g = 0; g < 8; g++) {
        wg.go([&, g] {
            for (int i = 0; i < 200; i++) {
                if (g % 2) {
                    std::scoped_lock lk(a, b);
                    n++;
                } else {
                    std::scoped_lock lk(b, a);
                    n++;
                }
                if (i % 32 == 0) go::yield();
            }
        });
    }
    wg.wait();
    CHECK_EQ_LL(n, 8 * 200);

    // A lock shared with C code through native_handle().
    go_mutex_lock(a.native_handle());
    CHECK(!a.try_lock());
    a.unlock();
}

// Locked on main (a plain thread), unlocked by a goroutine: not owned, as in Go.
static void mutex_not_owned(void) {
    go::mutex mu;
    mu.lock();
    go::waitgroup wg;
    wg.go([&mu] { mu.unlock(); });
    wg.wait();
    CHECK(mu.try_lock());
    mu.unlock();

    std::lock_guard lk(global_mu);
}

// ---- WaitGroup -------------------------------------------------------------------

static void waitgroup_add_done_go(void) {
    go::waitgroup wg;
    // After wait, no goroutine of the group is counted any more (first: the
    // add/done goroutines below may still be returning after their done()).
    // Goroutines of the cases before may still be returning too: start
    // from none.
    goro_wait_goroutines(0, 20);
    const int64_t base = 0;
    for (int i = 0; i < 20; i++) wg.go([] { go::sleep(std::chrono::milliseconds(1)); });
    wg.wait();
    CHECK_EQ_LL(go::num_goroutine(), base);

    std::atomic<int> sum{0};
    // Go-by-Example style: add/done around go::spawn.
    for (int i = 1; i <= 10; i++) {
        wg.add(1);
        go::spawn([&wg, &sum, i] {
            sum += i;
            wg.done();
        });
    }
    wg.wait();
    CHECK_EQ_LL(sum.load(), 55);

    // wg.go with arguments, decay-copied like std::thread's.
    sum = 0;
    auto add = [&sum](int x, const std::string &s) { sum += x * (int)s.size(); };
    for (int i = 1; i <= 10; i++) wg.go(add, i, std::string("ab"));
    wg.wait();
    CHECK_EQ_LL(sum.load(), 110);

    // try_go reports success as 0.
    CHECK_EQ_LL(wg.try_go([&sum] { sum = -1; }), 0);
    wg.wait();
    CHECK_EQ_LL(sum.load(), -1);
}

// A waitgroup on the stack of a goroutine that waits for its children, many
// times over: the memory is reused as soon as wait() returns.
static void waitgroup_nested(void) {
    go::waitgroup outer;
    std::atomic<int> leaves{0};
    for (int i = 0; i < 20; i++) {
        outer.go([&leaves] {
            for (int round = 0; round < 5; round++) {
                go::waitgroup inner;
                for (int j = 0; j < 5; j++) inner.go([&leaves] { leaves++; });
                inner.wait();
            }
        });
    }
    outer.wait();
    CHECK_EQ_LL(leaves.load(), 20 * 5 * 5);
}

// ---- Once --------------------------------------------------------------------

static void once_racing(void) {
    for (int round = 0; round < 20; round++) {
        go::once once;
        std::atomic<int> calls{0};
        int value = 0; // written once, read by all after call() returns
        std::atomic<int> seen_ok{0};
        auto init = [&] {
            calls++;
            go::yield(); // let the others pile up behind it
            value = 42;
        };
        go::waitgroup wg;
        for (int i = 0; i < 50; i++) {
            wg.go([&] {
                once.call(init);
                if (value == 42) seen_ok++;
            });
        }
        once.call(init); // main (a plain thread) joins the race too
        CHECK_EQ_LL(value, 42);
        wg.wait();
        CHECK_EQ_LL(calls.load(), 1);
        CHECK_EQ_LL(seen_ok.load(), 50);
    }
    // Arguments are passed through.
    go::once o;
    int got = 0;
    o.call([&got](int a, int b) { got = a + b; }, 2, 3);
    o.call([&got](int a, int b) { got = a * b; }, 2, 3);
    CHECK_EQ_LL(got, 5);

    global_once.call([] { global_init_count++; });
    global_once.call([] { global_init_count++; });
    CHECK_EQ_LL(global_init_count, 1);
}

// Go's rule: if f panics, Do counts as done. Here the exception reaches the
// caller that ran f, and nobody runs f again.
static void once_exception(void) {
    go::once o;
    int calls = 0;
    bool caught = false;
    try {
        o.call([&] {
            calls++;
            throw std::runtime_error("init failed");
        });
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "init failed";
    }
    CHECK(caught);
    o.call([&] { calls++; });
    CHECK_EQ_LL(calls, 1);

    // The same from a goroutine.
    go::once o2;
    std::atomic<int> thrown{0};
    go::waitgroup wg;
    for (int i = 0; i < 10; i++) {
        wg.go([&] {
            try {
                o2.call([] { throw 7; });
            } catch (int) {
                thrown++;
            }
        });
    }
    wg.wait();
    CHECK_EQ_LL(thrown.load(), 1);
}

// ---- death cases ------------------------------------------------------------

// An exception escaping a waitgroup.go callable: the same fatal error as for
// go::spawn (the waitgroup's done never runs; the process ends anyway).
static void escape_waitgroup_go(void) {
    go::waitgroup wg;
    wg.go([] { throw std::runtime_error("boom in wg.go"); });
    wg.wait();
    _exit(3);
}

// Go's fatal misuse errors reach C++ programs unchanged.
static void unlock_unlocked_mutex(void) {
    static go::mutex mu;
    mu.unlock();
    _exit(3);
}

static void negative_waitgroup(void) {
    go::waitgroup wg;
    wg.done();
    _exit(3);
}

static const struct goro_case cases[] = {
    {"safe_counter", safe_counter, NULL},
    {"safe_counter_contended", safe_counter_contended, NULL},
    {"rwmutex_example", rwmutex_example, NULL},
    {"rwmutex_shared_exclusive", rwmutex_shared_exclusive, NULL},
    {"std_lock_adaptors", std_lock_adaptors, NULL},
    {"mutex_not_owned", mutex_not_owned, NULL},
    {"waitgroup_add_done_go", waitgroup_add_done_go, NULL},
    {"waitgroup_nested", waitgroup_nested, NULL},
    {"once_racing", once_racing, NULL},
    {"once_exception", once_exception, NULL},
    {"escape_waitgroup_go", escape_waitgroup_go,
     "goro: fatal error: C++ exception escaped goroutine "},
    {"escape_waitgroup_go_what", escape_waitgroup_go, ": boom in wg.go\n"},
    {"unlock_unlocked_mutex", unlock_unlocked_mutex,
     "goro: fatal error: sync: unlock of unlocked mutex"},
    {"negative_waitgroup", negative_waitgroup, "goro: fatal error: sync: negative WaitGroup counter"},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
