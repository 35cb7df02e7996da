/*
 * goro.hpp: goro for C++17 - goroutines and Go's sync package as C++ types.
 *
 * Header-only, over the C API of goro.h; link exactly as for C (-lgoro,
 * `pkg-config --libs goro`, or CMake's goro::goro). Everything lives in
 * namespace go:
 *
 *   go::spawn(f, args...)      go f(args...)       (throws on failure)
 *   go::try_spawn(f, args...)  same, returns an errno value instead
 *   go::spawn_ex(attr, f, ...) with a stack size and/or a name
 *   go::yield()                runtime.Gosched()
 *   go::sleep(d)               time.Sleep(d), d a std::chrono::duration
 *   go::sleep_until(t)         sleep until a std::chrono::steady_clock time
 *   go::id()                   the goroutine's id (0 on a plain thread)
 *   go::num_goroutine()        runtime.NumGoroutine()
 *   go::maxprocs(n)            runtime.GOMAXPROCS(n)
 *   go::dump(fd)               a line per live goroutine (go_dump)
 *   go::mutex                  sync.Mutex    (Lockable)
 *   go::rwmutex                sync.RWMutex  (Lockable + SharedLockable)
 *   go::waitgroup              sync.WaitGroup (add, done, wait, go)
 *   go::once                   sync.Once     (call)
 *
 * Example (Go tour's SafeCounter):
 *
 *     #include <goro.hpp>
 *     #include <cstdio>
 *     #include <map>
 *     #include <mutex>
 *     #include <string>
 *
 *     struct SafeCounter {
 *         go::mutex mu;
 *         std::map<std::string, int> v;
 *         void inc(const std::string &key) { std::lock_guard lk(mu); v[key]++; }
 *         int value(const std::string &key) { std::lock_guard lk(mu); return v[key]; }
 *     };
 *
 *     int main() {
 *         SafeCounter c;
 *         go::waitgroup wg;
 *         for (int i = 0; i < 1000; i++)
 *             wg.go([&c] { c.inc("somekey"); });
 *         wg.wait();
 *         std::printf("%d\n", c.value("somekey"));   // 1000
 *     }
 *
 * Callables. go::spawn and waitgroup::go take any callable plus arguments,
 * as std::thread does: the callable and the arguments are decay-copied (or
 * moved: pass std::move(x) for move-only state such as std::unique_ptr) into
 * one heap block owned by the new goroutine, which calls
 * std::invoke(f, args...) and then destroys the block. Pass std::ref(x) to
 * share an object by reference; it must then outlive the goroutine.
 *
 * Errors. go::spawn, go::spawn_ex and waitgroup::go throw std::bad_alloc
 * when the block cannot be allocated, whatever the callable's copy/move
 * constructor throws, and std::system_error (std::generic_category(), code
 * EAGAIN or ENOMEM: no stack or control block could be had; EINVAL: bad
 * spawn_ex attributes) when goro cannot start the goroutine. In every
 * error case nothing was started and the block is already freed; a
 * waitgroup's counter is unchanged. go::try_spawn (and
 * waitgroup::try_go) report the same failures as a return value instead: 0,
 * ENOMEM (also for allocation failure), EAGAIN or EINVAL; they never throw
 * unless the callable's own copy/move constructor does.
 *
 * Exceptions in goroutines. A goroutine is the bottom of its own stack: an
 * exception may be thrown and caught inside it freely, but one that
 * escapes the spawned callable cannot go anywhere (and must never unwind
 * through goro's C ABI). goro.hpp catches it at the goroutine's entry,
 * prints
 *
 *     goro: fatal error: C++ exception escaped goroutine 17: <what()>
 *
 * on stderr and calls std::terminate() (by default: abort, SIGABRT), as Go
 * crashes the program on an unrecovered panic. once::call is different: see
 * there. Compiled with -fno-exceptions, the same errors print a
 * `goro: fatal error: ...` line and abort instead of throwing.
 *
 * Sync types. The zero value is ready to use (as in C and Go) and the
 * constructors are constexpr, so a global `go::mutex mu;` is constant-
 * initialized: no static-initialization-order problem. They are neither
 * copyable nor movable (Go: must not be copied after first use), own no
 * heap memory and need no destruction. native_handle() gives the C object
 * (go_mutex_t * etc.) to share one lock with C code. Misuse that Go treats
 * as fatal (unlock of an unlocked mutex, negative WaitGroup counter, ...)
 * aborts the process with a `goro: fatal error:` message, from C++ too.
 * Locks are not owned and not reentrant, as in Go: any goroutine or thread
 * may unlock.
 *
 * Where it may be called. Everything here works in goroutines and on plain
 * threads (main, std::thread). In a goroutine, blocking (lock, wait,
 * sleep, ...) parks only the goroutine; on a plain thread it blocks the
 * thread. Blocking in anything else (std::mutex, std::condition_variable,
 * std::this_thread::sleep_for, blocking I/O) inside a goroutine blocks its
 * worker thread and every goroutine queued on it: prefer goro's types.
 * A goroutine may move to another worker thread at any goro call that parks
 * or yields it, so do not keep a thread_local's address across such calls
 * (errno is handled by goro). std::shared_lock<go::rwmutex>, std::lock_guard,
 * std::unique_lock, std::scoped_lock and std::lock all work; using
 * std::condition_variable_any with them from a goroutine blocks its worker.
 *
 * Platform: Linux on x86_64 and aarch64, like goro.h.
 */
