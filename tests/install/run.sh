#!/usr/bin/env bash
# goro installed like a C library and used like one (issue 6).
#
#   tests/install/run.sh        (after `cargo build --release`; `make test-install` does both)
#
# Installs with pkg/install.sh into a mktemp prefix and checks, in order:
#   exports   libgoro.so exports only go_* and has soname libgoro.so.0
#   headers   goro.h: C99/C11/C++ pedantic-clean, #error on unsupported
#             platforms; goro.hpp: C++17/20/23 and -fno-exceptions clean,
#             #error before C++17
#   layout    the installed files, symlinks and soname; DESTDIR staging with
#             `make install`/`make uninstall`
#   plain     c_examples/*.c built with the README's line
#             (cc app.c -Iinclude -Ltarget/release -lgoro)
#   pkgconfig C and C++ programs and c_examples/*.c built with
#             $(pkg-config --cflags --libs goro); a relocated prefix
#   static    libgoro.a: by hand with the documented system libraries,
#             pkg-config goro-static, `pkg-config --static` fully static
#   cmake     find_package(goro 0.1 REQUIRED) with goro::goro (shared),
#             goro::goro_static, GORO_USE_STATIC, c_examples/*.c; the
#             package's version rules; a relocated prefix
# and that the same example built every way prints the same (distinct) lines.
#
# Environment: CC, CXX (default cc, c++); KEEP=1 keeps the temporary directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/install
cd "$root"
CC=${CC:-cc}
CXX=${CXX:-c++}
export GOMAXPROCS=${GOMAXPROCS:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/goro-install.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi

section() { echo "== $*"; }
ok() { echo "ok   $*"; }
fail() {
    echo "FAIL $*" >&2
    exit 1
}
# run <log> <cmd...>: runs a command, shows its output only if it fails.
run() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        echo "FAIL: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}
# expect_output <file> <line>: the file contains exactly that line.
expect_line() { grep -qxF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "expected the line '$2'"; }; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'; }

missing=()
for tool in "$CC" "$CXX" cmake make pkg-config readelf nm ldd timeout; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || fail "missing tools: ${missing[*]} (Debian: apt-get install pkg-config cmake g++ binutils)"

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
[ -f target/release/libgoro.so ] && [ -f target/release/libgoro.a ] ||
    fail "target/release/libgoro.so or libgoro.a missing: run 'cargo build --release' first"
examples=(c_examples/*.c)

section "exports"
sh "$here/check-exports.sh" target/release/libgoro.so

section "headers"
for std in c99 c11; do
    run "$tmp/h.log" "$CC" -std=$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only -Iinclude -x c - <<<'#include <goro.h>'
done
ok "goro.h: C99 and C11, -Wall -Wextra -Wpedantic -Werror"
run "$tmp/h.log" "$CXX" -std=c++11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -Iinclude -x c++ - <<<'#include <goro.h>'
ok "goro.h: C++11"
for std in c++17 c++20 c++23; do
    if ! echo 'int main(){}' | "$CXX" -std=$std -fsyntax-only -x c++ - 2>/dev/null; then
        echo "skip goro.hpp -std=$std (not supported by $CXX)"
        continue
    fi
    run "$tmp/h.log" "$CXX" -std=$std -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion \
        -Wsign-conversion -Wold-style-cast -fsyntax-only -Iinclude "$here/strict.cpp"
    ok "goro.hpp: -std=$std, every template instantiated, -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast -Werror"
done
run "$tmp/h.log" "$CXX" -std=c++17 -fno-exceptions -Wall -Wextra -Werror -fsyntax-only -Iinclude "$here/strict.cpp"
ok "goro.hpp: -fno-exceptions"
if "$CXX" -std=c++14 -fsyntax-only -Iinclude -x c++ - <<<'#include <goro.hpp>' >"$tmp/h.log" 2>&1 ||
    ! grep -q "goro.hpp needs C++17" "$tmp/h.log"; then
    cat "$tmp/h.log" >&2
    fail "goro.hpp with -std=c++14 should stop with '#error goro.hpp needs C++17'"
fi
ok "goro.hpp: -std=c++14 stops with a clear #error"
if "$CC" -U__linux__ -fsyntax-only -Iinclude -x c - <<<'#include <goro.h>' >"$tmp/h.log" 2>&1 ||
    ! grep -q "goro supports Linux on x86_64 and aarch64 only" "$tmp/h.log"; then
    cat "$tmp/h.log" >&2
    fail "goro.h on a non-Linux target should stop with a clear #error"
fi
ok "goro.h: a non-Linux target stops with a clear #error"

section "install layout"
prefix=$tmp/prefix
run "$tmp/install.log" sh pkg/install.sh install --prefix "$prefix"
lib=$prefix/lib
for f in "lib/libgoro.so.$version" lib/libgoro.a include/goro.h include/goro.hpp \
    lib/pkgconfig/goro.pc lib/pkgconfig/goro-static.pc \
    lib/cmake/goro/goroConfig.cmake lib/cmake/goro/goroConfigVersion.cmake; do
    [ -f "$prefix/$f" ] || fail "$prefix/$f not installed"
done
[ "$(readlink "$lib/libgoro.so")" = "libgoro.so.$major" ] || fail "libgoro.so should link to libgoro.so.$major"
[ "$(readlink "$lib/libgoro.so.$major")" = "libgoro.so.$version" ] ||
    fail "libgoro.so.$major should link to libgoro.so.$version"
sh "$here/check-exports.sh" "$lib/libgoro.so.$version" >/dev/null
cmp -s include/goro.h "$prefix/include/goro.h" && cmp -s include/goro.hpp "$prefix/include/goro.hpp" ||
    fail "installed headers differ from include/"
ok "lib/libgoro.so -> libgoro.so.$major -> libgoro.so.$version (soname libgoro.so.$major), libgoro.a, headers, goro.pc, goro-static.pc, CMake package"

# make install/uninstall with DESTDIR: files land under the staging root,
# while the paths inside them name the final prefix.
stage=$tmp/stage
# (CARGO=true: install what was tested above, without a rebuild in between.)
run "$tmp/make-install.log" make --no-print-directory install CARGO=true PREFIX=/opt/goro DESTDIR="$stage"
[ -f "$stage/opt/goro/lib/libgoro.so.$version" ] || fail "make install DESTDIR=: library not staged"
grep -qx "prefix=/opt/goro" "$stage/opt/goro/lib/pkgconfig/goro.pc" || fail "staged goro.pc should say prefix=/opt/goro"
[ ! -e /opt/goro/lib/libgoro.so.$version ] || echo "note: /opt/goro exists on this machine (not ours)"
run "$tmp/make-uninstall.log" make --no-print-directory uninstall PREFIX=/opt/goro DESTDIR="$stage"
left=$(find "$stage" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make install/uninstall PREFIX=/opt/goro DESTDIR=...: staged, then removed completely"

# Runs a built example and records its sorted output for comparison.
run_example() { # <binary> <name> <way>
    local out=$tmp/out/$2.$3
    mkdir -p "$tmp/out"
    if ! timeout 60 "$1" >"$out" 2>"$out.err"; then
        cat "$out" "$out.err" >&2
        fail "$2 ($3) failed"
    fi
    # Distinct lines: say.c's last "world" may lose its race with main's exit.
    sort -u "$out" >"$out.sorted"
}

section "plain cc (README: cc app.c -Iinclude -Ltarget/release -lgoro)"
mkdir -p "$tmp/plain"
for ex in "${examples[@]}"; do
    name=$(basename "$ex" .c)
    run "$tmp/plain/$name.log" "$CC" "$ex" -Iinclude -Ltarget/release -lgoro -o "$tmp/plain/$name"
    LD_LIBRARY_PATH=$root/target/release run_example "$tmp/plain/$name" "$name" plain
    ok "$name: plain cc"
done

section "pkg-config"
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion goro)" = "$version" ] || fail "pkg-config --modversion goro"
mkdir -p "$tmp/pc"
# shellcheck disable=SC2046
run "$tmp/pc/app.log" "$CC" "$here/app.c" $(pkg-config --cflags --libs goro) -o "$tmp/pc/app"
[ "$(needed "$tmp/pc/app" | grep goro)" = "libgoro.so.$major" ] || fail "app should need libgoro.so.$major"
LD_LIBRARY_PATH=$lib "$tmp/pc/app" >"$tmp/pc/app.out" || fail "pkg-config C app failed"
expect_line "$tmp/pc/app.out" "goro C app: counter=100 goroutines=0"
LD_LIBRARY_PATH=$lib ldd "$tmp/pc/app" | grep >/dev/null "libgoro.so.$major => $lib/libgoro.so.$major" ||
    fail "the app does not load the installed libgoro"
ok "C app: cc app.c \$(pkg-config --cflags --libs goro), needs libgoro.so.$major"
# shellcheck disable=SC2046
run "$tmp/pc/app_cxx.log" "$CXX" -std=c++17 "$here/app.cpp" $(pkg-config --cflags --libs goro) -o "$tmp/pc/app_cxx"
LD_LIBRARY_PATH=$lib "$tmp/pc/app_cxx" >"$tmp/pc/app_cxx.out" || fail "pkg-config C++ app failed"
expect_line "$tmp/pc/app_cxx.out" "goro C++ app: even=50 odd=50"
ok "C++ app: c++ -std=c++17 app.cpp \$(pkg-config --cflags --libs goro)"
for ex in "${examples[@]}"; do
    name=$(basename "$ex" .c)
    # shellcheck disable=SC2046
    run "$tmp/pc/$name.log" "$CC" "$ex" $(pkg-config --cflags --libs goro) -o "$tmp/pc/$name"
    LD_LIBRARY_PATH=$lib run_example "$tmp/pc/$name" "$name" pkgconfig
    ok "$name: pkg-config"
done
# A prefix moved elsewhere: pkg-config --define-prefix follows the .pc file.
cp -a "$prefix" "$tmp/moved"
if pkg-config --help 2>&1 | grep >/dev/null -- --define-prefix; then
    got=$(PKG_CONFIG_PATH=$tmp/moved/lib/pkgconfig pkg-config --define-prefix --variable=libdir goro)
    [ "$got" = "$tmp/moved/lib" ] || fail "pkg-config --define-prefix: libdir is $got"
    ok "relocated prefix: pkg-config --define-prefix"
fi

section "static (libgoro.a)"
libs_private=$(sed -n 's/^Libs.private: //p' "$lib/pkgconfig/goro.pc")
mkdir -p "$tmp/static"
# shellcheck disable=SC2086
run "$tmp/static/app.log" "$CC" "$here/app.c" -I"$prefix/include" "$lib/libgoro.a" $libs_private -o "$tmp/static/app"
! needed "$tmp/static/app" | grep >/dev/null goro || fail "static app still needs libgoro.so"
"$tmp/static/app" >"$tmp/static/app.out" || fail "static C app failed"
expect_line "$tmp/static/app.out" "goro C app: counter=100 goroutines=0"
ok "C app: cc app.c -I\$prefix/include \$prefix/lib/libgoro.a $libs_private"
# shellcheck disable=SC2046
run "$tmp/static/app_cxx.log" "$CXX" -std=c++17 "$here/app.cpp" $(pkg-config --cflags --libs goro-static) -o "$tmp/static/app_cxx"
! needed "$tmp/static/app_cxx" | grep >/dev/null goro || fail "static C++ app still needs libgoro.so"
"$tmp/static/app_cxx" >"$tmp/static/app_cxx.out" || fail "static C++ app failed"
expect_line "$tmp/static/app_cxx.out" "goro C++ app: even=50 odd=50"
ok "C++ app: c++ -std=c++17 app.cpp \$(pkg-config --cflags --libs goro-static)"
# Fully static executable: pkg-config --static resolves -lgoro to libgoro.a
# under -static; gcc then links libgcc_eh itself, so -lgcc_s is dropped.
static_flags=$(pkg-config --static --cflags --libs goro | sed 's/ *-lgcc_s//')
# shellcheck disable=SC2086
if "$CC" -static "$here/app.c" $static_flags -o "$tmp/static/app_full" >"$tmp/static/full.log" 2>&1; then
    "$tmp/static/app_full" >"$tmp/static/app_full.out" || fail "fully static app failed"
    expect_line "$tmp/static/app_full.out" "goro C app: counter=100 goroutines=0"
    ok "fully static: cc -static app.c \$(pkg-config --static --cflags --libs goro) without -lgcc_s"
else
    echo "skip fully static link (no static libc here?):"
    tail -3 "$tmp/static/full.log"
fi

section "CMake: find_package(goro 0.1 REQUIRED)"
run "$tmp/cmake-configure.log" cmake -S "$here/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release -DGORO_EXAMPLES_DIR="$root/c_examples" -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
run "$tmp/cmake-build.log" cmake --build "$tmp/cmake" -j2
b=$tmp/cmake
"$b/app" >"$b/app.out" || fail "CMake app (goro::goro) failed"
expect_line "$b/app.out" "goro C app: counter=100 goroutines=0"
[ "$(needed "$b/app" | grep goro)" = "libgoro.so.$major" ] || fail "CMake app should need libgoro.so.$major"
"$b/app_cxx" >"$b/app_cxx.out" || fail "CMake C++ app failed"
expect_line "$b/app_cxx.out" "goro C++ app: even=50 odd=50"
ok "goro::goro: C and C++ apps, linked to libgoro.so.$major (found through the build RPATH)"
for t in app_static app_cxx_static; do
    ! needed "$b/$t" | grep >/dev/null goro || fail "CMake $t (goro::goro_static) still needs libgoro.so"
    "$b/$t" >"$b/$t.out" || fail "CMake $t failed"
done
expect_line "$b/app_static.out" "goro C app: counter=100 goroutines=0"
expect_line "$b/app_cxx_static.out" "goro C++ app: even=50 odd=50"
ok "goro::goro_static: C and C++ apps, libgoro.a and its system libraries"
for ex in "${examples[@]}"; do
    name=$(basename "$ex" .c)
    run_example "$b/example_$name" "$name" cmake
    ok "$name: CMake"
done

# GORO_USE_STATIC=ON makes goro::goro the static library; a relocated prefix
# (the copy made above) is found where it now is.
run "$tmp/cmake2-configure.log" cmake -S "$here/consumer" -B "$tmp/cmake2" -DCMAKE_PREFIX_PATH="$tmp/moved" \
    -DGORO_USE_STATIC=ON -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
run "$tmp/cmake2-build.log" cmake --build "$tmp/cmake2" -j2 --target app
! needed "$tmp/cmake2/app" | grep >/dev/null goro || fail "GORO_USE_STATIC=ON: app still needs libgoro.so"
grep -q "$tmp/moved/lib/libgoro.a" "$tmp/cmake2/CMakeFiles/app.dir/link.txt" || fail "relocated prefix not used"
"$tmp/cmake2/app" >"$tmp/cmake2/app.out" || fail "GORO_USE_STATIC app failed"
expect_line "$tmp/cmake2/app.out" "goro C app: counter=100 goroutines=0"
ok "GORO_USE_STATIC=ON; relocated prefix"

# The version rules: same major, and for 0.x the same minor.
check_version() { # <request> <found|not-found> [ptr size]
    local d=$tmp/ver
    rm -rf "$d"
    cmake -S "$here/version" -B "$d" -DCMAKE_PREFIX_PATH="$prefix" -DGORO_REQUEST="$1" \
        -DGORO_PTR_SIZE="${3:-8}" >"$d.log" 2>&1 || { cat "$d.log" >&2; fail "version check '$1'"; }
    got=$(sed -n 's/.*GORO_RESULT \([a-z-]*\).*/\1/p' "$d.log")
    [ "$got" = "$2" ] || fail "find_package(goro $1): $got, want $2"
}
IFS=. read -r vmaj vmin vpatch <<<"$version"
vpatch=${vpatch%%[!0-9]*}
check_version "" found
check_version "$vmaj.$vmin" found
check_version "$vmaj.$vmin.$vpatch EXACT" found
check_version "$vmaj.$vmin.$((vpatch + 1))" not-found
check_version "$vmaj.$((vmin + 1))" not-found
check_version "$((vmaj + 1)).0" not-found
[ "$vmaj" = 0 ] && [ "$vmin" -gt 0 ] && check_version "0.$((vmin - 1))" not-found
check_version "$vmaj.$vmin...$vmaj.$((vmin + 1))" found
check_version "$vmaj.$vmin" not-found 4
ok "goroConfigVersion.cmake: $version satisfies $vmaj.$vmin and ranges from it; not $vmaj.$((vmin + 1)), $((vmaj + 1)).0, newer patches, or 32-bit"

section "same output every way"
for ex in "${examples[@]}"; do
    name=$(basename "$ex" .c)
    for way in pkgconfig cmake; do
        cmp -s "$tmp/out/$name.plain.sorted" "$tmp/out/$name.$way.sorted" || {
            diff "$tmp/out/$name.plain.sorted" "$tmp/out/$name.$way.sorted" >&2 || true
            fail "$name: the $way build prints other lines than the plain one"
        }
    done
    ok "$name: plain, pkg-config and CMake builds print the same lines"
done

section "uninstall"
run "$tmp/uninstall.log" sh pkg/install.sh uninstall --prefix "$prefix"
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "uninstall left: $left"
ok "pkg/install.sh uninstall removes every installed file"

echo "tests/install: all passed"
