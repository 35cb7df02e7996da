#!/usr/bin/env python3
"""Runs the side-by-side benchmarks and prints a markdown report.

Called by bench/compare.sh (which installs and builds first); stdlib only.

* Every (workload, size, system) is one process run, so memory numbers are
  per process and nothing leaks from one workload into the next.
* Systems are interleaved (A B C D, then D C B A, ...) within each
  repetition, so slow drift of the machine hits every system alike.
* Each run is checked for disturbance by other load: CPU time the whole
  machine spent (/proc/stat) minus the CPU time of the benchmark process
  itself (wait4 rusage) is "foreign" CPU. A run with more than
  FOREIGN_LIMIT of the machine's capacity foreign is flagged and, when at
  least two clean runs remain, left out of the median.
* Medians over the repetitions; a cell whose runs spread more than
  SPREAD_LIMIT around the median is flagged too.

Outputs: the markdown report on stdout, progress on stderr, and in the out
directory results.jsonl (every run) and summary.json (medians, for plot.py).
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

FOREIGN_LIMIT = 0.10  # fraction of all CPUs' time used by other processes
SPREAD_LIMIT = 0.25  # (max - min) / median over the runs used
RESULT_RE = re.compile(
    r"^RESULT system=(\S+) workload=(\S+) param=(\S+) n=(\d+) metric=(\S+) value=(\S+)$"
)
SYSTEMS = ["goro", "go", "pthread", "boost"]
TITLES = {"goro": "goro", "go": "Go", "pthread": "pthreads", "boost": "Boost.Fiber"}
NCPU = os.cpu_count() or 1


def sizes(mode):
    """Workload sizes per mode. pthreads: one OS thread per goroutine, so
    W1/W2 are capped at 10k threads (1M threads cannot exist on a stock
    kernel) and slow workloads get fewer iterations (per-op metrics)."""
    if mode == "full":
        return dict(sweep=[1000, 10000, 100000, 1000000], thread_sweep=[1000, 10000],
                    w3=2000000, w3_thread=200000, ops=10000000, w5=50000000,
                    w7=20000, w7_thread=300, w8=200000000)
    if mode == "quick":
        return dict(sweep=[1000, 10000, 100000], thread_sweep=[1000, 10000],
                    w3=500000, w3_thread=50000, ops=2000000, w5=10000000,
                    w7=5000, w7_thread=100, w8=50000000)
    raise ValueError(mode)


def make_cases(mode):
    """Returns [(case_id, {system: argv tail})]."""
    s = sizes(mode)
    cases = []
    for n in s["sweep"]:
        cases.append((f"W1/{n}", {"goro": ["W1", n], "go": ["W1", n], "boost": ["W1", n],
                                   "pthread": ["W1", n] if n in s["thread_sweep"] else None}))
    top = s["sweep"][-1]
    cases.append((f"W1main/{top}", {"goro": ["W1main", top]}))
    for n in s["sweep"]:
        cases.append((f"W2/{n}", {"goro": ["W2", n], "go": ["W2", n], "boost": ["W2", n],
                                   "pthread": ["W2", n] if n in s["thread_sweep"] else None}))
    cases.append(("W3", {"goro": ["W3", s["w3"]], "go": ["W3", s["w3"]], "boost": ["W3", s["w3"]],
                         "pthread": ["W3", s["w3_thread"]]}))
    for g in (2, 64, 1024):
        cases.append((f"W4/g{g}", {k: ["W4", g, s["ops"]] for k in SYSTEMS}))
    cases.append(("W5", {k: ["W5", s["w5"]] for k in SYSTEMS}))
    cases.append(("W6", {"goro": ["W6", 64, s["ops"]], "go": ["W6", 64, s["ops"]],
                         "pthread": ["W6", 64, s["ops"]], "boost": None}))
    cases.append(("W7", {"goro": ["W7", s["w7"]], "go": ["W7", s["w7"]], "boost": ["W7", s["w7"]],
                         "pthread": ["W7", s["w7_thread"]]}))
    cases.append(("W8", {k: ["W8", s["w8"]] for k in SYSTEMS}))
    return cases


def proc_stat_busy():
    """Seconds of CPU time the whole machine has spent not idle."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / hz


def run_one(argv, env, timeout):
    """Runs argv; returns (rc, stdout, stderr, wall seconds, machine busy CPU seconds)."""
    busy0 = proc_stat_busy()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += f"\n(timed out after {timeout} s)"
    wall = time.monotonic() - t0
    busy1 = proc_stat_busy()
    return p.returncode, out, err, wall, busy1 - busy0


