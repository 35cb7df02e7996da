#!/usr/bin/env python3
"""plot.py SUMMARY_JSON OUT_PNG: the scaling sweep of bench/harness.py as
four panels (W1 ns per goroutine; W2 bytes per parked goroutine, spawn+park
and release+join ns per goroutine) against the number of goroutines, log-log."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"goro": ("goro", "tab:red", "o"), "go": ("Go", "tab:blue", "s"),
         "pthread": ("pthreads (thread per goroutine)", "tab:gray", "^"),
         "boost": ("Boost.Fiber", "tab:green", "D")}


def main():
    summary = json.load(open(sys.argv[1]))
    cells = {(c["system"], c["case"], c["metric"]): c for c in summary["cells"]}
    sweep = summary["sweep"]
    meta = summary["meta"]
    panels = [
        ("W1: spawn+join, ns per goroutine", "W1", "ns_per_goroutine", 1.0, False),
        ("W2: memory per parked goroutine (VmRSS), bytes", "W2", "rss_bytes_per_goroutine", 1.0, False),
        ("W2: spawn+park, ns per goroutine", "W2", "spawn_park_s", 1e9, True),
        ("W2: release+join, ns per goroutine", "W2", "release_join_s", 1e9, True),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    axes = axes.flatten()
    for ax, (title, w, metric, scale, per_n) in zip(axes, panels):
        for system in meta["systems"]:
            xs, ys = [], []
            for n in sweep:
                c = cells.get((system, f"{w}/{n}", metric))
                if c is None:
                    continue
                v = c["median"] * scale
                if per_n:
                    v /= n
                if v > 0:
                    xs.append(n)
                    ys.append(v)
            if xs:
                label, color, marker = STYLE[system]
                ax.plot(xs, ys, marker=marker, color=color, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("goroutines (n)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9)
    fig.suptitle(f"goro scaling sweep: {meta['cpu']}, {meta['cores']} cores, Linux {meta['kernel']}, "
                 f"{meta['date']}\n(median of {meta['reps']} runs; lower is better; pthreads capped at "
                 f"10k threads; {meta.get('disturbed_runs', 0)} of {meta.get('runs', 0)} runs disturbed by "
                 f"other load)", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
