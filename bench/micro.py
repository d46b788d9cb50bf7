"""Summarises the Criterion run of `make bench-micro` into bench/results/micro.md.

Reads target/criterion/<group>/<function>/new/estimates.json (nanoseconds) for every
benchmark of the run and writes one table per group: the median with its 95% confidence
interval, and each function's median over the group's first (ours), so the crates
compared in one run sit side by side. Lone benchmarks (each worker's function) share one
table without ratios.

Usage: python3 bench/micro.py [CRITERION_DIR] [OUTPUT]
"""

import datetime
import json
import os
import platform
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def estimates(root):
    """{group: [(function, median_ns, low_ns, high_ns)]} of every benchmark under root."""
    groups = {}
    for dirpath, _, files in os.walk(root):
        if "estimates.json" not in files or os.path.basename(dirpath) != "new":
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            ident = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]
        interval = median["confidence_interval"]
        group, function = ident["group_id"], ident.get("function_id")
        if function is None:
            # A lone c.bench_function("name/case"): gathered in one table.
            group, function = "functions", ident["group_id"]
        groups.setdefault(group, []).append(
            (function, median["point_estimate"], interval["lower_bound"], interval["upper_bound"]))
    return groups


def duration(ns):
    return f"{ns / 1000:,.2f} µs" if ns >= 1000 else f"{ns:,.0f} ns"


# Ours first in each group, then the others in the order they ran.
FIRST = ("orderflow", "single-object")


def render(groups):
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=REPO).stdout.strip()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    lines = ["# Micro-benchmarks (Criterion)", "",
             f"`make bench-micro`, git {git}, {machine}, {datetime.date.today().isoformat()}. "
             "Median time per call with its 95% confidence interval; the ratio is to the "
             "group's first row. One run: ratios within a group are side by side, absolute "
             "times move with the machine's load.", ""]
    for group in sorted(groups):
        rows = sorted(groups[group], key=lambda r: (r[0] not in FIRST, r[0]))
        base = rows[0][1]
        lines += [f"## {group}", "", "| function | median | 95% interval | ratio |",
                  "| --- | ---: | ---: | ---: |"]
        for function, median, low, high in rows:
            # Lone benchmarks measure different things: no ratio between them.
            ratio = "" if group == "functions" else f"{median / base:.2f}"
            lines.append(f"| {function} | {duration(median)} | {duration(low)} to {duration(high)} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target", "criterion")
    output = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "bench", "results", "micro.md")
    groups = estimates(root)
    if not groups:
        sys.exit(f"no Criterion results under {root}: run the benchmarks first")
    with open(output, "w") as f:
        f.write(render(groups))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
