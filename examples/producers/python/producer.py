#!/usr/bin/env python3
"""Writes OrderPlaced events for the orderflow workers with confluent-kafka.

Without --registry-url every value is Avro single-object encoded: C3 01, the 8-byte
CRC-64-AVRO fingerprint of the schema (little-endian), then the Avro datum. The workers
find that fingerprint among the schemas of the repository's schemas/ folder: no schema
registry is involved.

With --registry-url, confluent-kafka's AvroSerializer registers the schema under the
subject <topic>-value and frames every value the Confluent way: 00, the 4-byte schema
id, then the datum. Start the workers with the same --schema-registry-url.

Each acknowledged event is printed as one line:
    delivered order_id=... event_id=... partition=... offset=...
"""

import argparse
import io
import json
import pathlib
import sys
import time
import uuid

import fastavro
from confluent_kafka import Producer

# The contract is the .avsc file in the repository, never a copy of it.
SCHEMA = pathlib.Path(__file__).resolve().parents[3] / "schemas" / "OrderEvent" / "v2.avsc"


def order_placed(source):
    """One OrderPlaced event that the order-validator accepts."""
    lines = [
        {"sku": "SKU-1001", "quantity": 2, "unit_price": 1999},
        {"sku": "SKU-2002", "quantity": 1, "unit_price": 4500},
    ]
    shipping, tax, discount = 495, 0, 0
    total = sum(l["quantity"] * l["unit_price"] for l in lines) + shipping + tax - discount
    return {
        "event_id": str(uuid.uuid4()),
        "order_id": f"ord-{uuid.uuid4()}",
        "customer_id": "cus-42",
        "occurred_at": int(time.time() * 1000),
        "source": source,
        # A union branch that is a record is named by its full name (fastavro's tuple
        # notation), so the writer never has to guess it from the fields.
        "payload": (
            "io.orderflow.events.OrderPlaced",
            {
                "line_items": lines,
                "currency": "EUR",
                "shipping": shipping,
                "tax": tax,
                "discount": discount,
                "total": total,
                "shipping_address": {
                    "recipient": "Ada Lovelace",
                    "line1": "Hauptstraße 1",
                    "line2": None,
                    "city": "Berlin",
                    "postal_code": "10115",
                    "region": None,
                    "country": "DE",
                },
                "billing_country": "DE",
                "customer_email": "ada@example.com",
                "new_customer": False,
                "sales_channel": "WEB",
            },
        ),
    }


def single_object_serializer(schema_text):
    schema = fastavro.parse_schema(json.loads(schema_text))
    canonical_form = fastavro.schema.to_parsing_canonical_form(schema)
    # fastavro returns the fingerprint as the hex of its little-endian bytes: exactly
    # the 8 bytes the header carries.
    fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical_form, "CRC-64-AVRO"))

    def serialize(event):
        out = io.BytesIO()
        out.write(b"\xc3\x01" + fingerprint)
        fastavro.schemaless_writer(out, schema, event)
        return out.getvalue()

    return serialize


def confluent_serializer(schema_text, registry_url, topic):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serializer = AvroSerializer(SchemaRegistryClient({"url": registry_url}), schema_text)
    context = SerializationContext(topic, MessageField.VALUE)
    return lambda event: serializer(event, context)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="orders.lifecycle")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--registry-url", help="Confluent-compatible schema registry")
    parser.add_argument("--schema", type=pathlib.Path, default=SCHEMA)
    args = parser.parse_args()

    schema_text = args.schema.read_text(encoding="utf-8")
    if args.registry_url:
        serialize = confluent_serializer(schema_text, args.registry_url, args.topic)
    else:
        serialize = single_object_serializer(schema_text)

    # Idempotence (with acks=all, which it implies) keeps retries from writing an
    # event twice or out of order.
    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True})
    failures = []

    def report(event):
        def delivered(error, message):
            if error is not None:
                failures.append(f"{event['order_id']}: {error}")
                return
            print(
                f"delivered order_id={event['order_id']} event_id={event['event_id']} "
                f"partition={message.partition()} offset={message.offset()}",
                flush=True,
            )

        return delivered

    for _ in range(args.count):
        event = order_placed(source="python-example")
        # The key is the order id: every event of one order lands in one partition, in
        # order.
        producer.produce(
            args.topic,
            key=event["order_id"].encode(),
            value=serialize(event),
            on_delivery=report(event),
        )
        producer.poll(0)
    unsent = producer.flush(30)
    if failures or unsent:
        sys.exit(f"not delivered: {failures or f'{unsent} events after 30 s'}")


if __name__ == "__main__":
    main()
