#!/usr/bin/env python3
"""End-to-end acceptance check of the five orderflow workers, from outside Rust.

    e2e.py produce --bootstrap B --topic T --orders N --seed S --expected FILE
                   [--format single-object|confluent --registry URL]
        Writes N generated order lifecycles to topic T as any Python service would
        (confluent_kafka, idempotent, acks=all; key = order_id; OrderEvent v2, and v1
        for about a tenth of the OrderPlaced and a fifth of the OrderCancelled events),
        and FILE: the derived events each worker must produce, computed by `oracle` from
        the documented rules.

    e2e.py verify --bootstrap B --expected FILE
                  --topics validation=T1,status=T2,notifier=T3,risk=T4,saga=T5
                  [--registry URL] [--timeout 120]
        Reads every output topic read_committed, decodes each record (single-object
        through the fingerprints of schemas/, Confluent through the registry) and
        checks that every expected event is there exactly once, with the expected
        fields and framing (Confluent when a registry is given, else single-object), and
        nothing else. Prints a JSON summary; exits 1 on any problem.
"""

import argparse
import json
import sys
import time
import uuid
from collections import Counter

import avro_wire
import oracle
from lifecycles import Generator

TOPIC_WORKER = {
    "validation": oracle.VALIDATOR,
    "status": oracle.STATUS,
    "notifier": oracle.NOTIFIER,
    "risk": oracle.RISK,
    "saga": oracle.SAGA,
}
EXAMPLES = 5
LINEAGE_FIELDS = ("event_id", "causation_id", "order_id", "worker", "worker_version", "customer_id")
# A command's lineage: its id and time have their own names, and it names no customer.
COMMAND_FIELDS = ("command_id", "causation_id", "order_id", "worker", "worker_version")


def log(message):
    print(message, file=sys.stderr, flush=True)


# ---- produce ---------------------------------------------------------------------------


