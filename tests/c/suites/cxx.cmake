# C++ suite: include/goro.hpp over libgoro (issue 6).
#
#   cxx_spawn     go::spawn with lambdas/functors/arguments/move-only state,
#                 errors, sleep/yield/id/maxprocs, and the fatal error when a
#                 C++ exception escapes a goroutine (death cases)
#   cxx_sync      go::mutex/rwmutex/waitgroup/once with std::lock_guard,
#                 unique_lock, scoped_lock, shared_lock; Go tour's SafeCounter,
#                 an RWMutex cache, Once races, Go's fatal misuse errors
#   cxx_noexcept  goro.hpp in a -fno-exceptions build
goro_test(cxx_spawn SOURCES cxx_spawn.cpp)
goro_test(cxx_sync SOURCES cxx_sync.cpp)
goro_test(cxx_noexcept SOURCES cxx_noexcept.cpp)
target_compile_options(cxx_noexcept PRIVATE -fno-exceptions)
foreach(t cxx_spawn cxx_sync cxx_noexcept)
  target_compile_options(${t} PRIVATE -Wpedantic)
endforeach()
