#!/usr/bin/env python3
"""End-to-end acceptance check of the five orderflow workers, from outside Rust.

    e2e.py produce --bootstrap B --topic T --orders N --seed S --expected FILE
                   [--users-topic U] [--gateway URL [--gateway-every K]]
                   [--format single-object|confluent --registry URL]
        Writes N generated order lifecycles to topic T as any Python service would
        (confluent_kafka, idempotent, acks=all; key = order_id; OrderEvent v2, and v1
        for about a tenth of the OrderPlaced and a fifth of the OrderCancelled events),
        and FILE: the derived events each worker must produce, computed by `oracle` from
        the documented rules.
        With --users-topic, also the account events of one user per customer of those
        orders (UserEvent v1, key = user_id) to U, and the notices the notifier must
        derive from them.
        With --gateway, every K-th order (10; all its events, one request each, each
        answered before the next is sent) and every K-th user (all their events in one
        request, a JSON array) go through `orderflow gateway` at URL instead: POSTed in
        its JSON form to /v1/orders/events and /v1/users/events, each answer checked to
        be 202 for exactly the events sent, on the topic given here. The gateway writes
        the newest schema version (OrderEvent v2); every event it acknowledged is read
        back at the partition and offset of its answer and must be the event posted,
        with its key, in the run's framing.

    e2e.py verify --bootstrap B --expected FILE
                  --topics validation=T1,status=T2,notifier=T3,risk=T4,saga=T5[,users=T6]
                  [--registry URL] [--timeout 120]
        Reads every output topic read_committed, decodes each record (single-object
        through the fingerprints of schemas/, Confluent through the registry) and
        checks that every expected event is there exactly once, with the expected
        fields, record and framing (Confluent when a registry is given, else
        single-object), and nothing else. users=T6 (the notifier's user notices) is
        required when FILE expects user notices, and refused otherwise. Prints a JSON
        summary; exits 1 on any problem.
"""

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import avro_wire
import oracle
from lifecycles import Generator

TOPIC_WORKER = {
    "validation": oracle.VALIDATOR,
    "status": oracle.STATUS,
    "notifier": oracle.NOTIFIER,
    "risk": oracle.RISK,
    "saga": oracle.SAGA,
    "users": oracle.USER_NOTIFIER,
}
EXAMPLES = 5
LINEAGE_FIELDS = ("event_id", "causation_id", "order_id", "worker", "worker_version", "customer_id")
# A command's lineage: its id and time have their own names, and it names no customer.
COMMAND_FIELDS = ("command_id", "causation_id", "order_id", "worker", "worker_version")
# A user notice's lineage names the user, no order and no customer.
USER_LINEAGE_FIELDS = ("event_id", "causation_id", "user_id", "worker", "worker_version")


def log(message):
    print(message, file=sys.stderr, flush=True)


# ---- produce ---------------------------------------------------------------------------


