#!/usr/bin/env python3
"""Proves a Kafka cluster usable before a test run relies on it.

    kafka-probe.py BOOTSTRAP_SERVERS [--timeout SECONDS]

Creates a topic, writes one record with acks=all, reads it back, and deletes the
topic, each step bounded, with confluent-kafka (an independent client). A broker
whose port is open but which no client can use (a wrong address, a listener that
does not answer, a controller that never unfenced it) fails here, once, with the
step and the client's error, instead of as one time-out per test.

Exit status: 0 when every step worked, 1 with a one-line reason otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}(,[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5})*$")


def fail(step: str, reason: object) -> None:
    print(f"kafka-probe: {step} failed: {reason}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    if not BOOTSTRAP.match(args.bootstrap):
        fail("reading the bootstrap address", f"{args.bootstrap!r} is not host:port[,host:port...]")
    timeout = args.timeout
    # The client's own log would repeat each refused connection; the step that failed
    # and its error say it once.
    common = {"bootstrap.servers": args.bootstrap, "socket.timeout.ms": int(timeout * 1000), "log_level": 0}
    topic = f"orderflow-probe-{uuid.uuid4().hex}"
    admin = AdminClient(common)

    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as error:
        fail("reading cluster metadata", error)
    brokers = len(metadata.brokers)
    replication = min(brokers, 3)

    try:
        futures = admin.create_topics(
            [NewTopic(topic, num_partitions=1, replication_factor=replication)],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        futures[topic].result(timeout=timeout)
    except Exception as error:  # noqa: BLE001 - any failure is the probe's answer
        fail(f"creating topic {topic}", error)

    try:
        value = uuid.uuid4().bytes
        producer = Producer({**common, "acks": "all", "message.timeout.ms": int(timeout * 1000)})
        delivered: list[object] = []
        producer.produce(topic, key=b"probe", value=value, on_delivery=lambda e, m: delivered.append(e or m))
        if producer.flush(timeout) > 0 or not delivered:
            fail("writing a record", f"not acknowledged within {timeout:.0f} s")
        if not hasattr(delivered[0], "offset"):
            fail("writing a record", delivered[0])

        consumer = Consumer({**common, "group.id": topic, "enable.auto.commit": False,
                             "isolation.level": "read_committed"})
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + timeout
        read = None
        while read is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                fail("reading the record back", message.error())
            read = message.value()
        consumer.close()
        if read != value:
            fail("reading the record back", f"nothing read within {timeout:.0f} s" if read is None else "another value")
    finally:
        try:
            admin.delete_topics([topic], operation_timeout=timeout, request_timeout=timeout)[topic].result(timeout=timeout)
        except Exception as error:  # noqa: BLE001
            fail(f"deleting topic {topic}", error)

    print(f"kafka-probe: {args.bootstrap}: {brokers} broker(s); created, wrote, read and deleted {topic}")


if __name__ == "__main__":
    main()
