// goro.hpp's goroutine side from C++17: go::spawn with any callable
// (captures, move-only state, arguments), errors, go::sleep/yield/id/...,
// and the fatal error when an exception escapes a goroutine.
//
// Uses no sync type (only std::atomic and go::sleep to wait), so that it
// exercises spawn on its own.
#include <goro.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#ifdef _GNU_SOURCE
#undef _GNU_SOURCE // g++ predefines it; harness.h defines it again
#endif
#include "harness.h"

using namespace std::chrono_literals;

// Waits (sleeping, not spinning) until counter reaches n; fails after 20 s.
static void wait_for(const std::atomic<int> &counter, int n) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (counter.load() < n) {
        CHECK(std::chrono::steady_clock::now() < deadline);
        go::sleep(200us);
    }
}

// Counts its destructions; move-only.
struct Tracker {
    std::atomic<int> *destroyed;
    bool live = true;
    explicit Tracker(std::atomic<int> *d) : destroyed(d) {}
    Tracker(Tracker &&o) noexcept : destroyed(o.destroyed) { o.live = false; }
    Tracker(const Tracker &) = delete;
    ~Tracker() {
        if (live) (*destroyed)++;
    }
};

static void spawn_move_only_capture(void) {
    std::atomic<int> ran{0}, destroyed{0};
    auto p = std::make_unique<int>(42);
    Tracker t(&destroyed);
    go::spawn([p = std::move(p), t = std::move(t), &ran] {
        CHECK(*p == 42);
        CHECK(go::id() != 0);
        ran++;
    });
    CHECK(p == nullptr); // ownership moved into the goroutine
    wait_for(ran, 1);
    wait_for(destroyed, 1); // the goroutine destroyed its callable after running it
    CHECK_EQ_LL(destroyed.load(), 1);
}

static void add_into(std::atomic<int> *sum, std::unique_ptr<int> v, const std::string &s, int &out,
                     std::atomic<int> *ran) {
    *sum += *v;
    out = (int)s.size();
    (*ran)++;
}

struct Functor {
    std::atomic<int> *ran;
    std::string tag;
    void operator()() && { // callable as an rvalue only: goro.hpp invokes it once, moved
        CHECK(tag == "functor");
        (*ran)++;
    }
};

struct Obj {
    std::atomic<int> hits{0};
    void hit(int n) { hits += n; }
};

static void plain_function(std::atomic<int> *ran) { (*ran)++; }

static void spawn_arguments(void) {
    std::atomic<int> sum{0}, ran{0};
    int out = 0;
    std::string s = "four";
    // Arguments are decay-copied/moved at spawn time, like std::thread's and
    // like Go's `go f(x)`, which evaluates x before starting f.
    go::spawn(add_into, &sum, std::make_unique<int>(5), s, std::ref(out), &ran);
    s = "changed after spawn";
    wait_for(ran, 1);
    CHECK_EQ_LL(sum.load(), 5);
    CHECK_EQ_LL(out, 4);

    go::spawn(Functor{&ran, "functor"});
    wait_for(ran, 2);
    go::spawn(plain_function, &ran);
    wait_for(ran, 3);
    go::spawn(&plain_function, &ran);
    wait_for(ran, 4);

    Obj obj;
    go::spawn(&Obj::hit, &obj, 3); // std::invoke: member function + object pointer
    go::spawn(&Obj::hit, std::ref(obj), 4);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (obj.hits.load() < 7) {
        CHECK(std::chrono::steady_clock::now() < deadline);
        go::yield();
    }

    std::function<void()> f = [&ran] { ran++; };
    go::spawn(f); // copied: f stays usable here
    f();
    wait_for(ran, 6);
}

static void spawn_many(void) {
    const int n = 10000;
    std::atomic<int> done{0};
    std::vector<int> slots(n, 0);
    for (int i = 0; i < n; i++) {
        go::spawn([&slots, &done, i] {
            slots[i] = i + 1;
            done++;
        });
    }
    wait_for(done, n);
    for (int i = 0; i < n; i++) CHECK_EQ_LL(slots[i], i + 1);
}

static void spawn_errors(void) {
    std::atomic<int> ran{0}, destroyed{0};
    // A stack size goro cannot honour: std::system_error(EINVAL), nothing
    // started, and the callable (with its captures) already destroyed.
    bool threw = false;
    try {
        go::spawn_ex(go::attr{1, "too-small"}, [t = Tracker(&destroyed), &ran] { ran++; });
    } catch (const std::system_error &e) {
        threw = e.code() == std::errc::invalid_argument;
        CHECK(std::strstr(e.what(), "go_spawn_ex") != nullptr);
    }
    CHECK(threw);
    CHECK_EQ_LL(destroyed.load(), 1);
    CHECK_EQ_LL(ran.load(), 0);

    // Valid attributes.
    go::spawn_ex(go::attr{256 * 1024, "named-goroutine"}, [&ran] {
        volatile char big[64 * 1024]; // uses the larger stack
        std::memset((char *)big, 1, sizeof big);
        ran++;
    });
    go::spawn_ex(go::attr{}, [&ran](int k) { ran += k; }, 2);
    wait_for(ran, 3);

    // try_spawn: the same without exceptions.
    CHECK_EQ_LL(go::try_spawn([&ran] { ran++; }), 0);
    wait_for(ran, 4);
}