def produce(args):
    from confluent_kafka import Producer

    now = int(time.time() * 1000)
    generator = Generator(args.seed, now, v1_placed_share=args.v1_placed_share,
                          v1_cancelled_share=args.v1_cancelled_share)
    events = generator.interleaved(args.orders)
    schemas = {1: avro_wire.schema("OrderEvent", 1), 2: avro_wire.schema("OrderEvent", 2)}
    if args.format == "confluent":
        if not args.registry:
            sys.exit("--format confluent needs --registry")
        confluent = avro_wire.ConfluentCodec(args.registry)

        def encode(event, version):
            return confluent.encode(schemas[version], args.topic, avro_wire.avro_record(event))
    else:

        def encode(event, version):
            return avro_wire.SingleObjectCodec.encode(
                schemas[version], avro_wire.avro_record(event)
            )

    expected = {worker: {} for worker in oracle.WORKERS}
    by_type = Counter()
    failures = []

    def delivered(error, _message):
        if error is not None:
            failures.append(str(error))

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 10,
        }
    )
    for event, version in events:
        kind, _ = oracle.payload_of(event)
        by_type[kind] += 1
        source = {"payload": kind, "writer": schemas[version].relative_path}
        for worker, outputs in oracle.expected_outputs(event, now).items():
            for output in outputs:
                expected[worker][oracle.output_id(output)] = dict(output, _source=source)
        value = encode(event, version)
        while True:
            try:
                producer.produce(
                    args.topic, key=event["order_id"].encode(), value=value, on_delivery=delivered
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        sys.exit(f"{remaining} records undelivered, {len(failures)} failed: {failures[:5]}")

    run = {
        "orders": args.orders,
        "seed": args.seed,
        "format": args.format,
        "input_events": len(events),
        "input_by_type": dict(sorted(by_type.items())),
        "v1_order_placed": generator.stats["v1_placed"],
        "v1_order_cancelled": generator.stats["v1_cancelled"],
        "invalid_orders": generator.stats["invalid"],
        "risky_orders": generator.stats["risky"],
        "generated_at": now,
    }
    with open(args.expected, "w", encoding="utf-8") as out:
        json.dump({"run": run, "expected": expected}, out, ensure_ascii=False)
    counts = {worker: len(outputs) for worker, outputs in expected.items()}
    print(json.dumps({"produced": run, "expected_outputs": counts}, ensure_ascii=False))


# ---- verify ----------------------------------------------------------------------------


def observed(worker, record):
    """The fields of a decoded derived event that the oracle predicts, in its shape,
    plus the problems with fields it does not predict."""
    command = worker == oracle.SAGA
    out = {k: record.get(k) for k in (COMMAND_FIELDS if command else LINEAGE_FIELDS)}
    problems = []
    time_field = "issued_at" if command else "produced_at"
    if not isinstance(record.get(time_field), int) or record[time_field] <= 0:
        problems.append(f"{time_field} {record.get(time_field)!r}")
    if command:
        out["command"] = record["command"]
    elif worker == oracle.STATUS:
        out.update(status=record["status"], occurred_at=record["occurred_at"])
    elif worker == oracle.NOTIFIER:
        for field in ("channel", "recipient", "template", "parameters"):
            out[field] = record[field]
    elif worker == oracle.RISK:
        out.update(
            score=record["score"],
            decision=record["decision"],
            signals=[[s["code"], s["weight"]] for s in record["signals"]],
        )
        if any(not s["detail"] for s in record["signals"]):
            problems.append("a signal without detail")
    elif worker == oracle.VALIDATOR:
        ((verdict, body),) = record["result"].items()
        if verdict == "OrderRejected":
            reasons = body["reasons"]
            codes = [r["code"] for r in reasons]
            ranks = [oracle.RULE_ORDER.index(c) if c in oracle.RULE_ORDER else -1 for c in codes]
            if ranks != sorted(ranks) or -1 in ranks:
                problems.append(f"reasons not in the documented rule order: {codes}")
            if any(not r["message"] for r in reasons):
                problems.append("a reason without message")
            body = {"reasons": [[r["code"], r["field"]] for r in reasons]}
        out["result"] = {verdict: body}
    return out, problems


def differences(expected, actual):
    """{field: {"expected": ..., "actual": ...}} of the fields that differ."""
    diff = {}
    for field, want in expected.items():
        if field.startswith("_"):
            continue  # about the input, for the report
        got = actual.get(field)
        if field == "result":
            # Reasons are compared as a set of (code, field): the verdict and which rules
            # broke where, whatever the order (the order is checked on its own).
            want = canonical_result(want)
            got = canonical_result(got)
        if want != got:
            diff[field] = {"expected": want, "actual": got}
    return diff


def canonical_result(result):
    if not isinstance(result, dict) or "OrderRejected" not in result:
        return result
    return {"OrderRejected": sorted(map(tuple, result["OrderRejected"]["reasons"]))}


class TopicCheck:
    """What one output topic holds against what its worker should have written."""

    def __init__(self, worker, topic, expected, bootstrap, decoders, framing):
        from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

        self.worker = worker
        self.topic = topic
        self.expected = expected
        self.decoders = decoders
        self.framing = framing
        self.seen = Counter()
        self.records = 0
        self.unexpected = []
        self.mismatched = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"e2e-verify-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": False,
            }
        )
        metadata = self.consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])

    def poll(self):
        """Reads what is available; returns how many records arrived."""
        messages = self.consumer.consume(500, timeout=0.2)
        for message in messages:
            if message.error():
                raise RuntimeError(f"reading {self.topic}: {message.error()}")
            self.records += 1
            self.check(message)
        return len(messages)

    def decode(self, data):
        if data[:1] == avro_wire.CONFLUENT_MAGIC:
            if self.decoders.confluent is None:
                raise ValueError("Confluent framing but no --registry given")
            _, value = self.decoders.confluent.decode(self.topic, data)
            return value
        _, value = self.decoders.single_object.decode(data)
        return value

    def check(self, message):
        where = f"{self.topic}[{message.partition()}]@{message.offset()}"
        try:
            record = self.decode(message.value() or b"")
        except Exception as error:  # any undecodable record is a finding, not a crash
            self.unexpected.append({"at": where, "error": f"undecodable: {error}"})
            return
        event_id = record.get("command_id" if self.worker == oracle.SAGA else "event_id")
        want = self.expected.get(event_id)
        if want is None:
            self.unexpected.append({"at": where, "record": record})
            return
        self.seen[event_id] += 1
        if self.seen[event_id] > 1:
            return
        actual, problems = observed(self.worker, record)
        data = message.value() or b""
        framing = "confluent" if data[:1] == avro_wire.CONFLUENT_MAGIC else "single-object"
        if framing != self.framing:
            problems.append(f"written in {framing} framing, expected {self.framing}")
        actual["key"] = message.key().decode("utf-8", "replace") if message.key() else None
        diff = differences(want, actual)
        if problems:
            diff["problems"] = problems
        if diff:
            self.mismatched[event_id] = {"at": where, "causation_id": want["causation_id"],
                                         "source": want["_source"], "differences": diff}

    def complete(self):
        return all(event_id in self.seen for event_id in self.expected)

    def summary(self):
        duplicated = {k: n - 1 for k, n in self.seen.items() if n > 1}
        missing = [k for k in self.expected if k not in self.seen]
        return {
            "expected": len(self.expected),
            "seen": self.records,
            "missing": len(missing),
            "duplicated": sum(duplicated.values()),
            "unexpected": len(self.unexpected),
            "mismatched": len(self.mismatched),
        }, {
            "missing": [
                {"event_id": k, "causation_id": self.expected[k]["causation_id"],
                 "order_id": self.expected[k]["order_id"], "source": self.expected[k]["_source"]}
                for k in missing[:EXAMPLES]
            ],
            "duplicated": [{"event_id": k, "extra_copies": n}
                           for k, n in list(duplicated.items())[:EXAMPLES]],
            "unexpected": self.unexpected[:EXAMPLES],
            "mismatched": [dict(event_id=k, **v)
                           for k, v in list(self.mismatched.items())[:EXAMPLES]],
        }