#ifndef GORO_HPP
#define GORO_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#if !defined(_MSVC_LANG) || _MSVC_LANG < 201703L
#error "goro.hpp needs C++17 or newer (-std=c++17); from C, include goro.h"
#endif
#endif

#include "goro.h"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sys/syscall.h>
#include <unistd.h>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define GORO_HPP_EXCEPTIONS 1
#else
#define GORO_HPP_EXCEPTIONS 0
#endif

namespace go {

/** Options for go::spawn_ex (see go_attr_t in goro.h). */
struct attr {
    /** Usable stack size in bytes; 0 = the default (see go_spawn_ex). */
    std::size_t stack_size = 0;
    /** Name shown in goroutine dumps and fatal errors (copied); may be null. */
    const char *name = nullptr;
};

namespace detail {

/* Prints goro's "(goroutine N)" / "(goroutine 0, thread T)" suffix. */
inline void print_where(std::FILE *f) noexcept {
    unsigned long long id = static_cast<unsigned long long>(go_id());
    if (id != 0)
        std::fprintf(f, "(goroutine %llu)\n", id);
    else
        std::fprintf(f, "(goroutine 0, thread %ld)\n", static_cast<long>(::syscall(SYS_gettid)));
}

[[noreturn]] inline void fatal(const char *what, int err) noexcept {
    std::fprintf(stderr, "goro: fatal error: %s failed: %s ", what, std::strerror(err));
    print_where(stderr);
    std::fflush(stderr);
    std::abort();
}

/* Reports a failed spawn: throws (or, without exceptions, aborts). */
[[noreturn]] inline void spawn_failed(int err, const char *what) {
#if GORO_HPP_EXCEPTIONS
    throw std::system_error(err, std::generic_category(), what);
#else
    fatal(what, err);
#endif
}

#if GORO_HPP_EXCEPTIONS
/* Called inside a catch handler at a goroutine's entry: never returns. */
[[noreturn]] inline void exception_escaped() noexcept {
    unsigned long long id = static_cast<unsigned long long>(go_id());
    try {
        throw;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "goro: fatal error: C++ exception escaped goroutine %llu: %s\n", id,
                     e.what());
    } catch (...) {
        std::fprintf(stderr,
                     "goro: fatal error: C++ exception escaped goroutine %llu: "
                     "(an exception not derived from std::exception)\n",
                     id);
    }
    std::fflush(stderr);
    std::terminate();
}
#endif

/* The heap block a goroutine owns: the callable and its arguments. */
template <class Fn, class... Args>
struct task {
    Fn fn;
    std::tuple<Args...> args;

    template <class F, class... A>
    explicit task(F &&f, A &&...a) : fn(std::forward<F>(f)), args(std::forward<A>(a)...) {}

    void run() { std::apply(std::move(fn), std::move(args)); }