class Runner:
    def __init__(self, bins, out_dir, timeout):
        self.bins = bins
        self.out_dir = out_dir
        self.timeout = timeout
        self.log = open(os.path.join(out_dir, "results.jsonl"), "w")

    def run(self, system, case_id, rep, args):
        argv = self.bins[system] + [str(a) for a in args]
        env = dict(os.environ)
        env["GOMAXPROCS"] = "2"
        # The child's CPU time (all its threads): RUSAGE_CHILDREN grows by it
        # once Popen has reaped it.
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rc, out, err, wall, busy = run_one(argv, env, self.timeout)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        foreign = max(0.0, busy - own)
        # Jiffy granularity (10 ms per CPU) plus our own bookkeeping: allow
        # 0.03 s of slack before calling a short run disturbed.
        disturbed = foreign > FOREIGN_LIMIT * wall * NCPU + 0.03
        results = []
        skipped = [line for line in out.splitlines() if line.startswith("SKIP ")]
        for line in out.splitlines():
            m = RESULT_RE.match(line)
            if m:
                results.append(dict(system=m[1], workload=m[2], param=m[3], n=int(m[4]),
                                    metric=m[5], value=float(m[6])))
        rec = dict(system=system, case=case_id, rep=rep, argv=argv, rc=rc, wall=wall, own_cpu=own,
                   foreign_cpu=foreign, disturbed=disturbed, results=results, skipped=skipped,
                   stderr=err.strip()[-2000:])
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()
        return rec


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def ratio_text(r):
    if r >= 10:
        return f"{r:.0f}×"
    if r >= 0.1:
        return f"{r:.2f}×"
    return f"{r:.2g}×"


