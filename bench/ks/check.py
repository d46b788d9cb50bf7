"""Helpers of bench/ks-check.sh (Python with confluent_kafka and fastavro, as set up by
scripts/deps.sh in .cache/venv).

  check.py topics BOOTSTRAP PARTITIONS TOPIC...      create topics
  check.py delete BOOTSTRAP TOPIC...                 delete topics
  check.py edge BOOTSTRAP TOPIC SCHEMAS_DIR          produce the edge cases; prints
                                                     "<outputs> <dead letters>" expected
  check.py compare RUST_OUT KS_OUT RUST_DLQ KS_DLQ   compare `orderflow tail` JSON lines;
      --expected N --expected-dlq M                  exit 1 on any difference

The edge cases break every rule of the order-validator (alone and together, at the
limits of 64-bit money, with Unicode in quoted values), include an OrderPlaced written
with the older OrderEvent v1 schema, events that are not OrderPlaced, and messages that
must be dead-lettered: garbage, an empty value, a tombstone, an unknown fingerprint,
trailing bytes and a truncated datum.
"""

import io
import json
import re
import sys
import time
import uuid
from collections import Counter

PRODUCED_AT_HEADER = "orderflow.produced-at-us"


def create_topics(bootstrap, partitions, topics):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    futures = admin.create_topics([NewTopic(t, int(partitions), 1) for t in topics])
    for topic, future in futures.items():
        future.result()


def delete_topics(bootstrap, topics):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    for future in admin.delete_topics(list(topics), operation_timeout=30).values():
        future.result()


# ---------------------------------------------------------------- edge cases


def _schema(schemas_dir, name, version):
    from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

    with open(f"{schemas_dir}/{name}/v{version}.avsc") as f:
        parsed = parse_schema(json.load(f), named_schemas={})
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    return parsed, b"\xc3\x01" + fp


def _encode(schema, header, record):
    from fastavro import schemaless_writer

    out = io.BytesIO()
    out.write(header)
    schemaless_writer(out, schema, record)
    return out.getvalue()


def _address(**changes):
    address = {
        "recipient": "Ada Lovelace",
        "line1": "12 Main Street",
        "line2": None,
        "city": "Berlin",
        "postal_code": "10115",
        "region": None,
        "country": "DE",
    }
    address.update(changes)
    return address


def _placed(lines=None, *, shipping=0, tax=0, discount=0, total=None, **changes):
    if lines is None:
        lines = [("SKU-00001", 2, 1250), ("SKU-00002", 1, 499)]
    items = [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]
    if total is None:
        total = sum(q * p for _, q, p in lines) + shipping + tax - discount
    order = {
        "-type": "io.orderflow.events.OrderPlaced",
        "line_items": items,
        "currency": "EUR",
        "shipping": shipping,
        "tax": tax,
        "discount": discount,
        "total": total,
        "shipping_address": _address(),
        "billing_country": "DE",
        "customer_email": "ada@example.com",
        "new_customer": False,
        "sales_channel": "WEB",
    }
    order.update(changes)
    return order


I64_MAX = 2**63 - 1


