"""The benchmark behind `make bench`.

On a local Apache Kafka broker, an input topic with 4 partitions is pre-loaded with N
order events by `orderflow loadgen` before anything is measured. Then, interleaved in
rounds, each variant drains it from the beginning:

  R   `kafka-floor` (bench/floor): the bare client loop, consume then produce the same
      record with the same guarantee; the floor every other variant is measured against
  P   `orderflow passthrough`: the worker runtime copying bytes
  S   `order-status`: decode, one status event per input, encode
  W   `order-validator`: decode, validate, encode
  KS  the same validation in Kafka Streams (bench/ks)

each at-least-once and exactly-once (100 ms commits). Measured per run: drain
throughput, CPU seconds per event of the worker process (utime + stime), steady and
peak RSS, time from start to the first output, and the broker's CPU. Then, at fixed
input rates, end-to-end latency from the producer's timestamp header to a
read_committed reader, in an HDR histogram. With --scale, S drains the same events from
inputs of more partitions (CPU per event and steady RSS against the partition count).

Results: bench/results/latest.json (with provenance), latest.md (tables and ratios)
and latest.png.
"""

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from hdrh.histogram import HdrHistogram

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(REPO, "target", "release")
KS_CLASSPATH = os.path.join(REPO, "bench/ks/target/classes") + ":" + os.path.join(REPO, "bench/ks/target/lib/*")
TICKS = os.sysconf("SC_CLK_TCK")
PRODUCED_AT = "orderflow.produced-at-us"
VARIANTS = ["R", "P", "S", "W", "KS"]
BINARIES = {"R": "kafka-floor", "P": "orderflow", "S": "order-status", "W": "order-validator"}
GUARANTEES = ["at-least-once", "exactly-once"]


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def cpu_split(pid):
    """User and system CPU seconds of a process (utime, stime), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICKS, int(fields[12]) / TICKS
    except OSError:
        return None


def context_switches(pid):
    """Voluntary context switches of every thread of a process: each is a thread that
    blocked (a futex wait for a hand-off, a poll with nothing to read), so their number
    per event counts hand-offs between threads."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            total += int(line.split()[1])
            except OSError:
                pass
    except OSError:
        return None
    return total


def cpu_seconds(pid):
    split = cpu_split(pid)
    return None if split is None else sum(split)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Kafka:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def create(self, topic, partitions):
        futures = self.admin.create_topics([NewTopic(topic, partitions, 1)])
        for future in futures.values():
            future.result()
        time.sleep(0.5)

    def delete(self, topics):
        if topics:
            for future in self.admin.delete_topics(list(topics)).values():
                try:
                    future.result()
                except Exception:  # noqa: BLE001 - best effort clean-up
                    pass

    def end_offsets(self, topic, partitions):
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-watermarks"})
        try:
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
        finally:
            consumer.close()

    def offsets_reader(self, group):
        """A client that reads `group`'s committed offsets (it never joins the group)."""
        return Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})

    @staticmethod
    def committed(reader, topic, partitions):
        """Committed offsets by partition; empty while the coordinator is not ready."""
        try:
            offsets = reader.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        except Exception:  # noqa: BLE001 - coordinator loading or moving: ask again
            return {}
        return {tp.partition: tp.offset for tp in offsets}


def command(variant, guarantee, kafka, input_topic, output, dlq, group):
    common = ["--bootstrap-servers", kafka.bootstrap, "--input-topic", input_topic, "--output-topic", output]
    if variant == "KS":
        return [
            "java", "-XX:+UseG1GC", "-cp", KS_CLASSPATH, "io.orderflow.bench.ValidatorApp", *common,
            "--dlq-topic", dlq, "--application-id", group, "--guarantee", guarantee,
            "--commit-interval-ms", "100", "--threads", "2", "--schemas-dir", os.path.join(REPO, "schemas"),
            "--state-dir", os.path.join(REPO, ".cache", "bench-ks-state", group),
        ]
    binary = os.path.join(RELEASE, BINARIES[variant])
    if variant == "R":
        args = [binary, *common, "--group-id", group, "--guarantee", guarantee, "--commit-interval-ms", "100"]
    else:
        args = [binary] + (["passthrough"] if variant == "P" else []) + common + [
            "--dlq-topic", dlq, "--group-id", group, "--guarantee", guarantee, "--commit-interval-ms", "100",
            "--http-addr", "127.0.0.1:0", "--log-format", "json",
        ]
    if guarantee == "exactly-once":
        args += ["--transactional-id", group]
    return args


