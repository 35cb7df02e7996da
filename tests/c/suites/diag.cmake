# Issue 5: deadlock detection, goroutine dumps, leak check, sanitizers, valgrind.
goro_test(diag_deadlock SOURCES diag_deadlock.c PROCS 1 2)
goro_test(diag_dump SOURCES diag_dump.c PROCS 2)
target_link_options(diag_dump PRIVATE -rdynamic)

# ThreadSanitizer = -race for C: a racy program is reported, correctly
# synchronized ones (spawn, Mutex, RWMutex, WaitGroup, Once) are not.
# AddressSanitizer: many goroutines run clean (with use-after-return
# detection), a heap overflow in a goroutine is reported, and
# LeakSanitizer's exit check (see san/asan.c).
function(goro_san_test name src flag)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
  target_compile_options(${name} PRIVATE -fsanitize=${flag} -g -O1)
  target_link_options(${name} PRIVATE -fsanitize=${flag})
  target_link_libraries(${name} PRIVATE goro Threads::Threads)
endfunction()

goro_san_test(san_tsan san/tsan.c thread)
goro_san_test(san_asan san/asan.c address)
foreach(p 1 2)
  foreach(c race)
    add_test(NAME san_tsan_${c}_p${p} COMMAND san_tsan ${c})
    set_tests_properties(san_tsan_${c}_p${p} PROPERTIES ENVIRONMENT "GOMAXPROCS=${p}"
      PASS_REGULAR_EXPRESSION "WARNING: ThreadSanitizer: data race" TIMEOUT 120)
  endforeach()
  foreach(c spawn mutex rwmutex waitgroup once)
    add_test(NAME san_tsan_${c}_p${p} COMMAND san_tsan ${c})
    set_tests_properties(san_tsan_${c}_p${p} PROPERTIES ENVIRONMENT "GOMAXPROCS=${p};TSAN_OPTIONS=exitcode=66"
      FAIL_REGULAR_EXPRESSION "ThreadSanitizer" TIMEOUT 120)
  endforeach()
  add_test(NAME san_asan_clean_p${p} COMMAND san_asan clean)
  set_tests_properties(san_asan_clean_p${p} PROPERTIES
    ENVIRONMENT "GOMAXPROCS=${p};ASAN_OPTIONS=detect_stack_use_after_return=1"
    FAIL_REGULAR_EXPRESSION "AddressSanitizer" TIMEOUT 120)
  add_test(NAME san_asan_overflow_p${p} COMMAND san_asan overflow)
  set_tests_properties(san_asan_overflow_p${p} PROPERTIES ENVIRONMENT "GOMAXPROCS=${p}"
    PASS_REGULAR_EXPRESSION "ERROR: AddressSanitizer: heap-buffer-overflow" TIMEOUT 120)
  # LeakSanitizer (ASan's) at exit: goroutines running or parked at exit
  # hold no leaks (both were reported before goro registered the stacks);
  # a lost buffer is one.
  foreach(c exit_running exit_parked)
    add_test(NAME san_asan_${c}_p${p} COMMAND san_asan ${c})
    set_tests_properties(san_asan_${c}_p${p} PROPERTIES ENVIRONMENT "GOMAXPROCS=${p}"
      FAIL_REGULAR_EXPRESSION "Sanitizer" TIMEOUT 120)
  endforeach()
  add_test(NAME san_asan_leak_p${p} COMMAND san_asan leak)
  set_tests_properties(san_asan_leak_p${p} PROPERTIES ENVIRONMENT "GOMAXPROCS=${p}"
    PASS_REGULAR_EXPRESSION "ERROR: LeakSanitizer: detected memory leaks" TIMEOUT 120)
endforeach()

# LeakSanitizer alone (-fsanitize=leak): it cannot follow a stack switch,
# so its default (frame-pointer) unwinder finds no caller for a malloc made
# on a goroutine's stack, and it ignores such allocations ("may be
# allocated in a coroutine"). With the unwinder that reads the unwind
# tables (as the README says) a buffer a goroutine lost is reported, and
# goroutines running or parked at exit still hold no leaks.
goro_san_test(san_lsan san/asan.c leak)
foreach(p 1 2)
  add_test(NAME san_lsan_leak_p${p} COMMAND san_lsan leak)
  set_tests_properties(san_lsan_leak_p${p} PROPERTIES
    ENVIRONMENT "GOMAXPROCS=${p};LSAN_OPTIONS=fast_unwind_on_malloc=0"
    PASS_REGULAR_EXPRESSION "Direct leak of 777 byte" TIMEOUT 120)
  foreach(c exit_running exit_parked)
    add_test(NAME san_lsan_${c}_p${p} COMMAND san_lsan ${c})
    set_tests_properties(san_lsan_${c}_p${p} PROPERTIES
      ENVIRONMENT "GOMAXPROCS=${p};LSAN_OPTIONS=fast_unwind_on_malloc=0"
      PASS_REGULAR_EXPRESSION "${c}: done" FAIL_REGULAR_EXPRESSION "Sanitizer" TIMEOUT 120)
  endforeach()
endforeach()

# Valgrind runs the C examples clean (stacks are registered with it).
find_program(VALGRIND valgrind)
if(VALGRIND)
  foreach(ex say workers fetcher)
    add_executable(vg_${ex} "${GORO_ROOT}/c_examples/${ex}.c")
    target_link_libraries(vg_${ex} PRIVATE goro)
    add_test(NAME valgrind_${ex}
      COMMAND ${VALGRIND} --error-exitcode=1 --leak-check=no -q $<TARGET_FILE:vg_${ex}>)
    set_tests_properties(valgrind_${ex} PROPERTIES ENVIRONMENT "GOMAXPROCS=2" TIMEOUT 300)
  endforeach()
else()
  message(STATUS "valgrind not found: valgrind tests skipped")
endif()