    /* The goroutine's entry (a go_fn): runs the task, then frees it. */
    static void entry(void *p) noexcept {
        task *t = static_cast<task *>(p);
#if GORO_HPP_EXCEPTIONS
        try {
            t->run();
        } catch (...) {
            exception_escaped();
        }
#else
        t->run();
#endif
        delete t;
    }
};

template <class F, class... Args>
using task_for = task<std::decay_t<F>, std::decay_t<Args>...>;

template <class F, class... Args>
inline constexpr bool invocable_v =
    std::is_invocable_v<std::decay_t<F> &&, std::decay_t<Args> &&...>;

/* Allocates a task and hands it to start(entry, ptr) -> errno; throws on failure. */
template <class Start, class F, class... Args>
void start_or_throw(Start start, const char *what, F &&f, Args &&...args) {
    using T = task_for<F, Args...>;
#if GORO_HPP_EXCEPTIONS
    std::unique_ptr<T> t(new T(std::forward<F>(f), std::forward<Args>(args)...));
#else
    std::unique_ptr<T> t(new (std::nothrow) T(std::forward<F>(f), std::forward<Args>(args)...));
    if (!t) fatal(what, ENOMEM);
#endif
    int err = start(&T::entry, static_cast<void *>(t.get()));
    if (err != 0) {
        t.reset();
        spawn_failed(err, what);
    }
    t.release(); /* the goroutine owns it now */
}

/* As start_or_throw, returning the errno value instead. */
template <class Start, class F, class... Args>
int start_or_errno(Start start, F &&f, Args &&...args) {
    using T = task_for<F, Args...>;
    T *t = new (std::nothrow) T(std::forward<F>(f), std::forward<Args>(args)...);
    if (t == nullptr) return ENOMEM;
    int err = start(&T::entry, static_cast<void *>(t));
    if (err != 0) delete t;
    return err;
}

} // namespace detail

/**
 * go f(args...): starts std::invoke(f, args...) in a new goroutine, f and
 * args decay-copied/moved into it (see "Callables" above). Throws
 * std::bad_alloc or std::system_error (EAGAIN, ENOMEM) if it cannot; then
 * nothing was started. Everything the caller did before spawn happens
 * before the goroutine starts.
 */
template <class F, class... Args>
void spawn(F &&f, Args &&...args) {
    static_assert(detail::invocable_v<F, Args...>,
                  "go::spawn: f must be callable with the (decayed) arguments");
    detail::start_or_throw([](go_fn fn, void *p) { return go_spawn(fn, p); }, "go_spawn",
                           std::forward<F>(f), std::forward<Args>(args)...);
}

/** As go::spawn, with a stack size and/or a name; EINVAL for a bad stack size. */
template <class F, class... Args>
void spawn_ex(const attr &a, F &&f, Args &&...args) {
    static_assert(detail::invocable_v<F, Args...>,
                  "go::spawn_ex: f must be callable with the (decayed) arguments");
    go_attr_t ca{a.stack_size, a.name};
    detail::start_or_throw([&ca](go_fn fn, void *p) { return go_spawn_ex(fn, p, &ca); },
                           "go_spawn_ex", std::forward<F>(f), std::forward<Args>(args)...);
}

/**
 * As go::spawn, but returns 0 or an errno value (ENOMEM also when the task
 * cannot be allocated, EAGAIN) instead of throwing.
 */
template <class F, class... Args>
int try_spawn(F &&f, Args &&...args) {
    static_assert(detail::invocable_v<F, Args...>,
                  "go::try_spawn: f must be callable with the (decayed) arguments");
    return detail::start_or_errno([](go_fn fn, void *p) { return go_spawn(fn, p); },
                                  std::forward<F>(f), std::forward<Args>(args)...);
}

/** runtime.Gosched(): lets other goroutines run (plain thread: sched_yield). */
inline void yield() noexcept { go_yield(); }

/**
 * time.Sleep(d): parks the goroutine (a plain thread sleeps) for at least d,
 * rounded up to whole nanoseconds; d <= 0 returns at once; durations beyond
 * ~292 years are clamped.
 */
