/*
 * fiber_bench.cpp: the side-by-side workloads (W1..W8, see BENCHMARKS.md)
 * with Boost.Fiber, as a C++ programmer would write them.
 *
 * - Parallel workloads (W1, W2, W4, W7) run on Boost's work_stealing
 *   scheduler over 2 threads (main + one helper), like GOMAXPROCS=2.
 *   Idle threads of that scheduler spin (Boost's default, suspend=false).
 * - Single-threaded ones (W3, W5, W8) use the default round_robin scheduler
 *   on the main thread.
 * - Fibers get a 16 KiB fixedsize_stack (malloc'd, no guard page): Boost's
 *   default (128 KiB, one mmap each) does not fit a million fibers under
 *   vm.max_map_count. Only touched pages cost memory either way.
 * - glibc's heap trimming is turned off (mallopt in main): fiber stacks
 *   are malloc'd and brk(2) churn would otherwise dominate.
 * - Boost.Fiber has no WaitGroup: a fiber mutex + condition_variable +
 *   atomic counter stands in (WaitGroup below). It has no reader-writer
 *   lock (W6 is skipped) and no once (W8 measures std::call_once).
 * - main() runs in the main thread's main fiber, so W1 spawns "from a
 *   goroutine" as in Go.
 */
#include <boost/fiber/all.hpp>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace bf = boost::fibers;

static const std::size_t kStack = getenv("FIBER_STACK") ? (std::size_t)atol(getenv("FIBER_STACK")) : 16 * 1024;

/* Go's sync.WaitGroup, built from Boost.Fiber primitives. */
class WaitGroup {
  public:
    void add(long d) {
        if (n_.fetch_add(d, std::memory_order_acq_rel) + d == 0) wake();
    }
    void done() {
        if (n_.fetch_sub(1, std::memory_order_acq_rel) == 1) wake();
    }
    void wait() {
        std::unique_lock<bf::mutex> lk(m_);
        cv_.wait(lk, [this] { return n_.load(std::memory_order_acquire) == 0; });
    }

  private:
    void wake() {
        std::unique_lock<bf::mutex> lk(m_);
        cv_.notify_all();
    }
    std::atomic<long> n_{0};
    bf::mutex m_;
    bf::condition_variable cv_;
};

template <typename F>
static void go(F &&f) {
    bf::fiber(std::allocator_arg, bf::fixedsize_stack(kStack), std::forward<F>(f)).detach();
}

/* Two threads under work_stealing; the helper runs fibers until stopped. */
class Pool {
  public:
    Pool() {
        helper_ = std::thread([this] {
            bf::use_scheduling_algorithm<bf::algo::work_stealing>(2);
            std::unique_lock<bf::mutex> lk(m_);
            cv_.wait(lk, [this] { return stop_; });
        });
        bf::use_scheduling_algorithm<bf::algo::work_stealing>(2);
    }
    ~Pool() {
        {
            std::unique_lock<bf::mutex> lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        helper_.join();
    }

  private:
    std::thread helper_;
    bf::mutex m_;
    bf::condition_variable cv_;
    bool stop_ = false;
};

static void warm_up() {
    WaitGroup wg;
    for (int r = 0; r < 4; r++) {
        wg.add(4);
        for (int i = 0; i < 4; i++) go([&wg] { wg.done(); });
        wg.wait();
    }
}

static long share(long ops, long g, long i) { return ops / g + (i < ops % g ? 1 : 0); }

/* ---- W1 ---- */
static void run_w1(long n, long rounds) {
    Pool pool;
    warm_up();
    WaitGroup wg;
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        wg.add(n);
        for (long i = 0; i < n; i++) go([&wg] { wg.done(); });
        wg.wait();
    }
    double el = bench_now() - t0;
    bench_result("W1", "spawn_from_goroutine", n, "ns_per_goroutine", el * 1e9 / (double)(n * rounds));
    bench_result("W1", "spawn_from_goroutine", n, "peak_rss_mib", (double)bench_status_kb("VmHWM") / 1024.0);
}

/* ---- W2 ---- */
static void run_w2(long n) {
    Pool pool;
    warm_up();
    WaitGroup ready, gate, done;
    long rss0 = bench_status_kb("VmRSS"), pte0 = bench_status_kb("VmPTE");
    long ks0 = bench_meminfo_kb("KernelStack");
    ready.add(n);
    gate.add(1);
    done.add(n);
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        go([&] {
            ready.done();
            gate.wait();
            done.done();
        });
    ready.wait();
    double t1 = bench_now();
    long rss1 = bench_status_kb("VmRSS"), pte1 = bench_status_kb("VmPTE");
    long ks1 = bench_meminfo_kb("KernelStack");
    double t2 = bench_now();
    gate.done();
    done.wait();
    double t3 = bench_now();
    double dn = (double)n;
    bench_result("W2", "parked", n, "rss_bytes_per_goroutine", (double)(rss1 - rss0) * 1024.0 / dn);
    bench_result("W2", "parked", n, "pte_bytes_per_goroutine", (double)(pte1 - pte0) * 1024.0 / dn);
    bench_result("W2", "parked", n, "kstack_bytes_per_goroutine", (double)(ks1 - ks0) * 1024.0 / dn);
    bench_result("W2", "parked", n, "spawn_park_s", t1 - t0);
    bench_result("W2", "parked", n, "release_join_s", t3 - t2);
}