def short_n(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def summarize(records):
    """{(system, case, metric): cell} with median over clean runs."""
    groups = {}
    for r in records:
        for res in r["results"]:
            key = (r["system"], r["case"], res["metric"])
            groups.setdefault(key, []).append((res["value"], r["disturbed"], res["n"]))
    cells = {}
    for key, vals in groups.items():
        clean = [v for v, d, _ in vals if not d]
        used = clean if len(clean) >= 2 else [v for v, _, _ in vals]
        med = statistics.median(used)
        spread = (max(used) - min(used)) / abs(med) if med else 0.0
        cells[key] = dict(median=med, runs=len(vals), used=len(used),
                          disturbed=sum(1 for _, d, _ in vals if d),
                          spread=spread, n=vals[0][2], values=[v for v, _, _ in vals])
    return cells


def cell_text(c, show_n=None):
    if c is None:
        return "—"
    t = fmt(c["median"])
    marks = ""
    if c["disturbed"]:
        marks += "†"
    if c["spread"] > SPREAD_LIMIT and c["used"] >= 2:
        marks += "~"
    if show_n is not None and c["n"] != show_n:
        t += f" (n={short_n(c['n'])})"
    return t + marks


# Headline rows: (label, unit, {system: (case, metric)}, kind)
# kind: "unit"  a per-goroutine / per-op metric: ratios across sizes are fine;
#       "total" a total over n goroutines: across sizes, ratios per goroutine;
#       "abs"   an absolute amount (peak RSS): no ratio across sizes;
#       "info"  shown for the record, no ratio (near zero but for threads).
def headline_rows(mode):
    s = sizes(mode)
    top = s["sweep"][-1]
    tn = short_n(top)
    thr = s["thread_sweep"][-1]
    all4 = lambda case, metric, pcase=None: {  # noqa: E731
        "goro": (case, metric), "go": (case, metric), "boost": (case, metric),
        "pthread": (pcase or case, metric)}
    ops = short_n(s["ops"])
    return [
        (f"W1 spawn+join {tn}, spawned from a goroutine", "ns/goroutine",
         all4(f"W1/{top}", "ns_per_goroutine", f"W1/{thr}"), "unit"),
        (f"W1 spawn+join {tn}, spawned from the main thread", "ns/goroutine",
         {"goro": (f"W1main/{top}", "ns_per_goroutine"), "pthread": (f"W1/{thr}", "ns_per_goroutine")}, "unit"),
        (f"W1 peak RSS ({tn}, from a goroutine)", "MiB", all4(f"W1/{top}", "peak_rss_mib", f"W1/{thr}"), "abs"),
        (f"W2 memory per parked goroutine ({tn}), VmRSS", "bytes",
         all4(f"W2/{top}", "rss_bytes_per_goroutine", f"W2/{thr}"), "unit"),
        ("W2 page tables per parked goroutine, VmPTE", "bytes",
         all4(f"W2/{top}", "pte_bytes_per_goroutine", f"W2/{thr}"), "unit"),
        ("W2 kernel stack per parked goroutine (KernelStack, system-wide)", "bytes",
         all4(f"W2/{top}", "kstack_bytes_per_goroutine", f"W2/{thr}"), "info"),
        (f"W2 spawn {tn} + all parked", "s", all4(f"W2/{top}", "spawn_park_s", f"W2/{thr}"), "total"),
        (f"W2 release {tn} + all joined", "s", all4(f"W2/{top}", "release_join_s", f"W2/{thr}"), "total"),
        ("W3 yield, two goroutines on one worker", "ns/yield", all4("W3", "ns_per_yield"), "unit"),
        (f"W4 mutex, 2 goroutines share {ops} increments", "ns/op", all4("W4/g2", "ns_per_op"), "unit"),
        ("W4 mutex, 64 goroutines", "ns/op", all4("W4/g64", "ns_per_op"), "unit"),
        ("W4 mutex, 1024 goroutines", "ns/op", all4("W4/g1024", "ns_per_op"), "unit"),
        ("W5 uncontended lock+unlock", "ns", all4("W5", "ns_per_lock_unlock"), "unit"),
        ("W6 RWMutex, 64 goroutines, 1% writes", "ns/op", all4("W6", "ns_per_op"), "unit"),
        ("W7 spawn 64 + WaitGroup wait", "µs/round", all4("W7", "us_per_round"), "unit"),
        ("W8 once, fast path", "ns/call", all4("W8", "ns_per_call"), "unit"),
    ]


def markdown(cells, mode, meta, systems):
    out = []
    peers = [s for s in systems if s != "goro"]
    head = ["Workload", "unit"] + [TITLES[s] for s in systems] + [f"goro ÷ {TITLES[p]}" for p in peers]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    for label, unit, spec, kind in headline_rows(mode):
        got = {s: cells.get((s, *spec[s])) if s in spec else None for s in systems}
        g = got.get("goro")
        gn = g["n"] if g else None
        row = [label, unit] + [cell_text(got[s], gn) for s in systems]
        for p in peers:
            c = got[p]
            if kind == "info" or g is None or c is None or g["median"] <= 0 or c["median"] <= 0:
                row.append("—")
                continue
            gv, pv = g["median"], c["median"]
            if c["n"] != g["n"]:
                if kind == "abs":
                    row.append("—")
                    continue
                if kind == "total":
                    gv, pv = gv / g["n"], pv / c["n"]
            row.append(ratio_text(gv / pv))
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("Lower is better everywhere; `goro ÷ X` below 1 means goro is ahead. "
               f"Each cell is the median of {meta['reps']} runs (interleaved, one process each). "
               "† some runs were disturbed by other load on the machine (foreign CPU > "
               f"{int(FOREIGN_LIMIT * 100)}% of capacity; left out of the median when two clean runs "
               f"remained); ~ the runs used spread by more than {int(SPREAD_LIMIT * 100)}%. "
               "(n=…) marks a peer measured at another size (pthreads: one OS thread per goroutine, "
               "capped); ratios of totals are then taken per goroutine.")
    out.append("")
    # Scaling sweep.
    s = sizes(mode)
    out.append("Scaling sweep (per goroutine; W2 at each n is one process with n parked at once):")
    out.append("")
    head = ["n"]
    for s_ in systems:
        head.append(f"W1 ns {TITLES[s_]}")
    for s_ in systems:
        head.append(f"W2 bytes {TITLES[s_]}")
    for s_ in systems:
        head.append(f"W2 spawn+park ns {TITLES[s_]}")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---:"] * len(head)) + "|")
    for n in s["sweep"]:
        row = [short_n(n)]
        for s_ in systems:
            row.append(cell_text(cells.get((s_, f"W1/{n}", "ns_per_goroutine"))))
        for s_ in systems:
            row.append(cell_text(cells.get((s_, f"W2/{n}", "rss_bytes_per_goroutine"))))
        for s_ in systems:
            c = cells.get((s_, f"W2/{n}", "spawn_park_s"))
            if c:
                c = dict(c, median=c["median"] * 1e9 / n)
            row.append(cell_text(c))
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    return "\n".join(out)


def machine_meta(args):
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:
            return ""

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    boost = ""
    try:
        with open("/usr/include/boost/version.hpp") as f:
            m = re.search(r'BOOST_LIB_VERSION "([^"]+)"', f.read())
            boost = m[1].replace("_", ".") if m else ""
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return dict(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=cpu, cores=NCPU, kernel=platform.release(),
        mem_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        go=cmd([args.go, "version"]) if args.go else "",
        boost=boost,
        gcc=cmd(["gcc", "--version"]).splitlines()[0] if shutil.which("gcc") else "",
        rustc=cmd(["rustc", "--version"]),
        goro=cmd(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always", "--dirty"]),
        load_before=load, mode=args.mode, reps=args.reps,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory with the built programs; results go here")
    ap.add_argument("--mode", choices=["full", "quick"], default="full")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--go", default="", help="the go binary (for its version)")
    ap.add_argument("--timeout", type=int, default=180, help="seconds per run")
    ap.add_argument("--from-results", metavar="JSONL",
                    help="run nothing: rebuild the report from a results.jsonl of an earlier run "
                         "(with the same --mode and --reps)")
    args = ap.parse_args()

    systems = [s for s in args.systems.split(",") if s]
    bins = {"goro": [os.path.join(args.out, "goro_bench")], "go": [os.path.join(args.out, "gobench")],
            "pthread": [os.path.join(args.out, "pthread_bench")], "boost": [os.path.join(args.out, "fiber_bench")]}
    for s in list(systems):
        if not os.access(bins[s][0], os.X_OK):
            print(f"harness: {bins[s][0]} missing: {TITLES[s]} left out", file=sys.stderr)
            systems.remove(s)
    meta = machine_meta(args)
    meta["systems"] = systems
    cases = make_cases(args.mode)
    records, failures, skips = [], [], []
    t_start = time.monotonic()
    if args.from_results:
        with open(args.from_results) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        for line in lines:
            if "meta" in line:
                meta.update(line["meta"])
        records = [line for line in lines if "meta" not in line]
        args.mode, args.reps = meta["mode"], meta["reps"]
        failures = [r for r in records if r["rc"] != 0 or not (r["results"] or r.get("skipped"))]
        skips = [r for r in records if r["rc"] == 0 and not r["results"] and r.get("skipped")]
        meta["systems"] = systems = [s for s in SYSTEMS if any(r["system"] == s for r in records)]
        meta["note"] = f"report rebuilt from {args.from_results}"
    runner = None if args.from_results else Runner(bins, args.out, args.timeout)
    if runner:
        runner.log.write(json.dumps(dict(meta=meta)) + "\n")
    for rep in range(0 if args.from_results else args.reps):
        order = systems if rep % 2 == 0 else list(reversed(systems))
        for case_id, per_sys in cases:
            for s in order:
                a = per_sys.get(s)
                if a is None:
                    continue
                rec = runner.run(s, case_id, rep, a)
                records.append(rec)
                tag = " DISTURBED" if rec["disturbed"] else ""
                if rec["rc"] == 0 and rec["results"]:
                    status = "ok"
                elif rec["rc"] == 0 and rec["skipped"]:
                    status = "skipped: " + rec["skipped"][0].split("reason=")[-1]
                    skips.append(rec)
                else:
                    status = f"FAILED rc={rec['rc']}"
                    failures.append(rec)
                print(f"[rep {rep + 1}/{args.reps} {time.monotonic() - t_start:6.0f}s] {s:8s} {case_id:14s} "
                      f"{rec['wall']:6.2f}s wall {rec['own_cpu']:6.2f}s cpu "
                      f"foreign {rec['foreign_cpu']:5.2f}s {status}{tag}", file=sys.stderr)
    if runner:
        with open("/proc/loadavg") as f:
            meta["load_after"] = f.read().split()[:3]
        meta["elapsed_s"] = round(time.monotonic() - t_start)
        runner.log.write(json.dumps(dict(meta=dict(load_after=meta["load_after"],
                                                   elapsed_s=meta["elapsed_s"]))) + "\n")
        runner.log.close()
    meta["runs"] = len(records)
    meta["disturbed_runs"] = sum(1 for r in records if r["disturbed"])
    cells = summarize(records)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(dict(meta=meta, sweep=sizes(args.mode)["sweep"],
                       cells=[dict(system=k[0], case=k[1], metric=k[2], **v) for k, v in cells.items()]),
                  f, indent=1)
    print(f"Machine: {meta['cpu']}, {meta['cores']} cores, {meta['mem_gib']} GiB, Linux {meta['kernel']}. "
          f"{meta['date']}.  ")
    versions = [f"goro {meta['goro']}", meta["go"], f"Boost {meta['boost']}" if meta["boost"] else "",
                meta["gcc"], meta["rustc"]]
    print("Versions: " + "; ".join(v for v in versions if v) + ".  ")
    print(f"Run: `{meta['mode']}` sizes, {meta['reps']} repetitions, {meta['runs']} runs in {meta['elapsed_s']} s, "
          f"{meta['disturbed_runs']} flagged as disturbed; load average before {' '.join(meta['load_before'])}, "
          f"after {' '.join(meta['load_after'])}.")
    print()
    print(markdown(cells, args.mode, meta, systems))
    if skips:
        print("Skipped: " + "; ".join(sorted({f"{r['system']} {r['case']} ({r['skipped'][0].split('reason=')[-1]})"
                                              for r in skips})) + ".")
        print()
    if failures:
        print("Failed runs:")
        print()
        for r in failures:
            print(f"- {r['system']} {r['case']} `{' '.join(r['argv'][1:])}`: rc={r['rc']}: "
                  f"{r['stderr'][-300:]!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
