#!/usr/bin/env bash
# bench/build.sh OUT [GO]: builds the benchmark programs into OUT against
# target/release/libgoro.so (which must exist: `cargo build --release`).
#
#   OUT/goro_bench     C, goro.h           (always)
#   OUT/pthread_bench  C, pthreads          (always)
#   OUT/kfloor         C, the kernel's share of W2 spawn+park (always)
#   OUT/fiber_bench    C++, Boost.Fiber     (when its header is installed)
#   OUT/gobench        Go, stdlib only      (when GO names a go binary)
#
# Prints one "built: ..." or "skipped: ..." line per program on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${1:-$here/out}
go=${2:-}
libdir=$root/target/release
mkdir -p "$out"
out=$(cd "$out" && pwd)

CC=${CC:-cc}
CXX=${CXX:-c++}
WARN="-Wall -Wextra -Werror"

if [[ ! -e $libdir/libgoro.so ]]; then
    echo "build.sh: $libdir/libgoro.so missing: run cargo build --release first" >&2
    exit 1
fi

# The sync package (go_waitgroup_*, go_mutex_*, ...) may not be in the
# library yet: then goro_bench is built without the workloads that need it.
sync_flag=""
if ! nm -D --defined-only "$libdir/libgoro.so" | grep -qw go_waitgroup_wait; then
    sync_flag="-DGORO_NO_SYNC"
    echo "build.sh: libgoro.so has no sync package yet: goro_bench runs W1 (joined by polling) and W3 only" >&2
fi

# shellcheck disable=SC2086
$CC -O2 -g $WARN $sync_flag -I"$root/include" -I"$here" "$here/goro_bench.c" \
    -L"$libdir" -Wl,-rpath,"$libdir" -lgoro -o "$out/goro_bench"
echo "built: $out/goro_bench" >&2

# shellcheck disable=SC2086
$CC -O2 -g $WARN -pthread -I"$here" "$here/pthread_bench.c" -o "$out/pthread_bench"
echo "built: $out/pthread_bench" >&2

$CC -O2 -g $WARN -pthread -I"$here" "$here/kfloor.c" -o "$out/kfloor"
echo "built: $out/kfloor" >&2

if [[ -f /usr/include/boost/fiber/all.hpp ]] && command -v "$CXX" >/dev/null; then
    # shellcheck disable=SC2086
    $CXX -std=c++17 -O2 -g $WARN -I"$here" "$here/fiber_bench.cpp" \
        -lboost_fiber -lboost_context -pthread -o "$out/fiber_bench"
    echo "built: $out/fiber_bench" >&2
else
    rm -f "$out/fiber_bench"
    echo "skipped: Boost.Fiber (no /usr/include/boost/fiber/all.hpp; Debian: apt-get install libboost-fiber-dev)" >&2
fi

if [[ -n $go ]]; then
    (cd "$here/go" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" build -o "$out/gobench" .)
    echo "built: $out/gobench ($("$go" version))" >&2
else
    rm -f "$out/gobench"
    echo "skipped: Go (no go binary given)" >&2
fi