class Sampler(threading.Thread):
    """Samples a process's RSS every 100 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stopped = pid, [], threading.Event()

    def run(self):
        while not self.stopped.is_set():
            value = rss_kib(self.pid)
            if value is None:
                break
            self.samples.append((time.monotonic(), value))
            time.sleep(0.1)


def first_output(kafka, topic, partitions, deadline, found, ready):
    """Records when the first output of `topic` is readable. The reader assigns itself
    the partitions (no group join) and has been fetching for a second when it sets
    `ready`, so its own start-up does not count."""
    consumer = Consumer({
        "bootstrap.servers": kafka.bootstrap, "group.id": f"bench-first-{uuid.uuid4().hex}",
        "isolation.level": "read_committed", "enable.auto.commit": False, "fetch.wait.max.ms": 10,
    })
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    warm_until = time.monotonic() + 1.0
    try:
        while time.monotonic() < deadline and "at" not in found:
            if not ready.is_set() and time.monotonic() >= warm_until:
                ready.set()
            message = consumer.poll(0.01)
            if message is not None and message.error() is None:
                found["at"] = time.monotonic()
    finally:
        consumer.close()


def drain(kafka, broker_pid, variant, guarantee, input_topic, partitions, events):
    run = uuid.uuid4().hex[:8]
    output, dlq, group = f"bench-out-{run}", f"bench-dlq-{run}", f"bench-{variant.lower()}-{run}"
    kafka.create(output, partitions)
    kafka.create(dlq, 1)
    ends = kafka.end_offsets(input_topic, partitions)
    log_path = os.path.join(REPO, ".cache", f"bench-{group}.log")
    found, ready = {}, threading.Event()
    watcher = threading.Thread(target=first_output, daemon=True,
                               args=(kafka, output, partitions, time.monotonic() + 600, found, ready))
    watcher.start()
    ready.wait(30)
    broker_before = cpu_seconds(broker_pid)
    started = time.monotonic()
    process = subprocess.Popen(command(variant, guarantee, kafka, input_topic, output, dlq, group),
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT, cwd=REPO)
    sampler = Sampler(process.pid)
    sampler.start()
    drained = None
    reader = kafka.offsets_reader(group)
    while time.monotonic() - started < 900:
        if process.poll() is not None:
            raise RuntimeError(f"{variant} {guarantee} exited early; see {log_path}")
        committed = kafka.committed(reader, input_topic, partitions)
        if all(committed.get(p, -1) >= end for p, end in ends.items()):
            drained = time.monotonic()
            break
        time.sleep(0.05)
    reader.close()
    if drained is None:
        raise RuntimeError(f"{variant} {guarantee} did not drain in 900 s")
    user, system = cpu_split(process.pid)
    switches = context_switches(process.pid)
    cpu = user + system
    broker_cpu = cpu_seconds(broker_pid) - broker_before
    sampler.stopped.set()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
    watcher.join(5)
    first = found.get("at", drained)
    during = [kib for at, kib in sampler.samples if first <= at <= drained] or [kib for _, kib in sampler.samples]
    kafka.delete([output, dlq])
    result = {
        "variant": variant, "guarantee": guarantee, "events": events,
        "throughput": events / max(drained - first, 1e-3),
        "wall_seconds": drained - started,
        "cpu_seconds": cpu,
        "cpu_us_per_event": cpu / events * 1e6,
        # In the kernel: system calls, and the futex waits and wake-ups of thread hand-offs.
        "system_cpu_us_per_event": system / events * 1e6,
        "context_switches_per_1000_events": (switches or 0) / events * 1000,
        "rss_steady_mib": statistics.median(during) / 1024,
        "rss_peak_mib": max(kib for _, kib in sampler.samples) / 1024,
        "startup_seconds": first - started,
        "broker_cpu_seconds": broker_cpu,
        "broker_cpu_us_per_event": broker_cpu / events * 1e6,
        "partitions": partitions,
    }
    log(f"{variant:>2} {guarantee:<13} {result['throughput']:>9.0f} ev/s  "
        f"{result['cpu_us_per_event']:>6.2f} us CPU/ev  RSS {result['rss_steady_mib']:.0f}/{result['rss_peak_mib']:.0f} MiB  "
        f"first output {result['startup_seconds']:.2f} s")
    return result


def latency(kafka, variant, guarantee, rate, seconds, partitions):
    run = uuid.uuid4().hex[:8]
    input_topic, output, dlq, group = f"bench-lat-in-{run}", f"bench-lat-out-{run}", f"bench-lat-dlq-{run}", f"bench-lat-{run}"
    for topic, count in ((input_topic, partitions), (output, partitions), (dlq, 1)):
        kafka.create(topic, count)
    log_path = os.path.join(REPO, ".cache", f"bench-{group}.log")
    process = subprocess.Popen(command(variant, guarantee, kafka, input_topic, output, dlq, group),
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT, cwd=REPO)
    histogram = HdrHistogram(1, 60_000_000, 3)
    stop = threading.Event()
    measure_from = {}

    def read():
        consumer = Consumer({
            "bootstrap.servers": kafka.bootstrap, "group.id": f"bench-lat-reader-{run}",
            "auto.offset.reset": "earliest", "isolation.level": "read_committed", "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        })
        consumer.subscribe([output])
        while not stop.is_set():
            message = consumer.poll(0.05)
            if message is None or message.error() is not None:
                continue
            now = time.time_ns() // 1000
            produced = dict(message.headers() or []).get(PRODUCED_AT)
            if produced is not None and now >= measure_from.get("us", 1 << 62):
                histogram.record_value(max(1, now - int(produced)))
        consumer.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # Let the worker join and the reader subscribe before the load starts.
    time.sleep(8 if variant == "KS" else 4)
    measure_from["us"] = time.time_ns() // 1000 + 2_000_000
    subprocess.run([os.path.join(RELEASE, "orderflow"), "loadgen", "--bootstrap-servers", kafka.bootstrap,
                    "--topic", input_topic, "--rate", str(rate), "--duration", f"{seconds}s", "--timestamp-header",
                    "--quiet", "--seed", "3"], check=True, stdout=subprocess.DEVNULL)
    time.sleep(3)
    stop.set()
    reader.join(10)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
    kafka.delete([input_topic, output, dlq])
    result = {
        "variant": variant, "guarantee": guarantee, "rate": rate, "samples": histogram.get_total_count(),
        "p50_ms": histogram.get_value_at_percentile(50) / 1000,
        "p99_ms": histogram.get_value_at_percentile(99) / 1000,
        "p999_ms": histogram.get_value_at_percentile(99.9) / 1000,
    }
    log(f"{variant:>2} {guarantee:<13} {rate:>6}/s latency p50 {result['p50_ms']:.1f} p99 {result['p99_ms']:.1f} "
        f"p99.9 {result['p999_ms']:.1f} ms ({result['samples']} samples)")
    return result


def main_drains(drains):
    """The drains of the main table (the scale table's are marked with their `scale`)."""
    return [r for r in drains if r.get("scale") is None]


def median_of(rows, key, **match):
    values = [r[key] for r in rows if key in r and all(r.get(k) == v for k, v in match.items())]
    return statistics.median(values) if values else float("nan")


def tables(results):
    drains, latencies = results["drain"], results["latency"]
    provenance = results["provenance"]
    lines = ["# Benchmark results", "",
             f"{provenance['events']:,} events in {provenance['partitions']} partitions, {provenance['rounds']} rounds, "
             f"git {provenance['git']}, {provenance['machine']}; medians over the rounds.", "",
             "| variant | guarantee | events/s | CPU µs/event | of which system | context switches per 1,000 events | "
             "RSS steady MiB | RSS peak MiB | first output s | broker CPU s | broker CPU µs/event |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    main = main_drains(drains)
    for variant in VARIANTS:
        for guarantee in GUARANTEES:
            m = lambda k: median_of(main, k, variant=variant, guarantee=guarantee)  # noqa: E731
            lines.append(f"| {variant} | {guarantee} | {m('throughput'):,.0f} | {m('cpu_us_per_event'):.2f} | "
                         f"{m('system_cpu_us_per_event'):.2f} | {m('context_switches_per_1000_events'):.0f} | "
                         f"{m('rss_steady_mib'):.0f} | {m('rss_peak_mib'):.0f} | "
                         f"{m('startup_seconds'):.2f} | {m('broker_cpu_seconds'):.1f} | "
                         f"{m('broker_cpu_us_per_event'):.2f} |")
    lines += ["", "| variant | guarantee | rate/s | p50 ms | p99 ms | p99.9 ms |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for row in latencies:
        lines.append(f"| {row['variant']} | {row['guarantee']} | {row['rate']:,} | {row['p50_ms']:.1f} | "
                     f"{row['p99_ms']:.1f} | {row['p999_ms']:.1f} |")
    scale = [r for r in drains if r.get("scale") is not None]
    if scale:
        lines += ["", "## Scale: S by input partitions", "",
                  "| partitions | guarantee | events/s | CPU µs/event | RSS steady MiB | RSS peak MiB |",
                  "| ---: | --- | ---: | ---: | ---: | ---: |"]
        for count in sorted({r["partitions"] for r in scale}):
            for guarantee in GUARANTEES:
                m = lambda k: median_of(scale, k, partitions=count, guarantee=guarantee)  # noqa: E731
                lines.append(f"| {count} | {guarantee} | {m('throughput'):,.0f} | {m('cpu_us_per_event'):.2f} | "
                             f"{m('rss_steady_mib'):.0f} | {m('rss_peak_mib'):.0f} |")
    lines += ["", "## Ratios and targets", "", "| ratio | value | target | met |", "| --- | --- | --- | --- |"]
    for name, value, target, ok in results["ratios"]:
        lines.append(f"| {name} | {value:.3f} | {target} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines) + "\n"


def ratios(drains, latencies, commit_interval_ms):
    drains = main_drains(drains)
    m = lambda k, v, g: median_of(drains, k, variant=v, guarantee=g)  # noqa: E731
    lat = lambda v, g, r: next((x["p99_ms"] for x in latencies if (x["variant"], x["guarantee"], x["rate"]) == (v, g, r)), float("nan"))  # noqa: E731
    rows = []
    for guarantee in GUARANTEES:
        cpu = lambda v: m("cpu_us_per_event", v, guarantee)  # noqa: E731, B023
        broker = lambda v: m("broker_cpu_us_per_event", v, guarantee)  # noqa: E731, B023
        rows += [
            (f"S/R CPU per event ({guarantee})", cpu("S") / cpu("R"), "<= 1.5"),
            (f"P/R CPU per event ({guarantee})", cpu("P") / cpu("R"), "<= 1.2"),
            (f"W/KS CPU per event ({guarantee})", cpu("W") / cpu("KS"), "<= 0.2"),
            (f"S/R broker CPU per event ({guarantee})", broker("S") / broker("R"), "<= 1.25"),
        ]
    alo, eos = GUARANTEES
    rows += [
        ("W steady RSS MiB (largest of both guarantees)", max(m("rss_steady_mib", "W", g) for g in GUARANTEES), "<= 32"),
        ("W/KS steady RSS", max(m("rss_steady_mib", "W", g) / m("rss_steady_mib", "KS", g) for g in GUARANTEES), "<= 0.1"),
        ("W exactly-once / at-least-once throughput", m("throughput", "W", eos) / m("throughput", "W", alo), ">= 0.95"),
        ("W/KS startup to first output", m("startup_seconds", "W", alo) / m("startup_seconds", "KS", alo), "<= 0.2"),
        ("W/KS throughput (at-least-once)", m("throughput", "W", alo) / m("throughput", "KS", alo), "(higher is better)"),
        ("W p99 ms at 2,000/s at-least-once", lat("W", alo, 2000), "<= 10"),
        ("W p99 ms at 2,000/s exactly-once", lat("W", eos, 2000), f"<= {commit_interval_ms + 15}"),
        ("R p99 ms at 2,000/s at-least-once (the floor)", lat("R", alo, 2000), "(reference)"),
    ]
    out = []
    for name, value, target in rows:
        ok = None
        if target.startswith("<="):
            ok = value <= float(target[2:])
        elif target.startswith(">="):
            ok = value >= float(target[2:])
        out.append((name, value, target, True if ok is None else ok))
    return out


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drains = main_drains(results["drain"])
    labels = [f"{v}\n{g.split('-')[0]}" for v in VARIANTS for g in GUARANTEES]
    palette = ["#8c8c8c", "#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    colours = [palette[i % len(palette)] for i in range(len(VARIANTS)) for _ in GUARANTEES]
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for axis, key, title in ((axes[0], "throughput", "drain throughput (events/s)"),
                             (axes[1], "cpu_us_per_event", "CPU per event (µs)"),
                             (axes[2], "rss_steady_mib", "steady RSS (MiB)")):
        values = [median_of(drains, key, variant=v, guarantee=g) for v in VARIANTS for g in GUARANTEES]
        axis.bar(labels, values, color=colours)
        axis.set_title(title)
    figure.suptitle(f"orderflow benchmark, {results['provenance']['events']:,} events (medians of "
                    f"{results['provenance']['rounds']} rounds; R is the bare client)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def preload(kafka, partitions, events, seed):
    topic = f"bench-input-{uuid.uuid4().hex[:8]}"
    kafka.create(topic, partitions)
    log(f"pre-loading {events:,} events into {topic} ({partitions} partitions)")
    subprocess.run([os.path.join(RELEASE, "orderflow"), "loadgen", "--bootstrap-servers", kafka.bootstrap,
                    "--topic", topic, "--rate", "0", "--count", str(events), "--quiet", "--seed", str(seed)],
                   check=True)
    return topic


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--broker-pid", type=int, required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rates", default="2000,10000")
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--scale", default="", help="input partition counts for S's scale table, e.g. 4,12,48")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    args = parser.parse_args()

    kafka = Kafka(args.bootstrap)
    input_topic = preload(kafka, args.partitions, args.events, 1)
    drains = []
    for round_number in range(1, args.rounds + 1):
        order = [(v, g) for v in VARIANTS for g in GUARANTEES]
        random.Random(round_number).shuffle(order)
        log(f"round {round_number}: {', '.join(f'{v}/{g}' for v, g in order)}")
        for variant, guarantee in order:
            row = drain(kafka, args.broker_pid, variant, guarantee, input_topic, args.partitions, args.events)
            row["round"] = round_number
            drains.append(row)
    kafka.delete([input_topic])
    for count in [int(c) for c in args.scale.split(",") if c]:
        topic = preload(kafka, count, args.events, 1)
        for round_number in range(1, args.rounds + 1):
            for guarantee in GUARANTEES:
                row = drain(kafka, args.broker_pid, "S", guarantee, topic, count, args.events)
                row["round"], row["scale"] = round_number, count
                drains.append(row)
        kafka.delete([topic])
    latencies = []
    for rate in [int(r) for r in args.rates.split(",")]:
        for variant in VARIANTS:
            for guarantee in GUARANTEES:
                latencies.append(latency(kafka, variant, guarantee, rate, args.latency_seconds, args.partitions))

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    results = {
        "provenance": {
            "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "events": args.events, "rounds": args.rounds, "partitions": args.partitions,
            "commit_interval_ms": 100, "rates": args.rates, "latency_seconds": args.latency_seconds, "scale": args.scale,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            "rustc": version(["rustc", "--version"]),
            "java": subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0],
            "kafka": os.environ.get("KAFKA_VERSION", "4.3.1"),
            "kafka_streams": "4.3.1",
        },
        "drain": drains,
        "latency": latencies,
    }
    results["ratios"] = ratios(drains, latencies, 100)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(tables(results))
    chart(results, os.path.join(args.out, "latest.png"))
    print(tables(results))


if __name__ == "__main__":
    main()