def edge_orders(now_ms):
    """(name, payload, occurred_at) of every OrderPlaced edge case."""
    long_text = "ÄÖÜ\"quoted\"\\back\tslash " + "x" * 40 + "é\u0301" + "🎉" * 5
    cases = [
        ("valid", _placed(), now_ms),
        ("valid-duplicate-skus", _placed([("SKU-1", 1, 100), ("SKU-1", 2, 100)]), now_ms),
        ("valid-free-item", _placed([("SKU-1", 1, 0)]), now_ms),
        ("valid-unicode-email", _placed(customer_email="用户@例子.广告"), now_ms),
        ("valid-idn-email", _placed(customer_email="user@हिन्दी.भारत"), now_ms),
        ("no-lines", _placed([], shipping=499, total=499), now_ms),
        ("no-lines-mismatch", _placed([], total=1), now_ms),
        ("too-many-lines", _placed([(f"SKU-{i}", 1 if i < 100 else 0, 10) for i in range(103)]), now_ms),
        ("too-many-lines-100", _placed([(f"SKU-{i}", 1, 10) for i in range(100)]), now_ms),
        ("quantities", _placed([("A", 0, 10), ("B", -5, 10), ("C", 1001, 10), ("D", 1000, 10)]), now_ms),
        ("negative-price", _placed([("A", 2, -300), ("B", 1, 500)]), now_ms),
        ("blank-skus", _placed([("", 1, 10), (" \u00a0\u3000", 1, 10), ("\u200b", 1, 10)]), now_ms),
        ("line-overflow", _placed([("A", 1000, 2**62), ("B", 1, 5)], total=0), now_ms),
        ("line-overflow-negative", _placed([("A", -1000, 2**62)], total=0), now_ms),
        ("sum-overflow", _placed([("A", 1, 5 * 10**18), ("B", 1, 5 * 10**18)], total=0), now_ms),
        ("sum-back-in-range", _placed([("A", 1, 5 * 10**18), ("B", 1, 5 * 10**18), ("C", 1, -5 * 10**18)]), now_ms),
        ("total-overflow", _placed([("A", 1, 10**18)], shipping=I64_MAX, total=5), now_ms),
        ("total-underflow", _placed([("A", 1, 10)], discount=I64_MAX, total=-(2**63)), now_ms),
        ("negative-amounts", _placed(shipping=-1, tax=-2, discount=-3, total=-4), now_ms),
        ("mismatch", _placed(shipping=499, tax=19, discount=100, total=123456), now_ms),
        ("currency-lower", _placed(currency="eur"), now_ms),
        ("currency-mixed", _placed(currency="Eur"), now_ms),
        ("currency-unknown", _placed(currency="XYZ"), now_ms),
        ("currency-withdrawn", _placed(currency="HRK"), now_ms),
        ("currency-empty", _placed(currency=""), now_ms),
        ("currency-symbol", _placed(currency="€"), now_ms),
        ("currency-long", _placed(currency=long_text), now_ms),
        ("currency-controls", _placed(currency="E\x00U\x1bR\n\u200d\u00ad\ufeff"), now_ms),
        ("country-lower", _placed(shipping_address=_address(country="de")), now_ms),
        ("country-reserved", _placed(shipping_address=_address(country="UK"), billing_country="XK"), now_ms),
        ("country-empty", _placed(shipping_address=_address(country=""), billing_country="deu"), now_ms),
        ("billing-lower", _placed(billing_country="gb"), now_ms),
        ("future", _placed(), now_ms + 24 * 3600 * 1000),
        ("future-max", _placed(), I64_MAX),
        ("past", _placed(), 0),
        ("empty-address", _placed(shipping_address=_address(recipient="", line1=" ", city="\t\n", postal_code="\u2007")), now_ms),
        ("postal-blank-only", _placed(shipping_address=_address(postal_code="  ")), now_ms),
        (
            "everything",
            _placed(
                [("", 0, -1), ("X", 2000, 10)],
                shipping=-5,
                tax=-1,
                discount=-2,
                total=-9,
                currency="usd",
                shipping_address=_address(recipient="", line1="", city="", postal_code="", country="us"),
                billing_country="U",
                customer_email="not-an-email",
            ),
            now_ms + 10**9,
        ),
    ]
    emails = [
        "", "ada.example.com", "ada@@example.com", "a@b@example.com", "@example.com", "ada@",
        "ada@localhost", "ada @example.com", "ada@example.com\n", "ada\u00a0x@example.com",
        ".ada@example.com", "ada.@example.com", "a..da@example.com", 'a"da@example.com',
        "a(da)@example.com", "ada@.example.com", "ada@example.com.", "ada@example..com",
        "ada@-example.com", "ada@example-.com", "ada@exam_ple.com", "ada@example。com",
        "ada@exa…mple.com", "ada@[127.0.0.1]", "ada@example.c", "ada@10.0.0.12", "ada@1.2.3.4",
        "a" * 65 + "@example.com", "a@" + "b" * 250 + ".com", "ä" * 33 + "@example.com",
        "ユーザー@example.jp", "o'brien@example.ie", "x@a-b.io", "user@xn--bcher-kva.example",
        "user@ex\u200dample.com", "user@ex\u0301ample.com", "us\u2028er@example.com",
        "a" * 70 + "@" + "é" * 10,
    ]
    for i, email in enumerate(emails):
        cases.append((f"email-{i}", _placed(customer_email=email), now_ms))
    return cases