static void exceptions_inside_goroutine(void) {
    // Throwing and catching inside one goroutine is ordinary C++.
    std::atomic<int> ok{0};
    for (int i = 0; i < 100; i++) {
        go::spawn([&ok, i] {
            std::function<void(int)> deep = [&](int d) {
                if (d == 0) throw std::out_of_range("deep " + std::to_string(i));
                go::yield(); // may resume on another worker: the catch still works
                deep(d - 1);
            };
            try {
                deep(20);
            } catch (const std::out_of_range &e) {
                if (std::string(e.what()) == "deep " + std::to_string(i)) ok++;
            }
        });
    }
    wait_for(ok, 100);
}

static void sleep_and_yield(void) {
    auto t0 = std::chrono::steady_clock::now();
    go::sleep(30ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);

    t0 = std::chrono::steady_clock::now();
    go::sleep(0s);
    go::sleep(-5s);
    go::sleep(std::chrono::duration<double>(-1.0));
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);

    t0 = std::chrono::steady_clock::now();
    go::sleep(std::chrono::duration<double, std::milli>(10.5));
    CHECK(std::chrono::steady_clock::now() - t0 >= 10500us);

    t0 = std::chrono::steady_clock::now();
    go::sleep_until(t0 + 20ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
    go::sleep_until(t0); // in the past: returns at once

    // In a goroutine: parks it. Many sleeping goroutines do not need many workers.
    std::atomic<int> done{0};
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; i++) {
        go::spawn([&done] {
            auto s = std::chrono::steady_clock::now();
            go::sleep(50ms);
            go::yield();
            if (std::chrono::steady_clock::now() - s >= 50ms) done++;
        });
    }
    wait_for(done, 100);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s); // in parallel, not 100 x 50 ms
    go::yield(); // plain thread: sched_yield
}

static void helpers(void) {
    CHECK_EQ_LL(go::id(), 0); // main is a plain thread
    std::atomic<int> done{0};
    std::atomic<uint64_t> ids[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) {
        go::spawn([&, i] {
            ids[i] = go::id();
            done++;
        });
    }
    wait_for(done, 2);
    CHECK(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1]);

    // GOMAXPROCS comes from the environment (ctest sets 1 or 2).
    const char *env = getenv("GOMAXPROCS");
    int procs = go::maxprocs();
    CHECK(procs >= 1);
    if (env) CHECK_EQ_LL(procs, atoi(env));
    CHECK_EQ_LL(go::maxprocs(3), procs);
    CHECK_EQ_LL(go::maxprocs(), 3);
    CHECK_EQ_LL(go::maxprocs(procs), 3);

    // num_goroutine counts goroutines that have not returned. The two
    // above may still be returning after done++: wait for them first.
    std::atomic<int> release{0}, started{0};
    goro_wait_goroutines(0, 20);
    const int64_t base = 0;
    for (int i = 0; i < 5; i++) {
        go::spawn([&] {
            started++;
            while (release.load() == 0) go::sleep(1ms);
        });
    }
    wait_for(started, 5);
    CHECK_EQ_LL(go::num_goroutine(), base + 5);
    release = 1;
    goro_wait_goroutines(base, 20);
}

// go::dump lists a goroutine under the name given to go::spawn_ex.
static void dump_names(void) {
    std::atomic<int> started{0}, release{0};
    go::spawn_ex(go::attr{0, "cxx-dump-test"}, [&] {
        started++;
        while (release.load() == 0) go::sleep(1ms);
    });
    wait_for(started, 1);
    FILE *f = tmpfile();
    CHECK(f != NULL);
    go::dump(fileno(f));
    release = 1;
    rewind(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    CHECK(std::strstr(buf, "goro: ") == buf);
    CHECK(std::strstr(buf, "cxx-dump-test") != nullptr);
}

// ---- death cases: an exception escaping a goroutine ------------------------------

static void escape_std_exception(void) {
    go::spawn([] { throw std::runtime_error("boom from a goroutine"); });
    go::sleep(10s); // the process dies first
    _exit(3);
}

static void escape_other_exception(void) {
    go::spawn([] { throw 42; });
    go::sleep(10s);
    _exit(3);
}

static void escape_nested_goroutine(void) {
    go::spawn([] {
        go::spawn([](std::unique_ptr<int> p) { throw std::logic_error("inner " + std::to_string(*p)); },
                  std::make_unique<int>(7));
        go::sleep(10s);
    });
    go::sleep(10s);
    _exit(3);
}

static const struct goro_case cases[] = {
    {"spawn_move_only_capture", spawn_move_only_capture, NULL},
    {"spawn_arguments", spawn_arguments, NULL},
    {"spawn_many", spawn_many, NULL},
    {"spawn_errors", spawn_errors, NULL},
    {"exceptions_inside_goroutine", exceptions_inside_goroutine, NULL},
    {"sleep_and_yield", sleep_and_yield, NULL},
    {"helpers", helpers, NULL},
    {"dump_names", dump_names, NULL},
    // Each child dies once per entry: one entry checks the start of the line,
    // the other its end (the goroutine id in between is not predictable).
    {"escape_std_exception", escape_std_exception,
     "goro: fatal error: C++ exception escaped goroutine "},
    {"escape_std_exception_what", escape_std_exception, ": boom from a goroutine\n"},
    {"escape_other_exception", escape_other_exception,
     "goro: fatal error: C++ exception escaped goroutine "},
    {"escape_other_exception_what", escape_other_exception,
     ": (an exception not derived from std::exception)\n"},
    {"escape_nested_goroutine", escape_nested_goroutine,
     "goro: fatal error: C++ exception escaped goroutine "},
    {"escape_nested_goroutine_what", escape_nested_goroutine, ": inner 7\n"},
    {NULL, NULL, NULL},
};

GORO_TEST_MAIN(cases)