template <class Rep, class Period>
void sleep(const std::chrono::duration<Rep, Period> &d) {
    using namespace std::chrono;
    if (!(d > d.zero())) return;
    using ldns = duration<long double, std::nano>;
    if (ldns(d) >= ldns(nanoseconds::max())) {
        go_sleep(std::numeric_limits<std::int64_t>::max());
        return;
    }
    nanoseconds ns = duration_cast<nanoseconds>(d);
    if (ns < d) ++ns;
    go_sleep(static_cast<std::int64_t>(ns.count()));
}

/** Sleeps until t on std::chrono::steady_clock (goro measures CLOCK_MONOTONIC). */
template <class Duration>
void sleep_until(const std::chrono::time_point<std::chrono::steady_clock, Duration> &t) {
    auto now = std::chrono::steady_clock::now();
    if (t > now) go::sleep(t - now);
}

/** The calling goroutine's id: 1, 2, ..., never reused; 0 on a plain thread. */
inline std::uint64_t id() noexcept { return go_id(); }

/** runtime.NumGoroutine(): goroutines spawned and not yet returned. */
inline std::int64_t num_goroutine() noexcept { return go_num_goroutine(); }

/** runtime.GOMAXPROCS(n): sets the worker count if n > 0; returns the previous one. */
inline int maxprocs(int n = 0) noexcept { return go_maxprocs(n); }

/**
 * Writes one line per live goroutine (id, name, state, what it waits for,
 * entry function) to file descriptor fd, stderr by default (see go_dump).
 * A goroutine started by goro.hpp shows goro.hpp's entry function, a
 * go::detail::task<...>::entry instantiation that dladdr cannot name when
 * it wraps a lambda (a local type): name goroutines with go::spawn_ex to
 * tell them apart.
 */
inline void dump(int fd = 2) noexcept { go_dump(fd); }

/**
 * sync.Mutex, as a C++ Lockable (std::lock_guard, std::unique_lock,
 * std::scoped_lock, std::lock). Not reentrant, not owned; fair under
 * contention as Go's is. unlock() of an unlocked mutex is a fatal error.
 * Memory ordering: an unlock happens before the lock() (or successful
 * try_lock()) it lets in.
 */
class mutex {
  public:
    constexpr mutex() noexcept : m_{} {}
    mutex(const mutex &) = delete;
    mutex &operator=(const mutex &) = delete;

    void lock() noexcept { go_mutex_lock(&m_); }
    bool try_lock() noexcept { return go_mutex_trylock(&m_); }
    void unlock() noexcept { go_mutex_unlock(&m_); }

    /** The underlying C object, to share this lock with C code. */
    go_mutex_t *native_handle() noexcept { return &m_; }

  private:
    go_mutex_t m_;
};

/**
 * sync.RWMutex: many readers (lock_shared: std::shared_lock) or one writer
 * (lock: std::lock_guard, std::unique_lock, ...). A blocked writer keeps
 * new readers out, as in Go. Unlocking what is not locked is a fatal error.
 * Go's names are there too: rlock/runlock/try_rlock.
 */
class rwmutex {
  public:
    constexpr rwmutex() noexcept : m_{} {}
    rwmutex(const rwmutex &) = delete;
    rwmutex &operator=(const rwmutex &) = delete;

    void lock() noexcept { go_rwmutex_lock(&m_); }
    bool try_lock() noexcept { return go_rwmutex_trylock(&m_); }
    void unlock() noexcept { go_rwmutex_unlock(&m_); }

    void lock_shared() noexcept { go_rwmutex_rlock(&m_); }
    bool try_lock_shared() noexcept { return go_rwmutex_tryrlock(&m_); }
    void unlock_shared() noexcept { go_rwmutex_runlock(&m_); }

    void rlock() noexcept { lock_shared(); }
    bool try_rlock() noexcept { return try_lock_shared(); }
    void runlock() noexcept { unlock_shared(); }

    /** The underlying C object, to share this lock with C code. */
    go_rwmutex_t *native_handle() noexcept { return &m_; }

  private:
    go_rwmutex_t m_;
};

/**
 * sync.WaitGroup. add(n) before starting the work, done() when a piece
 * finishes, wait() until the counter is zero; or go(f, args...), Go 1.25's
 * wg.Go: add(1), spawn, done() when f returns. A negative counter is a
 * fatal error. Everything the goroutines did before done() happens before
 * wait() returns. Once every wait() has returned, the waitgroup may be
 * destroyed (e.g. it lived on the waiter's stack).
 */
