# The runtime core's C tests.
goro_test(core_basic SOURCES core_basic.c)
goro_test(core_fp SOURCES core_fp.c)
goro_test(core_overflow SOURCES core_overflow.c PROCS 2)
target_compile_options(core_overflow PRIVATE -fstack-clash-protection)
goro_test(core_million_parked SOURCES core_million_parked.c PROCS 2 TIMEOUT 300)
goro_test(core_idle SOURCES core_idle.c PROCS 2)
goro_test(core_ulimit SOURCES core_ulimit.c PROCS 2)
goro_test(core_mprotect_guards SOURCES core_million_parked.c PROCS 2 TIMEOUT 300
          ENV "GORO_STACK_GUARD=mprotect;GORO_TEST_PARKED=100000")
# They exit 77 (skipped) on a machine without the memory free.
set_tests_properties(core_million_parked_p2 core_mprotect_guards_p2 PROPERTIES SKIP_RETURN_CODE 77)

# gdb shows a goroutine's frames down to the entry trampoline and stops there.
add_executable(core_gdb_target core_gdb_target.c)
target_link_libraries(core_gdb_target PRIVATE goro)
target_compile_options(core_gdb_target PRIVATE -O0 -g)
add_test(NAME core_gdb_backtrace
  COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/core_gdb.sh" $<TARGET_FILE:core_gdb_target>)
set_tests_properties(core_gdb_backtrace PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)

# The library never asks for an executable stack.
add_test(NAME core_no_exec_stack
  COMMAND sh -c "readelf -lW '${GORO_LIB_DIR}/libgoro.so' | grep GNU_STACK | grep -q ' RW '")

# The aarch64 switch, cross-assembled and run under qemu-aarch64.
add_test(NAME core_aarch64_switch
  COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/aarch64/run.sh" "${GORO_ROOT}/src/arch/aarch64.S")
set_tests_properties(core_aarch64_switch PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
