"""The profile behind `make profile`: where a worker's instructions go at steady state.

On a local Apache Kafka broker, an input topic of 4 partitions is pre-loaded with N
order events. Each variant (by default R, the bare client loop, and S, `order-status`)
then drains it under valgrind's callgrind, once per guarantee, with instrumentation
off while it starts and joins its group. Collection is switched on once a tenth of
the input is committed and off at nine tenths, so the profile is the steady state
only; instructions per event divide the collected total by the events committed in
that window. callgrind counts instructions, so a busy machine does not change the
figures (timing does, and is not reported).

Writes bench/results/profile-<variant>-<guarantee>-<label>.txt: the totals, then the
top functions by exclusive and by inclusive instructions (callgrind_annotate); the
whole profile stays in .cache/callgrind-<variant>-<guarantee>-<label>.out.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import GUARANTEES, REPO, Kafka, command, log, preload  # noqa: E402


def committed_total(kafka, reader, topic, partitions):
    return sum(max(o, 0) for o in kafka.committed(reader, topic, partitions).values())


def wait_for(kafka, reader, topic, partitions, target, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the profiled process exited early")
        total = committed_total(kafka, reader, topic, partitions)
        if total >= target:
            return total
        time.sleep(0.2)
    raise RuntimeError(f"{target} events were not committed in time")


def profile(kafka, variant, guarantee, topic, partitions, events, out, label):
    run = uuid.uuid4().hex[:8]
    output, dlq, group = f"profile-out-{run}", f"profile-dlq-{run}", f"profile-{variant.lower()}-{run}"
    kafka.create(output, partitions)
    kafka.create(dlq, 1)
    data = os.path.join(REPO, ".cache", f"callgrind-{variant}-{guarantee}-{run}.out")
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={data}"]
    log_path = os.path.join(REPO, ".cache", f"profile-{group}.log")
    process = subprocess.Popen(valgrind + command(variant, guarantee, kafka, topic, output, dlq, group),
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT, cwd=REPO)
    reader = kafka.offsets_reader(group)
    try:
        deadline = time.monotonic() + 1800
        start = wait_for(kafka, reader, topic, partitions, events // 10, process, deadline)
        subprocess.run(["callgrind_control", "--instr=on", str(process.pid)], check=True, capture_output=True)
        # The window starts where collection did: take the committed count again.
        start = committed_total(kafka, reader, topic, partitions)
        end = wait_for(kafka, reader, topic, partitions, events * 9 // 10, process, deadline)
        subprocess.run(["callgrind_control", "--instr=off", str(process.pid)], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
    finally:
        reader.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        kafka.delete([output, dlq])
    dumps = [p for p in os.listdir(os.path.dirname(data)) if p.startswith(os.path.basename(data))]
    # `--dump` wrote part 1; the dump at exit (instrumentation off) holds nothing.
    dump = data + ".1"
    annotate = lambda *extra: subprocess.run(  # noqa: E731
        ["callgrind_annotate", "--threshold=98", *extra, dump], capture_output=True, text=True, check=True).stdout
    exclusive, inclusive = annotate(), annotate("--inclusive=yes")
    totals = re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", exclusive, re.M)
    window = end - start
    if totals is None or window < events // 2:
        raise RuntimeError(f"{variant} {guarantee}: collected over {window} events only (of {events}); "
                           "the window needs more input (PROFILE_EVENTS)")
    total = int(totals.group(1).replace(",", ""))
    path = os.path.join(out, f"profile-{variant}-{guarantee}-{label}.txt")
    with open(path, "w") as f:
        f.write(f"{variant} {guarantee} ({label}): {total:,} instructions over {window:,} committed events "
                f"= {total / window:,.0f} per event\n\n")
        f.write("== exclusive ==\n" + top(exclusive, 40) + "\n== inclusive ==\n" + top(inclusive, 40))
    # The whole profile stays for callgrind_annotate or kcachegrind (not committed).
    kept = os.path.join(REPO, ".cache", f"callgrind-{variant}-{guarantee}-{label}.out")
    os.replace(dump, kept)
    for leftover in dumps:
        if os.path.exists(os.path.join(os.path.dirname(data), leftover)):
            os.remove(os.path.join(os.path.dirname(data), leftover))
    log(f"{variant} {guarantee}: {total / window:,.0f} instructions per event -> {os.path.relpath(path, REPO)}")
    return total / window


def shorten(line):
    """A function line without this machine's paths: crates by name and version, the
    standard library as `rustc/`, the project's files from its root, libraries by name."""
    line = re.sub(r"\S*/registry/src/[^/]+/", "", line)
    line = re.sub(r"/rustc/[0-9a-f]+/", "rustc/", line)
    line = line.replace(REPO + "/", "")
    return re.sub(r"\[/\S*/([^/\]]+)\]", r"[\1]", line)


def top(annotated, count):
    """The first `count` function lines of callgrind_annotate, paths shortened."""
    lines = [shorten(line) for line in annotated.splitlines()]
    body = [i for i, line in enumerate(lines) if re.match(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", line)
            and "PROGRAM TOTALS" not in line]
    return "\n".join(lines[i] for i in body[:count]) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--variants", default="R,S")
    parser.add_argument("--label", default="latest", help="suffix of the result files, e.g. before or after")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    args = parser.parse_args()
    kafka = Kafka(args.bootstrap)
    topic = preload(kafka, args.partitions, args.events, 1)
    os.makedirs(args.out, exist_ok=True)
    try:
        for variant in args.variants.split(","):
            for guarantee in GUARANTEES:
                profile(kafka, variant, guarantee, topic, args.partitions, args.events, args.out, args.label)
    finally:
        kafka.delete([topic])


if __name__ == "__main__":
    main()
