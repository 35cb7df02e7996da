// Instantiates every template of goro.hpp, so that tests/install/run.sh can
// compile it with strict warnings (-Werror) in several C++ modes.
#include <goro.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

static go::mutex mu;
static go::rwmutex rw;
static go::once once;

static void f(int, const std::string &) {}
struct S {
    void m(int) {}
};

int strict_all(void);
int strict_all(void) {
    go::waitgroup wg;
    auto p = std::make_unique<int>(1);
    go::spawn([p = std::move(p)] { (void)*p; });
    go::spawn(f, 1, std::string("x"));
    S s;
    go::spawn(&S::m, &s, 2);
    go::spawn_ex(go::attr{64 * 1024, "name"}, [] {});
    int e = go::try_spawn(f, 2, "y");
    wg.go([](std::unique_ptr<int> q) { (void)q; }, std::make_unique<int>(3));
    e += wg.try_go([] {});
    wg.add(1);
    wg.done();
    wg.wait();
    once.call([] {});
    once.call(f, 3, "z");
    {
        std::lock_guard<go::mutex> a(mu);
    }
    {
        std::unique_lock<go::mutex> a(mu, std::try_to_lock);
    }
    {
        std::scoped_lock a(mu);
    }
    {
        std::shared_lock<go::rwmutex> a(rw);
    }
    {
        std::unique_lock<go::rwmutex> a(rw);
    }
    go::sleep(std::chrono::milliseconds(1));
    go::sleep(std::chrono::duration<double>(0.001));
    go::sleep(std::chrono::hours::max());
    go::sleep_until(std::chrono::steady_clock::now());
    go::yield();
    go::dump();
    (void)go_mutex_trylock(mu.native_handle());
    return e + static_cast<int>(go::id()) + static_cast<int>(go::num_goroutine()) + go::maxprocs() +
           go::maxprocs(2);
}