def produce_edge(bootstrap, topic, schemas_dir):
    from confluent_kafka import Producer

    v2, v2_header = _schema(schemas_dir, "OrderEvent", 2)
    v1, v1_header = _schema(schemas_dir, "OrderEvent", 1)
    now_ms = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    outputs = 0
    dead = 0
    run = uuid.uuid4().hex[:8]

    def send(key, value):
        headers = [(PRODUCED_AT_HEADER, str(int(time.time() * 1_000_000)).encode())]
        producer.produce(topic, key=key.encode(), value=value, headers=headers)

    def event(order_id, payload, occurred_at, source="shop-frontend"):
        return {
            "event_id": str(uuid.uuid4()),
            "order_id": order_id,
            "customer_id": "cus-00042",
            "occurred_at": occurred_at,
            "source": source,
            "payload": payload,
        }

    for name, payload, occurred_at in edge_orders(now_ms):
        order_id = f"ord-edge-{run}-{name}"
        send(order_id, _encode(v2, v2_header, event(order_id, payload, occurred_at)))
        outputs += 1

    # An OrderPlaced written with the older schema (no sales_channel).
    old = _placed(currency="eur")
    del old["sales_channel"]
    order_id = f"ord-edge-{run}-v1-writer"
    send(order_id, _encode(v1, v1_header, event(order_id, old, now_ms)))
    outputs += 1

    # Not OrderPlaced: no output.
    order_id = f"ord-edge-{run}-payment"
    payment = {
        "-type": "io.orderflow.events.PaymentAuthorized",
        "payment_id": "pay-1",
        "amount": 100,
        "currency": "EUR",
        "method": "card",
    }
    send(order_id, _encode(v2, v2_header, event(order_id, payment, now_ms, "payment-service")))

    # Dead letters.
    good = _encode(v2, v2_header, event(f"ord-edge-{run}-dead", _placed(), now_ms))
    marked = _encode(v2, v2_header, event(f"ord-edge-{run}-dead", _placed(), now_ms, source="@@@@"))
    bad = {
        "invalid-utf8": marked.replace(b"@@@@", b"\xff\xfe\xc3\x28"),
        "garbage": b"not avro",
        "empty": b"",
        "unknown-fingerprint": b"\xc3\x01" + bytes(8) + good[10:],
        "trailing-bytes": good + b"\x00",
        "truncated": good[: len(good) // 2],
        "short-header": b"\xc3\x01\x01\x02",
    }
    for name, value in bad.items():
        send(f"ord-edge-{run}-dead-{name}", value)
        dead += 1
    producer.produce(topic, key=f"ord-edge-{run}-dead-tombstone".encode(), value=None)
    dead += 1

    if producer.flush(30) != 0:
        raise SystemExit("edge cases: not every message was delivered")
    print(outputs, dead)


# ---------------------------------------------------------------- compare

FUTURE = re.compile(r"is -?\d+ ms ahead of now \(\d+\)")


def _normal_message(code, message):
    # The clock-dependent part of FUTURE_TIMESTAMP differs between two workers.
    return FUTURE.sub("is <d> ms ahead of now (<now>)", message) if code == "FUTURE_TIMESTAMP" else message


def _read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _header(line, name):
    """The last value of header `name` of a record as `orderflow tail` prints it."""
    values = [h.get("value") for h in line["headers"] if h.get("key") == name]
    return values[-1] if values else None


def _verdict(value):
    # A union other than [null, T] is {"<branch>": value} in the JSON form.
    ((_, result),) = value["result"].items()
    if "reasons" in result:
        return "rejected", [
            (r["code"], r["field"], _normal_message(r["code"], r["message"])) for r in result["reasons"]
        ]
    return "validated", (result["total"], result["currency"], result["line_count"])


def compare(rust_out, ks_out, rust_dlq, ks_dlq, expected, expected_dlq):
    problems = []

    def problem(text):
        problems.append(text)

    sides = {}
    for side, path in (("rust", rust_out), ("ks", ks_out)):
        lines = _read(path)
        by_cause = {}
        for line in lines:
            value = line.get("value")
            if not isinstance(value, dict):
                problem(f"{side}: undecodable output at {line['partition']}/{line['offset']}: {line.get('error')}")
                continue
            cause = value["causation_id"]
            if cause in by_cause:
                problem(f"{side}: duplicate output for source event {cause}")
            by_cause[cause] = line
        if len(lines) != expected:
            problem(f"{side}: {len(lines)} outputs, expected {expected}")
        sides[side] = by_cause

    rust, ks = sides["rust"], sides["ks"]
    for cause in sorted(set(rust) - set(ks)):
        problem(f"ks: no output for source event {cause} (order {rust[cause]['value']['order_id']})")
    for cause in sorted(set(ks) - set(rust)):
        problem(f"rust: no output for source event {cause} (order {ks[cause]['value']['order_id']})")

    verdicts = Counter()
    codes = Counter()
    fingerprints = Counter()
    compared = 0
    for cause in sorted(set(rust) & set(ks)):
        r, k = rust[cause], ks[cause]
        rv, kv = r["value"], k["value"]
        compared += 1
        where = f"source event {cause} (order {rv['order_id']})"
        for field in ("event_id", "order_id", "customer_id", "worker", "worker_version"):
            if rv[field] != kv[field]:
                problem(f"{where}: {field} rust={rv[field]!r} ks={kv[field]!r}")
        if k.get("key") != kv["order_id"]:
            problem(f"{where}: ks key {k['key']!r} is not the order id")
        if r["schema"] != k["schema"]:
            problem(f"{where}: writer schema rust={r['schema']} ks={k['schema']}")
        fingerprints[k["schema"]] += 1
        rh, kh = _header(r, PRODUCED_AT_HEADER), _header(k, PRODUCED_AT_HEADER)
        if rh is None or rh != kh:
            problem(f"{where}: header {PRODUCED_AT_HEADER} rust={rh!r} ks={kh!r}")
        if abs(kv["produced_at"] - time.time() * 1000) > 3600_000:
            problem(f"{where}: ks produced_at {kv['produced_at']} is not now")
        r_verdict, k_verdict = _verdict(rv), _verdict(kv)
        if r_verdict != k_verdict:
            problem(f"{where}:\n    rust {r_verdict}\n    ks   {k_verdict}")
        verdicts[r_verdict[0]] += 1
        if r_verdict[0] == "rejected":
            for code, _, _ in r_verdict[1]:
                codes[code] += 1

    dead = {}
    for side, path in (("rust", rust_dlq), ("ks", ks_dlq)):
        lines = _read(path)
        if len(lines) != expected_dlq:
            problem(f"{side}: {len(lines)} dead letters, expected {expected_dlq}")
        dead[side] = Counter(
            (line.get("key"), line.get("value_base64"), json.dumps(line.get("value"), sort_keys=True)) for line in lines
        )
    notes = []
    if dead["rust"] != dead["ks"]:
        # The Rust runtime writes a dead letter's value as bytes, never null: the dead
        # letter of a tombstone has an empty value there, Kafka Streams keeps the null.
        def no_tombstones(letters):
            return Counter({(k, "" if b is None and v == "null" else b, v): n for (k, b, v), n in letters.items()})

        if no_tombstones(dead["rust"]) == no_tombstones(dead["ks"]):
            tombstones = sorted(k for (k, b, v) in dead["ks"] if b is None and v == "null")
            notes.append(
                f"tombstones {tombstones}: the Rust dead letter has an empty value, the Kafka Streams one a "
                "null value (the original); counted as equal"
            )
            dead["ks"] = dead["rust"]
    if dead["rust"] != dead["ks"]:
        problem(
            "dead letters differ (key, original value):\n    rust only "
            f"{sorted((dead['rust'] - dead['ks']).elements())}\n    ks only   {sorted((dead['ks'] - dead['rust']).elements())}"
        )

    print(f"outputs compared: {compared} (expected {expected}): {dict(verdicts)}")
    print("reason codes: " + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())))
    print(f"writer schemas: {dict(fingerprints)}")
    print(f"dead letters: rust {sum(dead['rust'].values())}, ks {sum(dead['ks'].values())} (expected {expected_dlq})")
    for note in notes:
        print("NOTE " + note)
    if problems:
        for p in problems[:50]:
            print("DIFF " + p)
        if len(problems) > 50:
            print(f"... and {len(problems) - 50} more differences")
        print(f"ks-check: FAILED, {len(problems)} differences")
        return 1
    print("ks-check: OK, Kafka Streams and Rust outputs agree")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "topics":
        create_topics(argv[1], argv[2], argv[3:])
        return 0
    if len(argv) >= 2 and argv[0] == "delete":
        delete_topics(argv[1], argv[2:])
        return 0
    if len(argv) == 4 and argv[0] == "edge":
        produce_edge(argv[1], argv[2], argv[3])
        return 0
    if len(argv) == 9 and argv[0] == "compare" and argv[5] == "--expected" and argv[7] == "--expected-dlq":
        return compare(argv[1], argv[2], argv[3], argv[4], int(argv[6]), int(argv[8]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
