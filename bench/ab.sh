#!/usr/bin/env bash
# A/B comparison of two builds of libgoro on one workload, interleaved.
#
#   bench/ab.sh [-n RUNS] [-m METRIC] LIB_A LIB_B -- WORKLOAD [ARGS...]
#
# LIB_A and LIB_B are built libgoro.so files (e.g. target/release/libgoro.so
# copied aside before and after a change). Each is copied into a directory
# of its own under the name the programs load, libgoro.so.0 (a copy named
# libgoro.so is silently ignored: the loader falls through to the RUNPATH
# build), and the script checks with LD_DEBUG that each run loads the copy
# it should. bench/out/goro_bench runs RUNS times per library, A and B
# alternating; printed: the values of METRIC sorted, and their median.
#
#   bench/ab.sh -n 10 -m ns_per_yield /tmp/before.so target/release/libgoro.so -- W3
#   bench/ab.sh -n 5 -m release_join_s /tmp/before.so target/release/libgoro.so -- W2 1000000
set -euo pipefail
runs=8
metric=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n) runs=$2; shift 2 ;;
        -m) metric=$2; shift 2 ;;
        *) break ;;
    esac
done
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
lib_a=$1
lib_b=$2
shift 3
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/out/goro_bench"
[ -x "$bin" ] || { echo "ab.sh: $bin missing: run bench/build.sh first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/A" "$tmp/B"
cp "$lib_a" "$tmp/A/libgoro.so.0"
cp "$lib_b" "$tmp/B/libgoro.so.0"
for side in A B; do
    trace=$(LD_LIBRARY_PATH="$tmp/$side" LD_DEBUG=libs "$bin" W8 1000 2>&1)
    if ! grep -qF "calling init: $tmp/$side/libgoro.so.0" <<<"$trace"; then
        echo "ab.sh: $side does not load $tmp/$side/libgoro.so.0" >&2
        exit 1
    fi
done
for i in $(seq "$runs"); do
    for side in A B; do
        out=$(LD_LIBRARY_PATH="$tmp/$side" "$bin" "$@" 2>&1)
        if [ -n "$metric" ]; then
            out=$(printf '%s\n' "$out" | grep "metric=$metric " || true)
        fi
        v=$(printf '%s\n' "$out" | grep -oE 'value=[0-9.eE+-]+' | tail -1 | cut -d= -f2)
        echo "$side ${v:-nan}"
    done
done | sort -k1,1 -k2g | awk '
    { vals[$1] = vals[$1] " " $2; n[$1]++; v[$1, n[$1]] = $2 }
    END { for (s in vals) printf "%s median %s :%s\n", s, v[s, int((n[s] + 1) / 2)], vals[s] }'