class Decoders:
    def __init__(self, registry):
        self.single_object = avro_wire.SingleObjectCodec()
        self.confluent = avro_wire.ConfluentCodec(registry) if registry else None


def verify(args):
    with open(args.expected, encoding="utf-8") as f:
        document = json.load(f)
    expected = document["expected"]
    run = document["run"]
    topics = dict(pair.split("=", 1) for pair in args.topics.split(","))
    unknown = set(topics) - set(TOPIC_WORKER)
    if unknown or len(topics) != len(TOPIC_WORKER):
        sys.exit(f"--topics needs exactly {', '.join(TOPIC_WORKER)}; got {args.topics}")
    decoders = Decoders(args.registry)
    # The workers' documented default: Confluent framing with a registry, else
    # single-object encoding.
    framing = "confluent" if args.registry else "single-object"
    checks = [
        TopicCheck(TOPIC_WORKER[name], topic, expected[TOPIC_WORKER[name]], args.bootstrap,
                   decoders, framing)
        for name, topic in topics.items()
    ]

    started = time.monotonic()
    deadline = started + args.timeout
    last_progress = started
    # Wait for completeness, then read on until every topic has been quiet for a few
    # seconds, so that late duplicates and strays are counted too.
    quiet_since = None
    while time.monotonic() < deadline:
        arrived = sum(check.poll() for check in checks)
        now = time.monotonic()
        if now - last_progress >= 10:
            last_progress = now
            log("verify: " + ", ".join(
                f"{c.worker} {len(c.seen)}/{len(c.expected)}" for c in checks))
        if all(check.complete() for check in checks):
            if arrived:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= args.settle:
                break
    waited = time.monotonic() - started
    for check in checks:
        check.consumer.close()

    summary, examples = {}, {}
    for check in checks:
        summary[check.worker], examples[check.worker] = check.summary()
    failed = any(
        counts[k] for counts in summary.values()
        for k in ("missing", "duplicated", "unexpected", "mismatched")
    )
    print(json.dumps(summary, indent=1))
    for check in checks:
        counts = summary[check.worker]
        print(f"{check.worker:>16}: input {run['input_events']} events, output "
              f"{counts['seen']} records, expected {counts['expected']} "
              f"(topic {check.topic})")
    print(f"verified in {waited:.1f} s")
    if failed:
        problems = {
            worker: {kind: items for kind, items in found.items() if items}
            for worker, found in examples.items()
            if any(found.values())
        }
        print("PROBLEMS (up to 5 examples of each):")
        print(json.dumps(problems, indent=1, ensure_ascii=False, default=str))
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--format", choices=["single-object", "confluent"], default="single-object")
    p.add_argument("--registry")
    p.add_argument("--v1-placed-share", type=float, default=0.10,
                   help="share of OrderPlaced events written with OrderEvent v1")
    p.add_argument("--v1-cancelled-share", type=float, default=0.20,
                   help="share of OrderCancelled events written with OrderEvent v1")
    v = commands.add_parser("verify")
    v.add_argument("--bootstrap", required=True)
    v.add_argument("--expected", required=True)
    v.add_argument("--topics", required=True)
    v.add_argument("--registry")
    v.add_argument("--timeout", type=float, default=120)
    v.add_argument("--settle", type=float, default=3, help="quiet seconds after completeness")
    args = parser.parse_args()
    if args.command == "produce":
        produce(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
