#!/usr/bin/env bash
# bench/smoke.sh: keeps the benchmark programs from rotting. Builds them
# against target/release/libgoro.so (build it first: cargo build --release)
# and runs every workload at tiny sizes: each run must exit 0 within 60 s and
# print only well-formed RESULT (or SKIP) lines. No timing is checked.
#
# Go and Boost.Fiber run only when present (Go: $GO, go on PATH, or the venv
# compare.sh installs under ~/.cache/goro-bench; Boost: libboost-fiber-dev);
# the script says clearly what it skipped. It installs nothing.
# Takes a few seconds. Output programs go to bench/out/smoke/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${BENCH_SMOKE_OUT:-$here/out/smoke}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/goro-bench

go_bin=""
for g in "${GO:-}" "$(command -v go || true)" "$cache/go-venv/bin/go"; do
    if [[ -n $g && -x $g ]] && "$g" version >/dev/null 2>&1; then
        go_bin=$g
        break
    fi
done

"$here/build.sh" "$out" "$go_bin"

programs=(goro_bench pthread_bench)
[[ -x $out/fiber_bench ]] && programs+=(fiber_bench) || echo "smoke: SKIPPED Boost.Fiber (libboost-fiber-dev not installed)"
[[ -x $out/gobench ]] && programs+=(gobench) || echo "smoke: SKIPPED Go (no go toolchain found; bench/compare.sh installs one)"

workloads=(
    "W1 1000 2"
    "W2 1000"
    "W3 1000"
    "W4 2 10000"
    "W4 64 10000"
    "W4 1024 10000"
    "W5 10000"
    "W6 64 10000"
    "W7 10"
    "W8 10000"
)
result_re='^RESULT system=[a-z]+ workload=W[1-8] param=[A-Za-z0-9_]+ n=[0-9]+ metric=[a-z_]+ value=-?[0-9.]+(e[-+]?[0-9]+)?$'
skip_re='^SKIP system=[a-z]+ workload=W[1-8] reason=[A-Za-z0-9_]+$'

passed=0
failed=0
skipped=0
run() {
    local prog=$1
    shift
    local output rc=0
    output=$(timeout 60 "$out/$prog" "$@" 2>&1) || rc=$?
    local bad=0 results=0 skips=0 line
    while IFS= read -r line; do
        if [[ $line =~ $result_re ]]; then
            results=$((results + 1))
        elif [[ $line =~ $skip_re ]]; then
            skips=$((skips + 1))
        elif [[ -n $line ]]; then
            bad=1
        fi
    done <<<"$output"
    if [[ $rc != 0 || $bad == 1 || $((results + skips)) == 0 ]]; then
        echo "smoke: FAIL $prog $* (exit $rc):"
        sed 's/^/    /' <<<"$output"
        failed=$((failed + 1))
    elif [[ $results == 0 ]]; then
        echo "smoke: skip $prog $*: ${output##*reason=}"
        skipped=$((skipped + 1))
    else
        passed=$((passed + 1))
    fi
}

for prog in "${programs[@]}"; do
    for w in "${workloads[@]}"; do
        # shellcheck disable=SC2086
        run "$prog" $w
    done
done
run goro_bench W1main 1000 2

echo "bench smoke: $passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