def gateway_json(value):
    """An event in the gateway's JSON form. The plain shape of `avro_wire` is that form
    (a nullable union's value bare, any other union's `{"RecordShortName": {...}}`,
    longs and ints as numbers, enums as their symbol), so this is a deep copy that
    refuses anything JSON does not carry exactly."""
    if isinstance(value, dict):
        return {k: gateway_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [gateway_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"{type(value).__name__} has no place in the JSON form: {value!r}")


class GatewayError(Exception):
    pass


class GatewayClient:
    """POSTs events to `orderflow gateway` and checks every answer."""

    def __init__(self, url, topics):
        self.url = url.rstrip("/")
        self.topics = topics  # route -> the topic its 202 answers must name
        # No proxy from the environment: the gateway is on loopback.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.lock = threading.Lock()
        self.requests = Counter()
        self.events = Counter()
        # (route, topic, partition, offset, event) of every acknowledged event.
        self.acknowledged = []

    def post(self, route, events):
        """Sends `events` (one request: the bare event when one, else an array) and
        returns once the gateway answered 202 for exactly them; raises otherwise."""
        body = [gateway_json(e) for e in events]
        data = json.dumps(body[0] if len(body) == 1 else body, ensure_ascii=False)
        request = urllib.request.Request(
            f"{self.url}/v1/{route}/events", data=data.encode("utf-8"), method="POST",
            headers={"content-type": "application/json"})
        try:
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        except OSError as error:
            raise GatewayError(f"POST /v1/{route}/events: {error}") from error
        text = text.decode("utf-8", "replace")
        what = f"POST /v1/{route}/events of {[e['event_id'] for e in events][:3]}"
        if status != 202:
            raise GatewayError(f"{what}: answered {status}, not 202: {text[:500]}")
        answer = json.loads(text)
        if answer.get("topic") != self.topics[route]:
            raise GatewayError(f"{what}: written to {answer.get('topic')!r}, "
                               f"not {self.topics[route]!r}: {text[:500]}")
        acknowledged = answer.get("events") or []
        if [(a.get("index"), a.get("event_id")) for a in acknowledged] != [
                (i, e["event_id"]) for i, e in enumerate(events)]:
            raise GatewayError(f"{what}: the answer does not list the events sent: {text[:500]}")
        for ack in acknowledged:
            if not all(isinstance(ack.get(k), int) and ack[k] >= 0
                       for k in ("partition", "offset")):
                raise GatewayError(f"{what}: no partition and offset: {text[:500]}")
        with self.lock:
            self.requests[route] += 1
            self.events[route] += len(events)
            self.acknowledged += [(route, answer["topic"], a["partition"], a["offset"], e)
                                  for a, e in zip(acknowledged, events)]


# What the gateway writes for an event: the newest schema, missing fields defaulted.
GATEWAY_DEFAULTS = {"orders": {"OrderPlaced": {"sales_channel": "UNKNOWN"}}, "users": {}}


def check_gateway_records(args, client):
    """Reads back every event the gateway acknowledged, at the partition and offset of
    its answer: its key, framing, writer schema and value must be those of the event
    posted. Returns the problems found."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

    framing = "confluent" if args.format == "confluent" else "single-object"
    single_object = avro_wire.SingleObjectCodec()
    confluent = avro_wire.ConfluentCodec(args.registry) if args.registry else None
    wanted = {(topic, p, o): (route, e) for route, topic, p, o, e in client.acknowledged}
    consumer = Consumer({"bootstrap.servers": args.bootstrap,
                         "group.id": f"e2e-gateway-check-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "enable.partition.eof": False})
    assignment = []
    for topic in {t for t, _, _ in wanted}:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
    consumer.assign(assignment)
    problems = []
    deadline = time.monotonic() + 60
    while wanted and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=0.5):
            if message.error():
                raise RuntimeError(f"reading {message.topic()}: {message.error()}")
            found = wanted.pop((message.topic(), message.partition(), message.offset()), None)
            if found is None:
                continue
            route, event = found
            where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
            data = message.value() or b""
            try:
                if data[:1] == avro_wire.CONFLUENT_MAGIC:
                    if confluent is None:
                        raise ValueError("Confluent framing but no --registry given")
                    written_as = "confluent"
                    schema_id, value = confluent.decode(message.topic(), data)
                    name = confluent.schema_name(schema_id).rsplit(".", 1)[-1]
                else:
                    written_as = "single-object"
                    writer, value = single_object.decode(data)
                    name = writer.name
            except Exception as error:  # a finding, not a crash
                problems.append(f"{where}: undecodable: {error}")
                continue
            key_field = "order_id" if route == "orders" else "user_id"
            want = json.loads(json.dumps(event))
            kind, body = oracle.payload_of(want)
            for field, default in GATEWAY_DEFAULTS[route].get(kind, {}).items():
                body.setdefault(field, default)
            record = {"orders": "OrderEvent", "users": "UserEvent"}[route]
            if written_as != framing:
                problems.append(f"{where}: {written_as} framing, expected {framing}")
            if name != record:
                problems.append(f"{where}: a {name}, expected a {record}")
            if (message.key() or b"").decode("utf-8", "replace") != event[key_field]:
                problems.append(f"{where}: key {message.key()!r}, expected {event[key_field]}")
            if value != want:
                problems.append(f"{where}: {value!r} is not the event posted, {want!r}")
    consumer.close()
    problems += [f"{t}[{p}]@{o}: acknowledged but not in the topic" for t, p, o in wanted]
    return problems


def produce(args):
    from confluent_kafka import Producer

    if args.gateway_every < 1:
        sys.exit("--gateway-every must be 1 or more")
    now = int(time.time() * 1000)
    generator = Generator(args.seed, now, v1_placed_share=args.v1_placed_share,
                          v1_cancelled_share=args.v1_cancelled_share)
    order_events = generator.interleaved(args.orders)
    user_events = generator.users() if args.users_topic else []
    schemas = {1: avro_wire.schema("OrderEvent", 1), 2: avro_wire.schema("OrderEvent", 2)}
    user_schema = avro_wire.schema("UserEvent", 1)
    gateway_schemas = {"orders": avro_wire.schema("OrderEvent", 2), "users": user_schema}
    if args.format == "confluent":
        if not args.registry:
            sys.exit("--format confluent needs --registry")
        confluent = avro_wire.ConfluentCodec(args.registry)

        def encode(schema_file, topic, event):
            return confluent.encode(schema_file, topic, avro_wire.avro_record(event))
    else:

        def encode(schema_file, _topic, event):
            return avro_wire.SingleObjectCodec.encode(schema_file, avro_wire.avro_record(event))

    # Which orders and users the gateway writes: every K-th, whole, so that the events of
    # one order (one user) keep their order.
    def via_gateway(index, offset=0):
        return bool(args.gateway) and index % args.gateway_every == offset
    gateway_orders = {f"ord-{generator.run}-{i:06d}" for i in range(args.orders)
                      if via_gateway(i)}
    gateway_users = {u for i, u in enumerate(generator.customers)
                     if args.users_topic and via_gateway(i, args.gateway_every // 2)}

    expected = {worker: {} for worker in oracle.WORKERS}
    if args.users_topic:
        expected[oracle.USER_NOTIFIER] = {}
    by_type = Counter()
    by_writer = Counter()

    def expect(worker, outputs, source):
        for output in outputs:
            expected[worker][oracle.output_id(output)] = dict(output, _source=source)

    kafka_records = []  # (topic, key, value), in the order written
    orders_for_gateway, users_for_gateway = {}, {}
    for event, version in order_events:
        kind, _ = oracle.payload_of(event)
        by_type[kind] += 1
        gateway = event["order_id"] in gateway_orders
        writer = gateway_schemas["orders"] if gateway else schemas[version]
        source = {"payload": kind, "writer": writer.relative_path,
                  "via": "gateway" if gateway else "kafka"}
        by_writer[f"{source['via']} {writer.relative_path}"] += 1
        for worker, outputs in oracle.expected_outputs(event, now).items():
            expect(worker, outputs, source)
        if gateway:
            orders_for_gateway.setdefault(event["order_id"], []).append(event)
        else:
            kafka_records.append((args.topic, event["order_id"],
                                  encode(writer, args.topic, event)))
    for event in user_events:
        kind, _ = oracle.payload_of(event)
        by_type[kind] += 1
        gateway = event["user_id"] in gateway_users
        source = {"payload": kind, "writer": user_schema.relative_path,
                  "via": "gateway" if gateway else "kafka", "user_id": event["user_id"]}
        by_writer[f"{source['via']} {user_schema.relative_path}"] += 1
        expect(oracle.USER_NOTIFIER, oracle.user_notifier_outputs(event), source)
        if gateway:
            users_for_gateway.setdefault(event["user_id"], []).append(event)
        else:
            kafka_records.append((args.users_topic, event["user_id"],
                                  encode(user_schema, args.users_topic, event)))

    failures = []

    def delivered(error, _message):
        if error is not None:
            failures.append(str(error))

    client = None
    gateway_errors = []
    pool = None
    futures = []
    started = time.monotonic()
    if args.gateway:
        client = GatewayClient(args.gateway, {"orders": args.topic, "users": args.users_topic})
        pool = ThreadPoolExecutor(max_workers=args.gateway_concurrency)

        def order_lifecycle(events):
            for event in events:  # one request each, each answered before the next
                client.post("orders", [event])

        def user_history(events):
            client.post("users", events)

        # The gateway writes while the Kafka producer does: one topic, two writers.
        futures += [pool.submit(order_lifecycle, e) for e in orders_for_gateway.values()]
        futures += [pool.submit(user_history, e) for e in users_for_gateway.values()]

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 10,
        }
    )
    for topic, key, value in kafka_records:
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    if pool is not None:
        for future in futures:
            error = future.exception()
            if error is not None:
                gateway_errors.append(f"{type(error).__name__}: {error}")
        pool.shutdown()
    if remaining or failures:
        sys.exit(f"{remaining} records undelivered, {len(failures)} failed: {failures[:5]}")
    if gateway_errors:
        sys.exit(f"the gateway refused or failed {len(gateway_errors)} of {len(futures)} "
                 f"order lifecycles and user histories; the first:\n"
                 + "\n".join(gateway_errors[:5]))
    if args.gateway and not client.events["orders"]:
        sys.exit("--gateway given but no order went through it")
    if args.gateway and args.users_topic and not client.events["users"]:
        sys.exit("--gateway given but no user event went through it")
    if client is not None:
        problems = check_gateway_records(args, client)
        if problems:
            sys.exit(f"{len(problems)} of the {len(client.acknowledged)} events the gateway "
                     f"acknowledged are not in its topic as posted; the first:\n"
                     + "\n".join(problems[:5]))

    run = {
        "orders": args.orders,
        "seed": args.seed,
        "format": args.format,
        "input_events": len(order_events),
        "user_input_events": len(user_events),
        "input_by_type": dict(sorted(by_type.items())),
        "input_by_writer": dict(sorted(by_writer.items())),
        "v1_order_placed": generator.stats["v1_placed"],
        "v1_order_cancelled": generator.stats["v1_cancelled"],
        "invalid_orders": generator.stats["invalid"],
        "risky_orders": generator.stats["risky"],
        "users": generator.stats.get("users"),
        "gateway": None if client is None else {
            "url": args.gateway,
            "orders": len(orders_for_gateway),
            "order_events": client.events["orders"],
            "order_requests": client.requests["orders"],
            "users": len(users_for_gateway),
            "user_events": client.events["users"],
            "user_requests": client.requests["users"],
            "read_back_as_posted": len(client.acknowledged),
        },
        "written_in_s": round(time.monotonic() - started, 1),
        "generated_at": now,
    }
    with open(args.expected, "w", encoding="utf-8") as out:
        json.dump({"run": run, "expected": expected}, out, ensure_ascii=False)
    counts = {worker: len(outputs) for worker, outputs in expected.items()}
    from_gateway = {
        worker: sum(1 for o in outputs.values() if o["_source"]["via"] == "gateway")
        for worker, outputs in expected.items()
    }
    print(json.dumps({"produced": run, "expected_outputs": counts,
                      "expected_outputs_of_gateway_inputs": from_gateway},
                     ensure_ascii=False))


# ---- verify ----------------------------------------------------------------------------


def observed(worker, record):
    """The fields of a decoded derived event that the oracle predicts, in its shape,
    plus the problems with fields it does not predict."""
    command = worker == oracle.SAGA
    if command:
        fields = COMMAND_FIELDS
    elif worker == oracle.USER_NOTIFIER:
        fields = USER_LINEAGE_FIELDS
    else:
        fields = LINEAGE_FIELDS
    out = {k: record.get(k) for k in fields}
    problems = []
    time_field = "issued_at" if command else "produced_at"
    if not isinstance(record.get(time_field), int) or record[time_field] <= 0:
        problems.append(f"{time_field} {record.get(time_field)!r}")
    if command:
        out["command"] = record["command"]
    elif worker == oracle.STATUS:
        out.update(status=record["status"], occurred_at=record["occurred_at"])
    elif worker in (oracle.NOTIFIER, oracle.USER_NOTIFIER):
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
        """(short name of the writer's record, plain value)."""
        if data[:1] == avro_wire.CONFLUENT_MAGIC:
            if self.decoders.confluent is None:
                raise ValueError("Confluent framing but no --registry given")
            schema_id, value = self.decoders.confluent.decode(self.topic, data)
            return self.decoders.registry_name(schema_id), value
        writer, value = self.decoders.single_object.decode(data)
        return writer.name, value

    def check(self, message):
        where = f"{self.topic}[{message.partition()}]@{message.offset()}"
        try:
            name, record = self.decode(message.value() or b"")
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
        if name != oracle.RECORD_OF[self.worker]:
            problems.append(f"a {name}, expected a {oracle.RECORD_OF[self.worker]}")
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
        of_gateway = [k for k, v in self.expected.items() if v["_source"].get("via") == "gateway"]
        subject = "user_id" if self.worker == oracle.USER_NOTIFIER else "order_id"
        return {
            "expected": len(self.expected),
            "seen": self.records,
            "missing": len(missing),
            "duplicated": sum(duplicated.values()),
            "unexpected": len(self.unexpected),
            "mismatched": len(self.mismatched),
            # The outputs of the inputs the gateway wrote, expected and found.
            "gateway_expected": len(of_gateway),
            "gateway_seen": sum(1 for k in of_gateway if k in self.seen),
        }, {
            "missing": [
                {"event_id": k, "causation_id": self.expected[k]["causation_id"],
                 subject: self.expected[k][subject], "source": self.expected[k]["_source"]}
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
        self.names = {}

    def registry_name(self, schema_id):
        """Short name of the record registered under `schema_id`."""
        if schema_id not in self.names:
            self.names[schema_id] = self.confluent.schema_name(schema_id).rsplit(".", 1)[-1]
        return self.names[schema_id]


def verify(args):
    with open(args.expected, encoding="utf-8") as f:
        document = json.load(f)
    expected = document["expected"]
    run = document["run"]
    topics = dict(pair.split("=", 1) for pair in args.topics.split(","))
    # The user notices are checked when the run wrote user events, and must be then.
    wanted = [name for name, worker in TOPIC_WORKER.items() if worker in expected]
    if set(topics) != set(wanted) or len(topics) != len(args.topics.split(",")):
        sys.exit(f"--topics needs exactly {', '.join(wanted)} for this run; got {args.topics}")
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
        inputs = run["user_input_events" if check.worker == oracle.USER_NOTIFIER
                     else "input_events"]
        print(f"{check.worker:>16}: input {inputs} events, output "
              f"{counts['seen']} records, expected {counts['expected']}, of which "
              f"{counts['gateway_seen']}/{counts['gateway_expected']} from gateway-written "
              f"inputs (topic {check.topic})")
    gateway = run.get("gateway")
    if gateway:
        print(f"through the gateway: {gateway['order_events']} events of {gateway['orders']} "
              f"orders, {gateway['user_events']} events of {gateway['users']} users")
        without = [c.worker for c in checks if not summary[c.worker]["gateway_expected"]]
        if len(without) == len(checks):
            print("PROBLEM: the gateway wrote events, but no output is expected from them")
            failed = True
        elif without:
            print(f"note: no output of {', '.join(without)} comes from a gateway-written "
                  f"input in a run this small")
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
    p.add_argument("--users-topic",
                   help="also write the account events of the orders' customers here")
    p.add_argument("--gateway", help="base URL of `orderflow gateway` writing to the topics")
    p.add_argument("--gateway-every", type=int, default=10,
                   help="every K-th order and user goes through the gateway")
    p.add_argument("--gateway-concurrency", type=int, default=8,
                   help="orders and users posted at once (each one's events in order)")
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
