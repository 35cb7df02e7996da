# libgoro.so exports only goro's C API (go_*, exactly the functions goro.h
# declares) and carries the soname libgoro.so.0 (issue 6). The full install
# test (install into a prefix; pkg-config, CMake, static consumers) is
# tests/install/run.sh, `make test-install`.
add_test(NAME install_exports_only_go
  COMMAND sh "${GORO_ROOT}/tests/install/check-exports.sh" "${GORO_LIB_DIR}/libgoro.so")
