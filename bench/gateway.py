#!/usr/bin/env python3
"""Load test of `orderflow gateway` on loopback with hey (an HTTP load generator).

    gateway.py --bootstrap B --orderflow BIN [--seconds 20] [--scenarios NAME,...]
               [--results DIR]

For each scenario: a topic of its own, a gateway in front of it, then `hey` posting
the same JSON body (one order event, or a batch; no event_id, so the gateway generates
one per event) from C concurrent connections for the given seconds. Reports the
sustained requests and events per second, p50/p90/p99 latency of the answers and the
status codes, and checks the one thing that must hold under any load: the topic holds
exactly the events of the 202 answers (202 answers x events per request; a 503 writes
nothing). Writes gateway.json and gateway.md into --results when given; exits 1 when a
check fails.
"""

import argparse
import csv
import io
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

# name: (events per request, concurrent connections, --max-in-flight of the gateway)
SCENARIOS = {
    "single-c16": (1, 16, 256),
    "single-c64": (1, 64, 256),
    "batch10-c16": (10, 16, 256),
    "overload": (1, 128, 8),
}
# hey reports at most this many requests; a run past it cannot be checked.
HEY_MAX_RESULTS = 1_000_000


def log(message):
    print(f"bench-gateway: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_order(repo):
    """The first OrderPlaced of examples/events.jsonl, without its event_id."""
    with open(os.path.join(repo, "examples", "events.jsonl"), encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if "OrderPlaced" in event.get("payload", {}):
                event.pop("event_id")
                return event
    sys.exit("examples/events.jsonl has no OrderPlaced event")


def end_offsets(admin_config, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(dict(admin_config, **{"group.id": f"bench-{uuid.uuid4()}"}))
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


def create_topics(bootstrap, names, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(30)


def die_with_parent():
    """In a child process before exec: SIGTERM when this script dies, so a script killed
    by a test's time limit leaves no gateway or hey behind (Linux)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_ready(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the gateway exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"the gateway was not ready within {seconds} s")


def percentile(sorted_values, share):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def run_scenario(args, name, body_event, partitions=3):
    per_request, connections, max_in_flight = SCENARIOS[name]
    topic = f"bench-gateway-{name}-{uuid.uuid4().hex[:8]}"
    users = f"{topic}-users"
    create_topics(args.bootstrap, [topic, users], partitions)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gateway = subprocess.Popen(
        [args.orderflow, "gateway", "-b", args.bootstrap, "--topic", f"orders={topic}",
         "--topic", f"users={users}", "--listen", f"127.0.0.1:{port}",
         "--max-in-flight", str(max_in_flight), "--log-format", "json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent,
    )
    try:
        wait_ready(url, gateway)
        body = [body_event] * per_request if per_request > 1 else body_event
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
            json.dump(body, out)
            body_path = out.name
        started = time.monotonic()
        hey = subprocess.run(
            ["hey", "-z", f"{args.seconds}s", "-c", str(connections), "-m", "POST",
             "-T", "application/json", "-D", body_path, "-t", "30", "-o", "csv",
             f"{url}/v1/orders/events"],
            capture_output=True, text=True, timeout=args.seconds + 120, check=False,
            preexec_fn=die_with_parent,
        )
        elapsed = time.monotonic() - started
        os.unlink(body_path)
        if hey.returncode != 0:
            sys.exit(f"hey failed ({hey.returncode}): {hey.stderr[-2000:]}")
        rows = list(csv.DictReader(io.StringIO(hey.stdout)))
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait()
    if gateway.returncode != 0:
        log(f"{name}: the gateway exited with {gateway.returncode}: "
            f"{gateway.stderr.read().decode(errors='replace')[-2000:]}")
    statuses = {}
    latencies = []
    for row in rows:
        status = int(row["status-code"])
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(float(row["response-time"]))
    latencies.sort()
    duration = max((float(r["offset"]) for r in rows), default=elapsed) or elapsed
    accepted = statuses.get(202, 0)
    in_topic = end_offsets({"bootstrap.servers": args.bootstrap}, topic, partitions)
    result = {
        "scenario": name,
        "events_per_request": per_request,
        "connections": connections,
        "max_in_flight": max_in_flight,
        "seconds": round(duration, 2),
        "requests": len(rows),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_second": round(len(rows) / duration, 1),
        "accepted_events_per_second": round(accepted * per_request / duration, 1),
        "latency_ms": {
            f"p{int(q * 100)}": round(percentile(latencies, q) * 1000, 2)
            for q in (0.5, 0.9, 0.99)
        } if latencies else {},
        "acknowledged_events": accepted * per_request,
        "events_in_topic": in_topic,
        "clean_exit": gateway.returncode == 0,
    }
    problems = []
    if in_topic != accepted * per_request:
        problems.append(f"{in_topic} events in the topic, {accepted * per_request} acknowledged")
    if len(rows) >= HEY_MAX_RESULTS:
        problems.append(f"hey keeps at most {HEY_MAX_RESULTS} results: shorten --seconds")
    unexpected = set(statuses) - {202, 503}
    if unexpected:
        problems.append(f"unexpected statuses {sorted(unexpected)}")
    if accepted == 0:
        problems.append("nothing was acknowledged")
    if gateway.returncode != 0:
        problems.append(f"exit code {gateway.returncode} after SIGTERM")
    result["problems"] = problems
    log(f"{name}: {json.dumps(result)}")
    return result


def markdown(results, meta):
    lines = [
        "# Gateway load test",
        "",
        f"`make bench-gateway`, {meta['date']}: `orderflow gateway` (release build) on loopback "
        f"in front of one local Apache Kafka broker (3 partitions, acks=all, idempotent "
        f"producer), loaded by `hey` for {meta['seconds']} s per scenario on "
        f"{meta['cpus']} CPUs shared by the broker, the gateway and hey. The body is one "
        "OrderPlaced event (or ten), without event_id: the gateway generates one per event.",
        "",
        "| scenario | events/request | connections | max in flight | requests/s | events/s "
        "acknowledged | p50 ms | p90 ms | p99 ms | statuses | in topic = acknowledged |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lat = r["latency_ms"]
        statuses = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        lines.append(
            f"| {r['scenario']} | {r['events_per_request']} | {r['connections']} | "
            f"{r['max_in_flight']} | {r['requests_per_second']} | "
            f"{r['accepted_events_per_second']} | {lat.get('p50')} | {lat.get('p90')} | "
            f"{lat.get('p99')} | {statuses} | "
            f"{'yes' if not r['problems'] else '; '.join(r['problems'])} |"
        )
    lines += [
        "",
        "A 202 is sent only after the broker acknowledged every event of the request. In "
        "the overload scenario the gateway admits 8 requests at once and answers the rest "
        "503 with Retry-After at once, writing nothing; the topic then holds exactly the "
        "acknowledged events. Latency is the client's, from sending the request to the "
        "end of the answer; at these loads it is mostly the producer's batching wait "
        "(librdkafka's linger.ms, 5 ms by default), so more connections mean more "
        "requests per second at about the same latency.",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--orderflow", required=True, help="the orderflow binary")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--results", help="directory for gateway.json and gateway.md")
    args = parser.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    names = [n for n in args.scenarios.split(",") if n]
    for name in names:
        if name not in SCENARIOS:
            sys.exit(f"--scenarios: no scenario {name}; the scenarios are {', '.join(SCENARIOS)}")
    event = sample_order(repo)
    results = [run_scenario(args, name, event) for name in names]
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    if args.results:
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, "gateway.json"), "w", encoding="utf-8") as out:
            json.dump({"meta": meta, "results": results}, out, indent=2)
            out.write("\n")
        with open(os.path.join(args.results, "gateway.md"), "w", encoding="utf-8") as out:
            out.write(markdown(results, meta))
    failed = [r for r in results if r["problems"]]
    for r in failed:
        log(f"FAILED {r['scenario']}: {'; '.join(r['problems'])}")
    print(json.dumps({"results": results}, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
