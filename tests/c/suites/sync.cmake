# The sync package's C tests (issue 3): WaitGroup, Mutex, RWMutex, Once,
# each under GOMAXPROCS=1 and 2, from goroutines and plain threads, with
# death cases for every fatal misuse. Mutex and RWMutex also with 4 workers
# on this 2-core machine: the RWMutex's writer then revokes reader slots on
# four workers, and woken goroutines land on workers that are not running.
goro_test(sync_mutex SOURCES sync_mutex.c PROCS 1 2 4)
goro_test(sync_rwmutex SOURCES sync_rwmutex.c PROCS 1 2 4)
goro_test(sync_waitgroup SOURCES sync_waitgroup.c)
goro_test(sync_once SOURCES sync_once.c)

# The header's inline fast path and {0} initializers, compiled as C++ with
# -Wall -Wextra (no missing-field-initializer warnings) and as strict C99.
add_executable(sync_header_cxx sync_header.cpp)
target_link_libraries(sync_header_cxx PRIVATE goro)
target_compile_options(sync_header_cxx PRIVATE -Werror)
add_test(NAME sync_header_cxx COMMAND sync_header_cxx)
add_executable(sync_header_c99 sync_header.c)
target_link_libraries(sync_header_c99 PRIVATE goro)
set_target_properties(sync_header_c99 PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
target_compile_options(sync_header_c99 PRIVATE -Werror -pedantic)
add_test(NAME sync_header_c99 COMMAND sync_header_c99)
add_executable(sync_header_noinline sync_header.c)
target_link_libraries(sync_header_noinline PRIVATE goro)
target_compile_definitions(sync_header_noinline PRIVATE GORO_NO_INLINE)
target_compile_options(sync_header_noinline PRIVATE -Werror)
add_test(NAME sync_header_noinline COMMAND sync_header_noinline)

# The whole mutex and rwmutex suites once more through the exported
# (not inlined) functions.
goro_test(sync_mutex_noinline SOURCES sync_mutex.c PROCS 2)
target_compile_definitions(sync_mutex_noinline PRIVATE GORO_NO_INLINE)
goro_test(sync_rwmutex_noinline SOURCES sync_rwmutex.c PROCS 2)
target_compile_definitions(sync_rwmutex_noinline PRIVATE GORO_NO_INLINE)