/* ---- W3: two fibers yielding on one thread (round_robin) ---- */
static void run_w3(long n) {
    double t0 = bench_now();
    auto body = [n] {
        for (long i = 0; i < n; i++) boost::this_fiber::yield();
    };
    bf::fiber a(std::allocator_arg, bf::fixedsize_stack(kStack), body);
    bf::fiber b(std::allocator_arg, bf::fixedsize_stack(kStack), body);
    a.join();
    b.join();
    double el = bench_now() - t0;
    bench_result("W3", "gomaxprocs1", n, "ns_per_yield", el * 1e9 / (double)(2 * n));
}

/* ---- W4 ---- */
static void run_w4(long g, long ops) {
    Pool pool;
    warm_up();
    bf::mutex mu;
    long counter = 0;
    WaitGroup wg;
    double t0 = bench_now();
    wg.add(g);
    for (long i = 0; i < g; i++) {
        long k = share(ops, g, i);
        go([&, k] {
            for (long j = 0; j < k; j++) {
                mu.lock();
                counter++;
                mu.unlock();
            }
            wg.done();
        });
    }
    wg.wait();
    double el = bench_now() - t0;
    if (counter != ops) {
        fprintf(stderr, "W4: counter %ld, expected %ld\n", counter, ops);
        exit(1);
    }
    bench_result("W4", ("g" + std::to_string(g)).c_str(), ops, "ns_per_op", el * 1e9 / (double)ops);
}

/* ---- W5 ---- */
static void run_w5(long n) {
    bf::mutex mu;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        mu.lock();
        mu.unlock();
    }
    double el = bench_now() - t0;
    bench_result("W5", "uncontended", n, "ns_per_lock_unlock", el * 1e9 / (double)n);
}

/* ---- W7 ---- */
static void run_w7(long rounds) {
    Pool pool;
    warm_up();
    WaitGroup wg;
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        wg.add(64);
        for (int i = 0; i < 64; i++) go([&wg] { wg.done(); });
        wg.wait();
    }
    double el = bench_now() - t0;
    bench_result("W7", "fanout64", rounds, "us_per_round", el * 1e6 / (double)rounds);
}

/* ---- W8: std::call_once (Boost.Fiber has no once) ---- */
static void run_w8(long n) {
    static std::once_flag once;
    static long calls = 0;
    auto f = [] { calls++; };
    std::call_once(once, f);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) std::call_once(once, f);
    double el = bench_now() - t0;
    if (calls != 1) {
        fprintf(stderr, "W8: init ran %ld times\n", calls);
        exit(1);
    }
    bench_result("W8", "fast_path", n, "ns_per_call", el * 1e9 / (double)n);
}

int main(int argc, char **argv) {
    bench_system = "boost";
    /* Fiber stacks come from malloc: without this, glibc trims and regrows
       the heap with brk(2) on every batch of fibers (5x slower W1/W7). A
       C++ user who profiled would do the same; goro caches its stacks. */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (argc < 2) {
        fprintf(stderr, BENCH_USAGE, argv[0]);
        return 2;
    }
    std::string w = argv[1];
    if (w == "W1") {
        long n = bench_arg(argc, argv, 2, BENCH_W1_N);
        run_w1(n, bench_arg(argc, argv, 3, BENCH_W1_ROUNDS(n)));
    } else if (w == "W2")
        run_w2(bench_arg(argc, argv, 2, BENCH_W2_N));
    else if (w == "W3")
        run_w3(bench_arg(argc, argv, 2, BENCH_W3_N));
    else if (w == "W4")
        run_w4(bench_arg(argc, argv, 2, 64), bench_arg(argc, argv, 3, BENCH_W4_OPS));
    else if (w == "W5")
        run_w5(bench_arg(argc, argv, 2, BENCH_W5_N));
    else if (w == "W6")
        printf("SKIP system=boost workload=W6 reason=boost_fiber_has_no_reader_writer_lock\n");
    else if (w == "W7")
        run_w7(bench_arg(argc, argv, 2, BENCH_W7_ROUNDS));
    else if (w == "W8")
        run_w8(bench_arg(argc, argv, 2, BENCH_W8_N));
    else {
        fprintf(stderr, BENCH_USAGE, argv[0]);
        return 2;
    }
    return 0;
}