class waitgroup {
  public:
    constexpr waitgroup() noexcept : wg_{} {}
    waitgroup(const waitgroup &) = delete;
    waitgroup &operator=(const waitgroup &) = delete;

    void add(int delta = 1) noexcept { go_waitgroup_add(&wg_, delta); }
    void done() noexcept { go_waitgroup_done(&wg_); }
    void wait() noexcept { go_waitgroup_wait(&wg_); }

    /**
     * Starts std::invoke(f, args...) in a goroutine counted by this
     * waitgroup (as go::spawn; the same exceptions, counter unchanged then).
     */
    template <class F, class... Args>
    void go(F &&f, Args &&...args) {
        static_assert(::go::detail::invocable_v<F, Args...>,
                      "waitgroup::go: f must be callable with the (decayed) arguments");
        go_waitgroup_t *wg = &wg_;
        ::go::detail::start_or_throw(
            [wg](go_fn fn, void *p) { return go_waitgroup_go(wg, fn, p); }, "go_waitgroup_go",
            std::forward<F>(f), std::forward<Args>(args)...);
    }

    /** As go(), returning 0 or an errno value instead of throwing (see go::try_spawn). */
    template <class F, class... Args>
    int try_go(F &&f, Args &&...args) {
        static_assert(::go::detail::invocable_v<F, Args...>,
                      "waitgroup::try_go: f must be callable with the (decayed) arguments");
        go_waitgroup_t *wg = &wg_;
        return ::go::detail::start_or_errno(
            [wg](go_fn fn, void *p) { return go_waitgroup_go(wg, fn, p); }, std::forward<F>(f),
            std::forward<Args>(args)...);
    }

    /** The underlying C object, to share this waitgroup with C code. */
    go_waitgroup_t *native_handle() noexcept { return &wg_; }

  private:
    go_waitgroup_t wg_;
};

/**
 * sync.Once. call(f, args...) runs std::invoke(f, args...) exactly once
 * across all goroutines and threads; every call returns only after that
 * one has completed, and sees its writes. Calling call() on the same once
 * from inside f is a fatal error (not a hang). f's return value is ignored.
 *
 * If f throws, Go's rule for a panic applies: the once counts as done (f is
 * never called again; other callers return normally) and the exception is
 * rethrown from the call() that ran f, after goro's C code has returned.
 * (std::call_once instead lets a later call retry.)
 */
class once {
  public:
    constexpr once() noexcept : o_{} {}
    once(const once &) = delete;
    once &operator=(const once &) = delete;

    template <class F, class... Args>
    void call(F &&f, Args &&...args) {
        static_assert(std::is_invocable_v<F &&, Args &&...>,
                      "once::call: f must be callable with the arguments");
        auto bound = [&]() { std::invoke(std::forward<F>(f), std::forward<Args>(args)...); };
        using B = decltype(bound);
#if GORO_HPP_EXCEPTIONS
        struct ctx {
            B *fn;
            std::exception_ptr err;
        } state{&bound, nullptr};
        go_once_do(
            &o_,
            [](void *p) noexcept {
                ctx *c = static_cast<ctx *>(p);
                try {
                    (*c->fn)();
                } catch (...) {
                    c->err = std::current_exception();
                }
            },
            &state);
        if (state.err) std::rethrow_exception(state.err);
#else
        go_once_do(
            &o_, [](void *p) noexcept { (*static_cast<B *>(p))(); }, &bound);
#endif
    }

    /** The underlying C object, to share this once with C code. */
    go_once_t *native_handle() noexcept { return &o_; }

  private:
    go_once_t o_;
};

static_assert(sizeof(mutex) == sizeof(go_mutex_t), "go::mutex wraps exactly a go_mutex_t");
static_assert(sizeof(rwmutex) == sizeof(go_rwmutex_t), "go::rwmutex wraps exactly a go_rwmutex_t");
static_assert(sizeof(waitgroup) == sizeof(go_waitgroup_t),
              "go::waitgroup wraps exactly a go_waitgroup_t");
static_assert(sizeof(once) == sizeof(go_once_t), "go::once wraps exactly a go_once_t");

} // namespace go

#endif /* GORO_HPP */
